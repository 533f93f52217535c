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
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(fail)?;
    let failures: Vec<Failure> = a
        .failures()
        .map(|(t, f)| Failure {
            trail: &t.trail_name,
            check_id: &f.check_id,
            reason: &f.reason,
            remediation: f.remediation.as_deref().unwrap_or_default(),
        })
        .collect();
    let bars = chart(a);
    let mut context = tera::Context::new();
    context.insert("a", a);
    context.insert("primary_cis", &a.mapping.primary_cis_aws());
    context.insert(
        "check_total",
        &(a.summary.checks.pass
            + a.summary.checks.fail
            + a.summary.checks.unknown
            + a.summary.checks.not_applicable),
    );
    context.insert("chart_height", &(bars.len() as u64 * 28));
    context.insert("chart", &bars);
    let accounts: Vec<AccountRow> = a
        .summary
        .accounts
        .iter()
        .map(|row| AccountRow {
            row,
            evidence: super::pdf_doc::account_evidence(row),
        })
        .collect();
    context.insert("accounts", &accounts);
    context.insert("unlisted_warning", &super::pdf_doc::unlisted_warning(a));
    context.insert(
        "accounts_in_scope",
        &a.summary.accounts.iter().filter(|r| r.in_scope).count(),
    );
    context.insert("checks", &catalogue().checks);
    context.insert("failures", &failures);
    context.insert("integrity", &integrity.map(|i| &i.rows));
    tera.render_to("report.html", &context, out).map_err(fail)
}
