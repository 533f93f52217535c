//! The sections that stand beside the findings: the exceptions the pack accepts FAILs by, and the
//! evidence gaps (resources outside the scope, regions a policy blocks, calls that gave no usable
//! evidence), the gaps grouped by kind.

use super::{paragraph, row, section, table};
use crate::assess::{Assessment, ExceptionState, Status};
use crate::evidence::{gap_advice, gap_kinds};
use crate::report::document::{Block, Cell, Style, Text};

/// Gaps shown of each kind; the others are counted (every one is in the pack and the JSON report).
const EXAMPLES: usize = 3;

/// The pack's exceptions and what became of each: only in the reports of a pack that has them.
pub(super) fn exceptions(a: &Assessment, out: &mut dyn FnMut(Block)) {
    let Some(report) = &a.exceptions else {
        return;
    };
    out(section("exceptions", "Accepted exceptions", false));
    out(paragraph(
        Text::plain("From the pack's ")
            .add(Style::Code, "exceptions.toml")
            .and(" (SHA-256 ")
            .add(Style::Code, report.sha256.as_str())
            .and(format!(
                "), judged on {}, the day the evidence was collected. An exception accepts the \
                 FAILs it names until its expiry: they stay FAIL, and no longer fail the run. An \
                 expired exception accepts nothing; UNKNOWN is never accepted.",
                report
                    .judged_on
                    .as_deref()
                    .unwrap_or("no known day (so none is in force)")
            )),
    ));
    let rows = report.exceptions.iter().map(|e| {
        let tone = match e.state {
            ExceptionState::Applied => Status::Pass,
            ExceptionState::Unmatched => Status::Unknown,
            ExceptionState::Expired => Status::Fail,
        };
        let mut justification = Text::plain(e.justification.as_str());
        for (field, value) in &e.extra {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            justification = justification.and(format!("\n{field}: {value}"));
        }
        let ticket = e
            .ticket
            .as_deref()
            .map(|t| format!("\n{t}"))
            .unwrap_or_default();
        row(vec![
            format!("#{}", e.index).into(),
            Cell::from(e.state.as_str()).tone(tone),
            Text::code(e.scope()).into(),
            format!("{}\nuntil {}{ticket}", e.approver, e.expires).into(),
            justification.into(),
            format!("{} matched\n{} accepted", e.matched, e.accepted).into(),
        ])
    });
    out(table(
        &[
            "#",
            "State",
            "Names",
            "Approver, expiry, ticket",
            "Justification",
            "FAILs",
        ],
        &[0.4, 1.1, 2.6, 2.0, 2.6, 1.1],
        rows.collect(),
    ));
}

/// What could not be asked or answered: resources outside the scope, regions a policy blocks, and
/// calls that gave no usable evidence.
pub(super) fn gaps(a: &Assessment, out: &mut dyn FnMut(Block)) {
    out(section("gaps", "Evidence gaps", false));
    let s = &a.summary;
    if !s.outside_scope.is_empty() {
        out(paragraph(
            "These keys and buckets belong to accounts outside the run's scope: nothing was asked \
             about them, so the checks that need them are UNKNOWN.",
        ));
        let rows = s.outside_scope.iter().map(|o| {
            row(vec![
                Text::code(o.resource.as_str()).into(),
                o.kind.as_str().into(),
                o.owner.as_deref().unwrap_or("not published").into(),
                o.advice().into(),
            ])
        });
        out(table(
            &["Resource", "Kind", "Owner", "What to do"],
            &[2.6, 1.0, 1.2, 4.0],
            rows.collect(),
        ));
    }
    if !s.regions_blocked.is_empty() {
        out(paragraph(
            "Blocked by policy (an explicit deny, such as an SCP denying the region), with every \
             trail of the account listed by another region: not gaps.",
        ));
        let rows = s.regions_blocked.iter().map(|b| {
            row(vec![
                Text::code(b.account_id.as_str()).into(),
                b.region.as_str().into(),
                b.reason.as_str().into(),
            ])
        });
        out(table(
            &["Account", "Region", "What happened"],
            &[1.4, 1.2, 6.2],
            rows.collect(),
        ));
    }
    if a.gaps.is_empty() {
        out(paragraph("None: every call gave usable evidence."));
        return;
    }
    let kinds = gap_kinds(&a.gaps);
    out(paragraph(format!(
        "{} call(s) gave no usable evidence, of {} kind(s) (an operation failing with one error \
         code), the commonest first. Checks that depend on them are UNKNOWN. Every gap, with its \
         full message, is in the pack's pack.json and in findings.json (\"gaps\").",
        a.gaps.len(),
        kinds.len()
    )));
    let rows = kinds.iter().map(|kind| {
        let mut examples = Text::default();
        for (i, gap) in kind.gaps.iter().take(EXAMPLES).enumerate() {
            if i > 0 {
                examples = examples.and("\n");
            }
            examples = examples
                .add(Style::Code, gap.resource.as_str())
                .and(format!(" in {}", gap.region));
            if let Some(account) = &gap.account {
                examples = examples.and(format!(" ({account})"));
            }
            examples = examples.and(format!(": {}", gap.message));
        }
        if kind.gaps.len() > EXAMPLES {
            examples = examples.add(
                Style::Emphasis,
                format!("\nand {} more", kind.gaps.len() - EXAMPLES),
            );
        }
        row(vec![
            Text::code(format!("{}:{}", kind.service, kind.operation))
                .and("\n")
                .add(Style::Code, kind.error_code)
                .into(),
            format!(
                "{}\nin {} account(s), {} region(s)",
                kind.gaps.len(),
                kind.accounts(),
                kind.regions()
            )
            .into(),
            examples.into(),
            gap_advice(kind.gaps[0], a.pack.endpoint_url.as_deref()).into(),
        ])
    });
    out(table(
        &["Operation and error", "Gaps", "Examples", "What to do"],
        &[1.9, 1.3, 3.6, 3.0],
        rows.collect(),
    ));
}
