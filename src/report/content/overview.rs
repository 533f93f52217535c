//! The sections about the whole pack: the cover, the executive summary with its status chart and
//! its tables by account and by trail, and the control mapping with the rule's text and the checks.

use super::digest::{CheckTally, Digest};
use super::{link, or_dash, paragraph, row, section, subheading, table};
use crate::assess::{AccountSummary, Assessment, Status};
use crate::config::{catalogue, Subject};
use crate::report::document::{Bar, Block, Cell, Link, Row, Span, Style, Text};
use crate::report::{account_evidence, unlisted_warning};

/// The first page: which rule, which pack, collected how.
pub(super) fn cover(a: &Assessment, out: &mut dyn FnMut(Block)) {
    let (pack, mapping) = (&a.pack, &a.mapping);
    out(Block::Section {
        id: "cover",
        heading: None,
        new_page: false,
    });
    out(paragraph(format!(
        "{} · {} · CIS Controls v7 {} “{}” · rule {}",
        mapping.primary_cis_aws(),
        mapping.cce,
        mapping.cis_v7.control,
        mapping.cis_v7.title,
        a.rule.id
    )));
    let account_label = if a.summary.accounts.len() > 1 {
        "Caller's account"
    } else {
        "AWS account"
    };
    let in_scope = a.summary.accounts.iter().filter(|r| r.in_scope).count();
    let mut pairs: Vec<(String, Text)> = vec![
        (account_label.into(), pack.account_id.as_str().into()),
        (
            "Accounts in scope".into(),
            format!(
                "{in_scope} ({} not collected)",
                a.summary.accounts_not_collected
            )
            .into(),
        ),
        ("Collected by".into(), pack.caller_arn.as_str().into()),
        (
            "Regions".into(),
            format!("{} ({})", pack.regions.join(", "), pack.regions_source).into(),
        ),
        (
            "Collection window".into(),
            format!("{} – {}", pack.started_at, pack.finished_at).into(),
        ),
        (
            "Period proven".into(),
            match &a.period {
                Some(p) => format!(
                    "{} – {} ({}), from CloudTrail Event history",
                    p.start,
                    p.end,
                    super::period::source_words(p)
                ),
                None => {
                    "the collection day only (collected without CloudTrail Event history)".into()
                }
            }
            .into(),
        ),
        ("Tool".into(), pack.tool_version.as_str().into()),
        ("Pack id".into(), Text::code(pack.pack_id.as_str())),
        (
            "Record chain head".into(),
            Text::code(format!("{} ({} records)", pack.chain_head, pack.records)),
        ),
    ];
    if let Some(endpoint) = &pack.endpoint_url {
        pairs.push((
            "Endpoint".into(),
            format!("{endpoint} (not the public AWS endpoint)").into(),
        ));
    }
    out(Block::KeyValues { pairs });
    if !pack.complete {
        out(Block::Note {
            text: Text::plain(format!(
                "The pack has {} evidence gap(s): checks that depend on them are UNKNOWN, never \
                 PASS. See ",
                a.summary.gaps
            ))
            .then(link("Evidence gaps", Link::Anchor("gaps".into())))
            .and("."),
        });
    }
}

/// The period's verdicts counted, for the executive summary, when the pack has Event history.
fn period_summary(a: &Assessment, digest: &Digest, out: &mut dyn FnMut(Block)) {
    let Some(p) = &a.period else {
        return;
    };
    let tally = |id: &str| {
        (digest.checks.iter())
            .find(|c| c.id == id)
            .map(|c| c.counts.clone())
            .unwrap_or_default()
    };
    let (t, acc) = (
        tally("cloudtrail-kms-encryption-period"),
        tally("account-cloudtrail-kms-coverage-period"),
    );
    out(paragraph(
        Text::plain(format!("Over the period {} to {} ", p.start, p.end))
            .and("(from CloudTrail Event history, see ")
            .then(link("Changes in the period", Link::Anchor("period".into())))
            .and("): the rule ")
            .add(
                Style::Strong,
                format!("held throughout for {} trail(s)", t.pass),
            )
            .and(", ")
            .add(Style::Strong, format!("did not for {}", t.fail))
            .and(format!(
                " and cannot be told for {}; per account it held throughout for {}, did not for {} \
                 and cannot be told for {}.",
                t.unknown, acc.pass, acc.fail, acc.unknown
            )),
    ));
}

