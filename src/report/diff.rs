//! `auditpack diff`'s outputs: the [`PackDiff`] as a page and a PDF (through the same report
//! [`Document`] as the report, so both look and escape alike), as CSV (one row per change) and as
//! JSON (the value itself).

use super::csv::{fail, neutralise, writer};
use super::document::{Block, Blocks, Cell, Document, Row, Text};
use super::ReportError;
use crate::compare::{PackDiff, RecordRef, Side};
use std::io::Write;

/// An output of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum DiffFormat {
    /// The changes as a web page.
    Html,
    /// The changes as a printable document.
    Pdf,
    /// One row per change.
    Csv,
    /// The comparison as data.
    Json,
}

impl DiffFormat {
    /// What `diff --out` writes unless told otherwise.
    pub const DEFAULT: [DiffFormat; 3] = [DiffFormat::Html, DiffFormat::Csv, DiffFormat::Json];

    pub fn file_name(self) -> &'static str {
        match self {
            DiffFormat::Html => "diff.html",
            DiffFormat::Pdf => "diff.pdf",
            DiffFormat::Csv => "diff.csv",
            DiffFormat::Json => "diff.json",
        }
    }
}

/// Column names of `diff.csv`: a contract with users' scripts. Only ever add at the end.
pub const COLUMNS: [&str; 15] = [
    "change",
    "subject",
    "account_id",
    "region",
    "name",
    "id",
    "check_or_operation",
    "from",
    "to",
    "from_reason",
    "to_reason",
    "from_evidence",
    "to_evidence",
    "from_pack_id",
    "to_pack_id",
];

/// Renders `diff` as `format` into `out`.
pub fn render_to(
    diff: &PackDiff,
    format: DiffFormat,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match format {
        DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, diff).map_err(|e| ReportError::Render {
                format: "json",
                message: e.to_string(),
            })?;
            out.write_all(b"\n").map_err(|e| ReportError::Render {
                format: "json",
                message: e.to_string(),
            })
        }
        DiffFormat::Csv => render_csv(diff, out),
        DiffFormat::Html => super::html::render_to(&document(diff), out),
        DiffFormat::Pdf => {
            super::pdf::render_to(&document(diff), out).map_err(|e| ReportError::Render {
                format: "pdf",
                message: e.to_string(),
            })
        }
    }
}

