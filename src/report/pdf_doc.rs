//! The PDF report's content: the same sections as the HTML report, as a page-independent document.

use super::document::{Block, Blocks, Document};
use super::{account_evidence, scope_label, unlisted_warning, Integrity};
use crate::assess::{Assessment, SpoolError, Status};
use crate::config::catalogue;

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("—").to_string()
}

fn heading(text: &str, new_page: bool) -> Block {
    Block::Heading {
        text: text.to_string(),
        new_page,
    }
}

fn table(headers: &[&str], widths: &[f32], rows: Vec<Vec<String>>) -> Block {
    Block::Table {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        widths: widths.to_vec(),
        rows,
    }
}

/// Rows a long table hands over at a time (see [`Block::MoreRows`]).
const ROWS_PER_BLOCK: usize = 200;

/// Hands a table to `out` a part at a time: the header with the first rows (which size the columns),
/// then [`Block::MoreRows`], so that a table of any length is never whole in memory.
fn long_table(
    out: &mut dyn FnMut(Block),
    headers: &[&str],
    widths: &[f32],
    rows: impl Iterator<Item = Result<Vec<String>, SpoolError>>,
) -> Result<(), SpoolError> {
    let mut part = Vec::new();
    let mut started = false;
    for row in rows {
        part.push(row?);
        if part.len() == ROWS_PER_BLOCK {
            let rows = std::mem::take(&mut part);
            out(if started {
                Block::MoreRows(rows)
            } else {
                table(headers, widths, rows)
            });
            started = true;
        }
    }
    if !started {
        out(table(headers, widths, part));
    } else if !part.is_empty() {
        out(Block::MoreRows(part));
    }
    Ok(())
}

/// The PDF report of an assessment. Its blocks are made on demand from the assessment (see
/// [`Blocks::Made`]), so only one is in memory at a time.
pub fn build<'a>(a: &'a Assessment, integrity: Option<&'a Integrity>) -> Document<'a> {
    Document {
        title: format!("{} — {}", a.rule.title, scope_label(a)),
        footer: format!("auditpack · pack {} · {}", a.pack.pack_id, scope_label(a)),
        blocks: Blocks::Made(Box::new(move |out| emit(a, integrity, out))),
    }
}

/// What "rule" and "supporting" mean, shown with the checks.
const CHECK_ROLES: &str = "A rule check's FAIL fails the rule for its trail or account (and makes auditpack assess exit 5); \
     a supporting check is advisory (it fails assess only with --strict).";

/// One finding as a row of a findings table.
fn finding_row(f: &crate::assess::Finding) -> Vec<String> {
    let mut reason = f.reason.clone();
    if let Some(r) = &f.remediation {
        reason.push_str(&format!("\nRemediation: {r}"));
    }
    let evidence: Vec<String> = f.evidence.iter().map(|e| format!("#{}", e.seq)).collect();
    vec![
        format!("{}\n({})", f.check_id, f.role.as_str()),
        f.status.as_str().to_string(),
        reason,
        format!("{}\nCIS v7 {}", f.cis_aws_control, f.cis_v7_control),
        evidence.join(" "),
    ]
}

