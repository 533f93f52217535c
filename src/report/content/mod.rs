//! What the HTML and the PDF report say, written once: every section, table and sentence of the
//! report as a [`Document`], made from an assessment block by block, in the order an assessor
//! decides: the verdicts per control and per account, the evidence gaps and the accepted
//! exceptions, then the distinct problems and the trails and accounts that have them, then every
//! other trail in one line, the rule's text, and the evidence the problems rest on.
//!
//! [`digest`] reads the findings once first (counts, problems, cited records); [`overview`] holds
//! the sections about the whole pack (cover, summary, control mapping), [`gaps`] the exceptions
//! and evidence gaps, [`findings`] those that go through the findings. A report's length grows
//! with the distinct problems and the trails that have them, not with the passing trails.

mod digest;
mod findings;
mod gaps;
mod overview;
pub(crate) mod period;

use super::document::{Block, Blocks, Cell, Document, Link, Row, Span, Style, Text};
use super::{scope_label, Integrity};
use crate::assess::{Assessment, SpoolError};
use digest::Digest;
use findings::{evidence, failing_trails, other_trails, problems};
use gaps::{exceptions, gaps};
use overview::{cover, mapping, summary};

/// The report of an assessment. Its blocks are made on demand from the assessment (see
/// [`Blocks::Made`]), so only one is in memory at a time; the findings' digest is made the first
/// time, and kept for the next read (the PDF reads the document twice).
pub fn build<'a>(a: &'a Assessment, integrity: Option<&'a Integrity>) -> Document<'a> {
    let digest = std::cell::OnceCell::new();
    Document {
        title: format!("{} — {}", a.rule.title, scope_label(a)),
        footer: format!(
            "auditpack report · pack {} · {} · collected {}",
            a.pack.pack_id,
            scope_label(a),
            a.pack.finished_at
        ),
        blocks: Blocks::Made(Box::new(move |out| {
            if digest.get().is_none() {
                let _ = digest.set(Digest::of(a)?);
            }
            let digest = digest.get().expect("set just above");
            emit(a, integrity, digest, out)
        })),
    }
}

/// Hands each block of the report to `out`, in reading order.
fn emit(
    a: &Assessment,
    integrity: Option<&Integrity>,
    digest: &Digest,
    out: &mut dyn FnMut(Block),
) -> Result<(), SpoolError> {
    cover(a, out);
    summary(a, digest, out);
    gaps(a, out);
    exceptions(a, out);
    problems(digest, out);
    failing_trails(a, digest, out)?;
    other_trails(a, digest, out)?;
    period::changes(a, out);
    mapping(a, out);
    evidence(a, digest, out)?;
    if let Some(integrity) = integrity {
        out(section("integrity", "Integrity", false));
        out(Block::KeyValues {
            pairs: integrity
                .rows
                .iter()
                .map(|(label, value)| (label.clone(), Text::code(value.as_str())))
                .collect(),
        });
    }
    Ok(())
}

fn section(id: &'static str, heading: &str, new_page: bool) -> Block {
    Block::Section {
        id,
        heading: Some(heading.to_string()),
        new_page,
    }
}

fn subheading(text: impl Into<Text>, anchor: Option<String>) -> Block {
    Block::Subheading {
        text: text.into(),
        anchor,
    }
}

fn paragraph(text: impl Into<Text>) -> Block {
    Block::Paragraph { text: text.into() }
}

fn table(headers: &[&str], widths: &[f32], rows: Vec<Row>) -> Block {
    Block::Table {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        widths: widths.to_vec(),
        rows,
    }
}

fn row(cells: Vec<Cell>) -> Row {
    Row::new(cells)
}

fn or_dash(value: Option<&str>) -> Cell {
    Cell::from(value.unwrap_or("—"))
}

fn link(text: impl Into<String>, to: Link) -> Span {
    Span::new(text, Style::Plain).linked(to)
}

/// Rows a long table hands over at a time (see [`Block::MoreRows`]).
const ROWS_PER_BLOCK: usize = 200;

/// Hands a table to `out` a part at a time: the header with the first rows (which size the PDF's
/// columns), then [`Block::MoreRows`], so that a table of any length is never whole in memory.
fn long_table<E>(
    out: &mut dyn FnMut(Block),
    headers: &[&str],
    widths: &[f32],
    rows: impl Iterator<Item = Result<Row, E>>,
) -> Result<(), E> {
    let mut part = Vec::new();
    let mut started = false;
    for row in rows {
        part.push(row?);
        if part.len() == ROWS_PER_BLOCK {
            let rows = std::mem::take(&mut part);
            out(if started {
                Block::MoreRows { rows }
            } else {
                table(headers, widths, rows)
            });
            started = true;
        }
    }
    if !started {
        out(table(headers, widths, part));
    } else if !part.is_empty() {
        out(Block::MoreRows { rows: part });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(rows: usize) -> Vec<(&'static str, usize)> {
        let mut blocks = Vec::new();
        let rows = (0..rows).map(|i| Ok(row(vec![i.to_string().into()])));
        long_table::<()>(&mut |b| blocks.push(b), &["#"], &[1.0], rows).unwrap();
        (blocks.into_iter())
            .map(|b| match b {
                Block::Table { rows, .. } => ("table", rows.len()),
                Block::MoreRows { rows } => ("more", rows.len()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_long_table_is_handed_over_in_parts() {
        assert_eq!(parts(0), [("table", 0)]);
        assert_eq!(parts(ROWS_PER_BLOCK), [("table", ROWS_PER_BLOCK)]);
        assert_eq!(
            parts(2 * ROWS_PER_BLOCK + 50),
            [
                ("table", ROWS_PER_BLOCK),
                ("more", ROWS_PER_BLOCK),
                ("more", 50)
            ]
        );
    }

    #[test]
    fn a_row_that_cannot_be_read_stops_the_table() {
        let mut blocks = 0;
        let rows = (0..500).map(|i| match i {
            250 => Err("row 250 cannot be read"),
            i => Ok(row(vec![i.to_string().into()])),
        });
        let result = long_table(&mut |_| blocks += 1, &["#"], &[1.0], rows);
        assert_eq!(result, Err("row 250 cannot be read"));
        assert_eq!(blocks, 1, "only the full part before the failure");
    }
}