/// Records as `#seq sha256`, the way both outputs cite them.
fn cite(records: &[RecordRef]) -> String {
    records
        .iter()
        .map(|r| {
            let answer = match (&r.sha256, r.http_status, &r.error_code) {
                (_, Some(s), Some(code)) if !(200..300).contains(&s) => format!(" ({s} {code})"),
                _ => String::new(),
            };
            match &r.sha256 {
                Some(sha) => format!("#{} {sha}{answer}", r.seq),
                None => format!("#{}{answer}", r.seq),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn render_csv(diff: &PackDiff, out: &mut dyn Write) -> Result<(), ReportError> {
    let mut w = writer(out);
    w.write_record(COLUMNS).map_err(fail)?;
    let packs = [diff.from.pack_id.as_str(), diff.to.pack_id.as_str()];
    let mut row = |cells: [&str; 13]| -> Result<(), ReportError> {
        let all = cells.iter().chain(packs.iter());
        w.write_record(all.map(|c| neutralise(c))).map_err(fail)
    };
    for (what, ids) in [
        ("account added", &diff.accounts_added),
        ("account removed", &diff.accounts_removed),
    ] {
        for id in ids {
            row([what, "account", id, "", "", id, "", "", "", "", "", "", ""])?;
        }
    }
    for (what, trails) in [
        ("trail added", &diff.trails_added),
        ("trail removed", &diff.trails_removed),
    ] {
        for t in trails {
            let (a, r, n, i) = (&t.account_id, &t.region, &t.name, &t.arn);
            row([what, "trail", a, r, n, i, "", "", "", "", "", "", ""])?;
        }
    }
    for c in &diff.trails_changed {
        let (from_ev, to_ev) = (cite(&c.from_evidence), cite(&c.to_evidence));
        for f in &c.fields {
            let t = &c.trail;
            row([
                "trail changed",
                "trail",
                &t.account_id,
                &t.region,
                &t.name,
                &t.arn,
                f.field,
                &f.from,
                &f.to,
                "",
                "",
                &from_ev,
                &to_ev,
            ])?;
        }
    }
    for v in &diff.verdicts {
        row([
            v.change.as_str(),
            v.subject,
            &v.account_id,
            v.region.as_deref().unwrap_or(""),
            &v.name,
            &v.id,
            &v.check_id,
            v.from.as_str(),
            v.to.as_str(),
            &v.from_reason,
            &v.to_reason,
            &cite(&v.from_evidence),
            &cite(&v.to_evidence),
        ])?;
    }
    for r in &diff.resources {
        let now = r.verdicts.join("; ");
        for a in &r.answers {
            row([
                "recorded state changed",
                r.kind,
                r.account_id.as_deref().unwrap_or(""),
                "",
                &r.resource,
                &r.resource,
                &a.operation,
                "",
                "",
                "",
                &now,
                &cite(&a.from),
                &cite(&a.to),
            ])?;
        }
    }
    w.flush().map_err(fail)
}

fn side_pairs(label: &str, s: &Side) -> Vec<(String, Text)> {
    vec![
        (format!("{label} pack"), Text::code(&s.pack_id)),
        (
            "collected".into(),
            Text::plain(format!("{} (account {})", s.collected_at, s.account_id)),
        ),
        ("signed by".into(), Text::code(&s.signer)),
        ("signer".into(), Text::plain(&s.signer_checked)),
        ("made by".into(), Text::plain(&s.tool_version)),
    ]
}

/// A section holding one table, left out when the table has no rows.
fn section_table(
    blocks: &mut Vec<Block>,
    (id, heading): (&'static str, &str),
    headers: &[&str],
    widths: &[f32],
    rows: Vec<Row>,
) {
    if rows.is_empty() {
        return;
    }
    blocks.push(Block::Section {
        id,
        heading: Some(heading.into()),
        new_page: false,
    });
    blocks.push(Block::Table {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        widths: widths.to_vec(),
        rows,
    });
}

/// Both packs' records for one change, a line each.
fn both(from: &[RecordRef], to: &[RecordRef]) -> String {
    format!("from {}\nto {}", cite(from), cite(to))
}

/// The page and the PDF: who was compared, the counts, then each kind of change.
pub fn document(diff: &PackDiff) -> Document<'static> {
    let s = &diff.summary;
    let mut blocks = vec![Block::Section {
        id: "compared",
        heading: Some("Packs compared".into()),
        new_page: false,
    }];
    blocks.push(Block::KeyValues {
        pairs: side_pairs("from", &diff.from),
    });
    blocks.push(Block::KeyValues {
        pairs: side_pairs("to", &diff.to),
    });
    blocks.push(Block::Paragraph {
        text: Text::plain(format!(
            "Both packs were assessed by {} with the same checks, so a verdict below moved because \
             the recorded evidence moved. Records are cited as #sequence and SHA-256 in each pack.",
            diff.assessed_by
        )),
    });
    blocks.push(Block::KeyValues {
        pairs: [
            ("newly failing", s.newly_failing),
            ("newly unknown", s.newly_unknown),
            ("fixed", s.fixed),
            (
                "period failures that appear (of the newly failing)",
                s.period_failures_appeared,
            ),
            (
                "period failures that disappear (of the fixed)",
                s.period_failures_disappeared,
            ),
            ("other verdict changes", s.other_verdicts),
            ("keys and buckets changed", s.resources_changed),
            ("trails changed", s.trails_changed),
            ("trails added", s.trails_added),
            ("trails removed", s.trails_removed),
            ("accounts added", s.accounts_added),
            ("accounts removed", s.accounts_removed),
        ]
        .into_iter()
        .map(|(label, n)| (label.to_string(), Text::plain(n.to_string())))
        .collect(),
    });
    if s.is_empty() {
        blocks.push(Block::Note {
            text: Text::plain("Nothing changed between the two packs."),
        });
    }
    let rows = diff
        .verdicts
        .iter()
        .map(|v| {
            Row::new(vec![
                Cell::from(v.change.as_str()),
                Cell::from(format!(
                    "{} ({}{})",
                    v.name,
                    v.account_id,
                    v.region
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default()
                )),
                Cell::from(Text::code(&v.check_id)),
                Cell::from(v.from.as_str()).tone(v.from),
                Cell::from(v.to.as_str()).tone(v.to),
                Cell::from(v.to_reason.as_str()),
                Cell::from(both(&v.from_evidence, &v.to_evidence)),
            ])
        })
        .collect();
    section_table(
        &mut blocks,
        ("verdicts", "Verdicts that changed"),
        &[
            "change", "subject", "check", "from", "to", "now", "evidence",
        ],
        &[1.0, 2.0, 1.6, 0.8, 0.8, 3.0, 2.6],
        rows,
    );
    let rows = diff
        .resources
        .iter()
        .flat_map(|r| {
            r.answers.iter().map(move |a| {
                Row::new(vec![
                    Cell::from(r.kind),
                    Cell::from(Text::code(&r.resource)),
                    Cell::from(a.operation.as_str()),
                    Cell::from(both(&a.from, &a.to)),
                    Cell::from(if r.verdicts.is_empty() {
                        "no verdict moved".to_string()
                    } else {
                        r.verdicts.join("\n")
                    }),
                ])
            })
        })
        .collect();
    section_table(
        &mut blocks,
        ("resources", "Keys and buckets whose recorded state changed"),
        &["kind", "resource", "answer", "records", "verdicts"],
        &[0.9, 2.6, 1.4, 2.6, 3.0],
        rows,
    );
    let rows = diff
        .trails_changed
        .iter()
        .flat_map(|c| {
            c.fields.iter().map(move |f| {
                Row::new(vec![
                    Cell::from(Text::code(&c.trail.arn)),
                    Cell::from(f.field),
                    Cell::from(f.from.as_str()),
                    Cell::from(f.to.as_str()),
                    Cell::from(both(&c.from_evidence, &c.to_evidence)),
                ])
            })
        })
        .collect();
    section_table(
        &mut blocks,
        ("trails-changed", "Trails whose configuration changed"),
        &["trail", "field", "from", "to", "evidence"],
        &[2.6, 1.0, 2.0, 2.0, 2.4],
        rows,
    );
    let added_removed: Vec<Row> = [
        ("added", &diff.trails_added),
        ("removed", &diff.trails_removed),
    ]
    .into_iter()
    .flat_map(|(what, trails)| {
        trails.iter().map(move |t| {
            Row::new(vec![
                Cell::from(format!("trail {what}")),
                Cell::from(Text::code(&t.arn)),
            ])
        })
    })
    .chain(
        [
            ("added", &diff.accounts_added),
            ("removed", &diff.accounts_removed),
        ]
        .into_iter()
        .flat_map(|(what, ids)| {
            ids.iter().map(move |id| {
                Row::new(vec![
                    Cell::from(format!("account {what}")),
                    Cell::from(Text::code(id)),
                ])
            })
        }),
    )
    .collect();
    section_table(
        &mut blocks,
        ("added-removed", "Trails and accounts added or removed"),
        &["change", "trail or account"],
        &[1.0, 4.0],
        added_removed,
    );
    Document {
        title: format!(
            "What changed: pack {} to pack {}",
            diff.from.pack_id, diff.to.pack_id
        ),
        footer: format!("auditpack diff ({})", crate::compare::DIFF_FORMAT),
        blocks: Blocks::List(blocks),
    }
}