/// Hands each block of the report to `out`, in reading order.
fn emit(
    a: &Assessment,
    integrity: Option<&Integrity>,
    out: &mut dyn FnMut(Block),
) -> Result<(), SpoolError> {
    let primary_cis = a.mapping.primary_cis_aws();
    out(heading(&a.rule.title, false));
    out(Block::Paragraph(format!(
        "{primary_cis} · {} · CIS Controls v7 {} \"{}\" · rule {}",
        a.mapping.cce, a.mapping.cis_v7.control, a.mapping.cis_v7.title, a.rule.id
    )));
    out(Block::KeyValues(vec![
        (
            if a.summary.accounts.len() > 1 {
                "Caller's account".into()
            } else {
                "AWS account".into()
            },
            a.pack.account_id.clone(),
        ),
        (
            "Accounts in scope".into(),
            format!(
                "{} ({} not collected)",
                a.summary.accounts.iter().filter(|r| r.in_scope).count(),
                a.summary.accounts_not_collected
            ),
        ),
        ("Collected by".into(), a.pack.caller_arn.clone()),
        (
            "Regions".into(),
            format!("{} ({})", a.pack.regions.join(", "), a.pack.regions_source),
        ),
        (
            "Collection window".into(),
            format!("{} – {}", a.pack.started_at, a.pack.finished_at),
        ),
        ("Tool".into(), a.pack.tool_version.clone()),
        ("Pack id".into(), a.pack.pack_id.clone()),
        (
            "Record chain head".into(),
            format!("{} ({} records)", a.pack.chain_head, a.pack.records),
        ),
    ]));
    if let Some(endpoint) = &a.pack.endpoint_url {
        out(Block::Paragraph(format!(
            "Collected from {endpoint}, not the public AWS endpoint."
        )));
    }
    if !a.pack.complete {
        out(Block::Paragraph(format!(
            "The pack has {} evidence gap(s): checks that depend on them are UNKNOWN, never PASS.",
            a.summary.gaps
        )));
    }

    let s = &a.summary;
    out(heading("Executive summary", false));
    out(Block::Paragraph(format!(
        "{} trail(s) assessed. The rule passes for {}, fails for {} and could not be decided for {}; \
         per account it passes for {}, fails for {} and could not be decided for {}. \
         Across all checks: {} PASS, {} FAIL ({} of them supporting), {} UNKNOWN, {} not applicable.",
        s.trails,
        s.rule.pass,
        s.rule.fail,
        s.rule.unknown,
        s.account_rule.pass,
        s.account_rule.fail,
        s.account_rule.unknown,
        s.checks.pass,
        s.checks.fail,
        s.supporting_failures,
        s.checks.unknown,
        s.checks.not_applicable
    )));
    if let Some(warning) = unlisted_warning(a) {
        out(Block::Paragraph(warning));
    }
    out(Block::BarChart {
        bars: vec![
            ("PASS".into(), s.checks.pass),
            ("FAIL".into(), s.checks.fail),
            ("UNKNOWN".into(), s.checks.unknown),
            ("N/A".into(), s.checks.not_applicable),
        ],
    });
    let account_rows = s
        .accounts
        .iter()
        .map(|r| {
            vec![
                r.account_id.clone(),
                or_dash(r.name.as_deref()),
                account_evidence(r),
                r.coverage
                    .map_or("outside scope", Status::as_str)
                    .to_string(),
                r.trails.to_string(),
                r.rule.pass.to_string(),
                r.rule.fail.to_string(),
                r.rule.unknown.to_string(),
                r.gaps.to_string(),
            ]
        })
        .collect();
    out(Block::Subheading("By account".into()));
    out(table(
        &[
            "Account",
            "Name",
            "Evidence",
            "Rule for the account",
            "Trails owned",
            "PASS",
            "FAIL",
            "UNKNOWN",
            "Gaps",
        ],
        &[1.5, 1.8, 1.5, 1.3, 0.8, 0.7, 0.7, 1.1, 0.7],
        account_rows,
    ));
    out(Block::Subheading("By trail".into()));
    let summary_rows = a.trails.iter().map(|t| {
        let t = t?;
        let failing: Vec<String> = t
            .findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| match f.role {
                crate::config::CheckRole::Rule => f.check_id.to_string(),
                crate::config::CheckRole::Supporting => format!("{} (supporting)", f.check_id),
            })
            .collect();
        let name = if t.organization {
            format!(
                "{}\norganisation trail, {} account(s)",
                t.trail_name,
                t.covers.len()
            )
        } else {
            t.trail_name.clone()
        };
        Ok(vec![
            name,
            t.account_id.clone(),
            t.region.clone(),
            or_dash(t.kms_key_id.as_deref()),
            t.rule.as_str().to_string(),
            failing.join(", "),
        ])
    });
    long_table(
        out,
        &[
            "Trail",
            "Account",
            "Home region",
            "KMS key",
            &primary_cis,
            "Failing checks",
        ],
        &[1.7, 1.4, 1.1, 2.3, 1.4, 2.1],
        summary_rows,
    )?;

    out(heading("Control mapping", true));
    let mut mapping_rows: Vec<Vec<String>> = a
        .mapping
        .cis_aws
        .iter()
        .map(|c| vec![format!("{} {}", c.benchmark, c.version), c.control.clone()])
        .collect();
    mapping_rows.push(vec!["CCE".into(), a.mapping.cce.clone()]);
    mapping_rows.push(vec![
        "CIS Controls v7".into(),
        format!("{} {}", a.mapping.cis_v7.control, a.mapping.cis_v7.title),
    ]);
    for sub in &a.mapping.cis_v7_sub {
        mapping_rows.push(vec![
            "CIS Controls v7".into(),
            format!("{} {}", sub.id, sub.title),
        ]);
    }
    for c in &a.mapping.cis_v8 {
        mapping_rows.push(vec![
            "CIS Controls v8".into(),
            format!("{} {}", c.id, c.title),
        ]);
    }
    for c in &a.mapping.nist_800_53_r5 {
        mapping_rows.push(vec![
            "NIST SP 800-53 Rev. 5".into(),
            format!("{} {}", c.id, c.title),
        ]);
    }
    for e in &a.mapping.equivalents {
        mapping_rows.push(vec!["Equivalent check".into(), e.clone()]);
    }
    out(table(&["Framework", "Control"], &[1.0, 2.0], mapping_rows));
    for (title, text) in [
        ("Description", &a.rule.description),
        ("Rationale", &a.rule.rationale),
        ("Impact", &a.rule.impact),
        ("Default value", &a.rule.default_value),
    ] {
        out(Block::Subheading(title.into()));
        out(Block::Paragraph(text.clone()));
    }
    out(Block::Subheading("Remediation".into()));
    out(Block::Bullets(a.rule.remediation.clone()));
    out(Block::Subheading("References".into()));
    let mut references: Vec<String> = a
        .rule
        .references
        .iter()
        .map(|r| format!("{}: {}", r.title, r.url))
        .collect();
    references.push(a.mapping.cce.clone());
    out(Block::Bullets(references));
    out(Block::Subheading("Checks".into()));
    out(Block::Paragraph(CHECK_ROLES.into()));
    out(table(
        &["Check id", "What it verifies", "Role", "CIS AWS", "CIS v7"],
        &[2.2, 3.2, 1.2, 1.4, 0.8],
        catalogue()
            .checks
            .iter()
            .map(|c| {
                let title = if c.primary {
                    format!("{} (the rule)", c.title)
                } else {
                    c.title.clone()
                };
                vec![
                    c.id.clone(),
                    title,
                    format!("{}, each {:?}", c.role.as_str(), c.subject).to_lowercase(),
                    c.cis_aws.clone(),
                    c.cis_v7.clone(),
                ]
            })
            .collect(),
    ));

    out(heading("Findings by account", true));
    for account in &a.accounts {
        out(Block::Subheading(match &account.name {
            Some(name) => format!("Account {} ({name})", account.account_id),
            None => format!("Account {}", account.account_id),
        }));
        out(table(
            &["Check", "Status", "Reason", "Controls", "Evidence"],
            &[2.2, 1.1, 4.4, 1.5, 1.0],
            account.findings.iter().map(finding_row).collect(),
        ));
    }

    out(heading("Findings by trail", true));
    for t in a.trails.iter() {
        let t = t?;
        out(Block::Subheading(format!(
            "{} ({})",
            t.trail_name, t.trail_arn
        )));
        let key = match (&t.kms_key_id, &t.kms_key_description) {
            (Some(id), Some(desc)) => format!("{id} (\"{desc}\")"),
            (Some(id), None) => id.clone(),
            _ => "none".into(),
        };
        if t.organization {
            out(Block::Paragraph(format!(
                "Organisation trail, listed in {} account(s): {}",
                t.covers.len(),
                t.covers.join(", ")
            )));
        }
        out(Block::Paragraph(format!(
            "Account {} · home region {} · KMS key {} · bucket {}",
            t.account_id,
            t.region,
            key,
            t.bucket.as_deref().unwrap_or("none")
        )));
        let rows = t.findings.iter().map(finding_row).collect();
        out(table(
            &["Check", "Status", "Reason", "Controls", "Evidence"],
            &[2.2, 1.1, 4.4, 1.5, 1.0],
            rows,
        ));
    }

    out(heading("Remediation of failures", true));
    if a.summary.checks.fail == 0 {
        out(Block::Paragraph("No check failed.".into()));
    } else {
        let failures = a.trails.iter().flat_map(|t| {
            let rows: Vec<Result<Vec<String>, SpoolError>> = match t {
                Err(e) => vec![Err(e)],
                Ok(t) => t
                    .failures()
                    .map(|f| {
                        Ok(vec![
                            t.trail_name.clone(),
                            f.check_id.to_string(),
                            f.reason.clone(),
                            f.remediation.as_deref().unwrap_or_default().to_string(),
                        ])
                    })
                    .collect(),
            };
            rows
        });
        let account_failures = a.accounts.iter().flat_map(|account| {
            account
                .findings
                .iter()
                .filter(|f| f.status == Status::Fail)
                .map(|f| {
                    Ok(vec![
                        format!("account {}", account.account_id),
                        f.check_id.to_string(),
                        f.reason.clone(),
                        f.remediation.as_deref().unwrap_or_default().to_string(),
                    ])
                })
                .collect::<Vec<_>>()
        });
        long_table(
            out,
            &["Trail or account", "Check", "Why", "What to do"],
            &[1.6, 1.8, 3.0, 3.4],
            failures.chain(account_failures),
        )?;
    }

    out(heading("Evidence gaps", false));
    if !a.summary.outside_scope.is_empty() {
        out(Block::Paragraph(
            "These keys and buckets belong to accounts outside the run's scope: nothing was asked about them, so the checks that need them are UNKNOWN.".into(),
        ));
        out(table(
            &["Resource", "Kind", "Owner", "What to do"],
            &[2.6, 1.0, 1.2, 4.0],
            a.summary
                .outside_scope
                .iter()
                .map(|o| {
                    vec![
                        o.resource.clone(),
                        o.kind.clone(),
                        o.owner.clone().unwrap_or_else(|| "not published".into()),
                        o.advice(),
                    ]
                })
                .collect(),
        ));
    }
    if !a.summary.regions_blocked.is_empty() {
        out(Block::Paragraph(
            "Blocked by policy (an explicit deny, such as an SCP denying the region), with every trail of the account listed by another region: not gaps.".into(),
        ));
        out(table(
            &["Account", "Region", "What happened"],
            &[1.4, 1.2, 6.2],
            a.summary
                .regions_blocked
                .iter()
                .map(|b| vec![b.account_id.clone(), b.region.clone(), b.reason.clone()])
                .collect(),
        ));
    }
    if a.gaps.is_empty() {
        out(Block::Paragraph(
            "None: every call gave usable evidence.".into(),
        ));
    } else {
        out(Block::Paragraph(
            "These calls gave no usable evidence. Checks that depend on them are UNKNOWN.".into(),
        ));
        long_table(
            out,
            &["Resource", "Operation", "Region", "Error", "Message"],
            &[2.4, 1.8, 1.1, 1.6, 3.3],
            a.gaps.iter().map(|g| {
                Ok(vec![
                    g.resource.clone(),
                    format!("{}:{}", g.service, g.operation),
                    g.region.clone(),
                    g.error_code.clone(),
                    g.message.clone(),
                ])
            }),
        )?;
    }

    out(heading("Evidence index", true));
    out(Block::Paragraph(
        "Every record a verdict was derived from. Each body is in the pack at the path shown; its SHA-256 is chained into the pack's index.".into(),
    ));
    long_table(
        out,
        &[
            "#",
            "Operation",
            "Region",
            "Resource",
            "Received (UTC)",
            "Server Date",
            "SHA-256 / body",
        ],
        &[0.5, 1.6, 0.9, 2.0, 1.5, 1.4, 2.4],
        a.evidence.iter().map(|r| {
            r.map(|r| {
                vec![
                    r.seq.to_string(),
                    format!("{}:{}", r.service, r.operation),
                    r.region.clone(),
                    r.resource.clone(),
                    r.received_at.clone(),
                    or_dash(r.server_date.as_deref()),
                    format!(
                        "{}\n{}",
                        r.sha256.as_deref().unwrap_or("no body"),
                        r.body.as_deref().unwrap_or("")
                    ),
                ]
            })
        }),
    )?;
    if let Some(integrity) = integrity {
        out(heading("Integrity", false));
        out(Block::KeyValues(integrity.rows.clone()));
    }
    Ok(())
}