/// The verdicts counted, the status chart, each check's verdicts, and a row per account.
pub(super) fn summary(a: &Assessment, digest: &Digest, out: &mut dyn FnMut(Block)) {
    let s = &a.summary;
    out(section("summary", "Executive summary", false));
    out(paragraph(
        Text::plain(format!("{} trail(s) assessed. The rule ", s.trails))
            .add(Style::Strong, format!("passes for {}", s.rule.pass))
            .and(", ")
            .add(Style::Strong, format!("fails for {}", s.rule.fail))
            .and(format!(
                " and could not be decided for {}; per account it passes for {}, fails for {} and \
                 could not be decided for {}. Across all {} checks: {} PASS, {} FAIL ({} of them \
                 supporting), {} UNKNOWN, {} not applicable.",
                s.rule.unknown,
                s.account_rule.pass,
                s.account_rule.fail,
                s.account_rule.unknown,
                s.checks.total(),
                s.checks.pass,
                s.checks.fail,
                s.supporting_failures,
                s.checks.unknown,
                s.checks.not_applicable
            )),
    ));
    period_summary(a, digest, out);
    if let Some(warning) = unlisted_warning(a) {
        out(Block::Note {
            text: warning.into(),
        });
    }
    if a.exceptions.is_some() {
        out(Block::Note {
            text: Text::plain(format!(
                "{} FAIL(s) are accepted by exceptions ({} trail(s) and {} account(s) fail the \
                 rule only through accepted FAILs): they stay FAIL in every table, marked \
                 “accepted”, and do not make ",
                s.accepted.checks, s.accepted.rule, s.accepted.account_rule
            ))
            .add(Style::Code, "auditpack assess")
            .and(" exit 5. See ")
            .then(link(
                "Accepted exceptions",
                Link::Anchor("exceptions".into()),
            ))
            .and("."),
        });
    }
    let bar = |label: &str, value, tone| Bar {
        label: label.into(),
        value,
        tone: Some(tone),
    };
    out(Block::BarChart {
        bars: vec![
            bar("PASS", s.checks.pass, Status::Pass),
            bar("FAIL", s.checks.fail, Status::Fail),
            bar("UNKNOWN", s.checks.unknown, Status::Unknown),
            bar("N/A", s.checks.not_applicable, Status::NotApplicable),
        ],
    });
    out(subheading("By control", Some("controls".into())));
    out(paragraph(
        "Each check's verdicts over the trails or accounts it judges; the problems behind every \
         FAIL and UNKNOWN follow the evidence gaps.",
    ));
    out(table(
        &[
            "Check", "Role", "CIS AWS", "Judges", "PASS", "FAIL", "UNKNOWN", "N/A",
        ],
        &[3.0, 1.0, 1.0, 1.1, 0.7, 0.9, 1.0, 0.6],
        digest.checks.iter().map(control_row).collect(),
    ));
    let primary_cis = a.mapping.primary_cis_aws();
    out(subheading("By account", Some("accounts".into())));
    out(table(
        &[
            "Account",
            "Name",
            "Evidence",
            &format!("{primary_cis} for the account"),
            "Trails owned",
            "PASS",
            "FAIL",
            "UNKNOWN",
            "Gaps",
        ],
        &[1.5, 1.8, 1.5, 1.3, 0.8, 0.7, 0.7, 1.1, 0.7],
        s.accounts.iter().map(account_row).collect(),
    ));
}

/// A row of the per-account table.
fn account_row(r: &AccountSummary) -> Row {
    let id = match r.coverage {
        Some(_) => Text(vec![Span::new(r.account_id.as_str(), Style::Code)
            .linked(Link::Anchor(format!("account-{}", r.account_id)))]),
        None => Text::code(r.account_id.as_str()),
    };
    let mut evidence = Cell::from(account_evidence(r));
    if !r.collected || !r.regions_not_listed.is_empty() {
        evidence = evidence.tone(Status::Unknown);
    }
    let coverage = match r.coverage {
        Some(status) => Cell::from(status.as_str()).tone(status),
        None => Cell::from("outside scope"),
    };
    row(vec![
        id.into(),
        or_dash(r.name.as_deref()),
        evidence,
        coverage,
        r.trails.to_string().into(),
        r.rule.pass.to_string().into(),
        r.rule.fail.to_string().into(),
        r.rule.unknown.to_string().into(),
        r.gaps.to_string().into(),
    ])
}

