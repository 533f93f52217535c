//! `report.html`: one self-contained, printable page rendered with tera (autoescape on), with inline
//! CSS and an inline SVG chart; nothing is fetched from the network.

use super::{Integrity, ReportError};
use crate::assess::Assessment;
use crate::config::catalogue;
use serde::Serialize;

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");

#[derive(Serialize)]
struct Bar {
    label: &'static str,
    value: u64,
    width: u64,
    colour: &'static str,
    y: u64,
}

#[derive(Serialize)]
struct Failure<'a> {
    trail: &'a str,
    check_id: &'a str,
    supporting: bool,
    reason: &'a str,
    remediation: &'a str,
}

#[derive(Serialize)]
struct AccountRow<'a> {
    row: &'a crate::assess::AccountSummary,
    evidence: String,
}

/// Bars for the status chart, widths scaled to the largest count.
fn chart(a: &Assessment) -> Vec<Bar> {
    let c = &a.summary.checks;
    let counts = [
        ("PASS", c.pass, "#1a7f37"),
        ("FAIL", c.fail, "#cf222e"),
        ("UNKNOWN", c.unknown, "#b08800"),
        ("N/A", c.not_applicable, "#6e7781"),
    ];
    let max = counts.iter().map(|(_, v, _)| *v).max().unwrap_or(0).max(1);
    counts
        .iter()
        .enumerate()
        .map(|(i, (label, value, colour))| Bar {
            label,
            value: *value,
            width: value * 340 / max,
            colour,
            y: i as u64 * 28,
        })
        .collect()
}

/// The assessment without its per-trail parts: what the page's fixed sections show.
#[derive(Serialize)]
struct Overview<'a> {
    pack: &'a crate::assess::PackInfo,
    rule: &'a crate::config::Rule,
    mapping: &'a crate::config::Mapping,
    summary: &'a crate::assess::Summary,
    gaps: &'a [crate::evidence::Gap],
}

/// Renders the page part by part (see the template's header) straight into `out`, so memory does
/// not grow with the number of trails.
pub fn render_to(
    a: &Assessment,
    integrity: Option<&Integrity>,
    out: &mut dyn std::io::Write,
) -> Result<(), ReportError> {
    let fail = |e: tera::Error| ReportError::Render {
        format: "html",
        message: format!("{e:?}"),
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    // Everything printed into the page is HTML-escaped, and live characters (bidi overrides that
    // reorder a trail name, control characters) are shown as `\u{..}` rather than acting.
    tera.set_escape_fn(|text| tera::escape_html(&super::visible(text)));
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(fail)?;
    let bars = chart(a);
    let accounts: Vec<AccountRow> = a
        .summary
        .accounts
        .iter()
        .map(|row| AccountRow {
            row,
            evidence: super::account_evidence(row),
        })
        .collect();
    let mut page = tera::Context::new();
    page.insert(
        "a",
        &Overview {
            pack: &a.pack,
            rule: &a.rule,
            mapping: &a.mapping,
            summary: &a.summary,
            gaps: &a.gaps,
        },
    );
    page.insert("primary_cis", &a.mapping.primary_cis_aws());
    page.insert("check_total", &a.summary.checks.total());
    page.insert("chart_height", &(bars.len() as u64 * 28));
    page.insert("chart", &bars);
    page.insert("accounts", &accounts);
    page.insert(
        "accounts_in_scope",
        &a.summary.accounts.iter().filter(|r| r.in_scope).count(),
    );
    page.insert("scope", &super::scope_label(a));
    page.insert("unlisted_warning", &super::unlisted_warning(a));
    page.insert("checks", &catalogue().checks);
    page.insert("account_findings", &a.accounts);
    let outside: Vec<(&crate::evidence::OutsideScope, String)> = a
        .summary
        .outside_scope
        .iter()
        .map(|o| (o, o.advice()))
        .collect();
    page.insert("outside", &outside);
    page.insert("failure_count", &a.summary.checks.fail);
    page.insert("integrity", &integrity.map(|i| &i.rows));

    let mut part = |name: &str, context: &mut tera::Context| -> Result<(), ReportError> {
        context.insert("part", name);
        tera.render_to("report.html", context, &mut *out)
            .map_err(fail)
    };
    let mut item = tera::Context::new();
    part("head", &mut page)?;
    for (i, t) in a.trails.iter().enumerate() {
        item.insert("t", &*t?);
        item.insert("index", &(i + 1));
        part("trail_row", &mut item)?;
    }
    part("middle", &mut page)?;
    for (i, t) in a.trails.iter().enumerate() {
        item.insert("t", &*t?);
        item.insert("index", &(i + 1));
        part("trail_section", &mut item)?;
    }
    part("remediation", &mut page)?;
    for t in a.trails.iter() {
        let t = t?;
        for f in t.failures() {
            item.insert(
                "f",
                &Failure {
                    trail: &t.trail_name,
                    check_id: &f.check_id,
                    supporting: f.role == crate::config::CheckRole::Supporting,
                    reason: &f.reason,
                    remediation: f.remediation.as_deref().unwrap_or_default(),
                },
            );
            part("failure_row", &mut item)?;
        }
    }
    for account in &a.accounts {
        let label = format!("account {}", account.account_id);
        for f in account
            .findings
            .iter()
            .filter(|f| f.status == crate::assess::Status::Fail)
        {
            item.insert(
                "f",
                &Failure {
                    trail: &label,
                    check_id: &f.check_id,
                    supporting: f.role == crate::config::CheckRole::Supporting,
                    reason: &f.reason,
                    remediation: f.remediation.as_deref().unwrap_or_default(),
                },
            );
            part("failure_row", &mut item)?;
        }
    }
    part("gaps", &mut page)?;
    for r in a.evidence.iter() {
        item.insert("r", &*r?);
        part("evidence_row", &mut item)?;
    }
    part("tail", &mut page)
}