/// A row of the per-control table: a check's verdicts counted.
fn control_row(c: &CheckTally) -> Row {
    let info = catalogue().checks.iter().find(|i| i.id == c.id);
    let mut check = Text::code(c.id.as_str());
    if let Some(info) = info {
        check = check.and(format!("\n{}", info.title));
    }
    let judges = match c.subject {
        Subject::Trail => "trails",
        Subject::Account => "accounts",
    };
    let count = |n: u64, status: Status| {
        let cell = Cell::from(n.to_string());
        if n > 0 {
            cell.tone(status)
        } else {
            cell
        }
    };
    let mut fail = count(c.counts.fail, Status::Fail);
    if c.accepted > 0 {
        fail.text = fail
            .text
            .add(Style::Emphasis, format!("\n{} accepted", c.accepted));
    }
    row(vec![
        check.into(),
        c.role.as_str().into(),
        info.map_or("—", |i| i.cis_aws.as_str()).into(),
        judges.into(),
        count(c.counts.pass, Status::Pass),
        fail,
        count(c.counts.unknown, Status::Unknown),
        count(c.counts.not_applicable, Status::NotApplicable),
    ])
}

/// What "rule" and "supporting" mean, shown with the checks.
fn check_roles() -> Text {
    Text::plain("A ")
        .add(Style::Strong, "rule")
        .and(" check's FAIL fails the rule for its trail or account (and makes ")
        .add(Style::Code, "auditpack assess")
        .and(" exit 5); a ")
        .add(Style::Strong, "supporting")
        .and(" check is advisory (it fails ")
        .add(Style::Code, "assess")
        .and(" only with ")
        .add(Style::Code, "--strict")
        .and(").")
}

/// The controls the rule maps to, the rule's own text, and the checks.
pub(super) fn mapping(a: &Assessment, out: &mut dyn FnMut(Block)) {
    let m = &a.mapping;
    out(section("mapping", "Control mapping", true));
    let pair = |framework: &str, control: String| row(vec![framework.into(), control.into()]);
    let mut v7 = format!("{} {}", m.cis_v7.control, m.cis_v7.title);
    for sub in &m.cis_v7_sub {
        v7.push_str(&format!("\n{} {}", sub.id, sub.title));
    }
    let rows: Vec<Row> = (m.cis_aws.iter())
        .map(|c| pair(&format!("{} {}", c.benchmark, c.version), c.control.clone()))
        .chain([pair("CCE", m.cce.clone()), pair("CIS Controls v7", v7)])
        .chain((m.cis_v8.iter()).map(|c| pair("CIS Controls v8", format!("{} {}", c.id, c.title))))
        .chain(
            (m.nist_800_53_r5.iter())
                .map(|c| pair("NIST SP 800-53 Rev. 5", format!("{} {}", c.id, c.title))),
        )
        .chain((m.equivalents.iter()).map(|e| pair("Equivalent check", e.clone())))
        .collect();
    out(table(&["Framework", "Control"], &[1.0, 2.0], rows));
    for (title, text) in [
        ("Description", &a.rule.description),
        ("Rationale", &a.rule.rationale),
        ("Impact", &a.rule.impact),
        ("Default value", &a.rule.default_value),
    ] {
        out(subheading(title, None));
        out(paragraph(text.as_str()));
    }
    out(subheading("Remediation", None));
    out(Block::List {
        ordered: true,
        items: a
            .rule
            .remediation
            .iter()
            .map(|s| s.as_str().into())
            .collect(),
    });
    out(subheading("References", None));
    let mut references: Vec<Text> = (a.rule.references.iter())
        .map(|r| Text::plain(format!("{}: ", r.title)).then(web_link(&r.url)))
        .collect();
    references.push(m.cce.as_str().into());
    out(Block::List {
        ordered: false,
        items: references,
    });
    out(subheading("Checks", None));
    out(paragraph(check_roles()));
    let checks = catalogue().checks.iter().map(|c| {
        let mut title = Text::plain(c.title.as_str());
        if c.primary {
            title = title.add(Style::Strong, " (the rule)");
        }
        let judges = match c.subject {
            Subject::Trail => "each trail",
            Subject::Account => "each account",
        };
        row(vec![
            Text::code(c.id.as_str()).into(),
            title.into(),
            c.role.as_str().into(),
            judges.into(),
            c.cis_aws.as_str().into(),
            c.cis_v7.as_str().into(),
        ])
    });
    out(table(
        &[
            "Check id",
            "What it verifies",
            "Role",
            "Judges",
            "CIS AWS",
            "CIS v7",
        ],
        &[2.2, 3.0, 1.1, 1.2, 1.4, 0.8],
        checks.collect(),
    ));
}

/// A reference's address: a link when it is a web address (the page follows nothing else).
fn web_link(url: &str) -> Span {
    let span = Span::new(url, Style::Plain);
    if url.starts_with("https://") {
        span.linked(Link::Web(url.to_string()))
    } else {
        span
    }
}
