//! The PDF report: lays a [`Document`] out on A4 pages with printpdf's page operations.
//!
//! Layout is done here, not by printpdf (its HTML layout is not compiled in): text is measured
//! with the embedded font's advance widths ([`fonts`]), wrapped at spaces and inside tokens wider
//! than their column ([`wrap`]), and placed line by line ([`layout`], [`table`]) as page operations
//! ([`page`]). Every page gets a "page n of m" footer, which is why the document is laid out twice
//! (see [`render_to`]); the file is then assembled around printpdf's objects ([`assemble`]) and
//! written object by object ([`file`]).
//!
//! Text is real text in DejaVu Sans (regular and bold, embedded whole as TrueType CID fonts with
//! a /ToUnicode map), so it is selectable and extractable, including non-ASCII. Characters the
//! font lacks (e.g. CJK) show as the font's missing-glyph box.
//!
//! The output is byte for byte reproducible: fixed font resource names, no dates in the info
//! dictionary, and a document /ID derived from the content rather than printpdf's counter.

mod assemble;
mod file;
mod fonts;
mod layout;
mod page;
mod style;
mod table;
mod wrap;

use super::document::Document;
use assemble::PageWriter;
use fonts::{fonts, Fonts, UsedChars};
use layout::Layout;
use page::{footer, PageOps};

/// Why the PDF could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// One of the embedded fonts could not be parsed.
    #[error("the embedded font {name} could not be parsed: {detail}")]
    Font { name: &'static str, detail: String },
    /// printpdf reported an error while building the PDF objects (e.g. a font it could not embed).
    #[error("building the PDF failed: {0}")]
    Build(String),
    /// Writing the PDF objects into bytes failed.
    #[error("writing the PDF failed: {0}")]
    Write(String),
    /// The findings the blocks are made from could not be read back.
    #[error(transparent)]
    Findings(#[from] crate::assess::SpoolError),
}

/// Pages handed to printpdf at a time. Each batch costs printpdf a serialization of both fonts, and
/// holds its pages' operations until they are written. Measured on a 1,000-trail report (1,023
/// pages): 16 a batch 1.05 s and 31 MiB, 64 0.9 s and 30 MiB, 256 0.85 s and 45 MiB.
const BATCH_PAGES: usize = 64;

/// Renders the document as an A4 PDF.
///
/// The document is laid out twice. The first pass only counts the pages (for "page n of m") and
/// notes which characters each font shows, so that the file's fixed objects can be written first
/// (see [`assemble`]). The second pass lays the pages out again, with footers, and writes them in
/// batches as they are made.
pub fn render_to(doc: &Document, out: &mut dyn std::io::Write) -> Result<(), PdfError> {
    let fonts = fonts()?;

    // Pass 1.
    let mut total = 0usize;
    let mut used = UsedChars::default();
    lay_out(doc, fonts, &mut |page: PageOps| {
        total += 1;
        used.ops(fonts, &page.text);
    })?;
    used.text(false, &doc.footer);
    used.text(false, "page of 0123456789…");
    let mut writer = PageWriter::start(out, &doc.title, fonts, &used, total)?;

    // Pass 2.
    let mut batch = Vec::with_capacity(BATCH_PAGES);
    let mut number = 0usize;
    let mut failure = None;
    lay_out(doc, fonts, &mut |mut page: PageOps| {
        number += 1;
        footer(&mut page, fonts, &doc.footer, number, total);
        if failure.is_some() {
            return;
        }
        batch.push(page.into_page());
        if batch.len() >= BATCH_PAGES {
            if let Err(e) = writer.write(fonts, std::mem::take(&mut batch)) {
                failure = Some(e);
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    writer.write(fonts, batch)?;
    writer.finish(number)
}

/// Lays the whole document out, handing each finished page (without footer) to `on_page`.
fn lay_out(
    doc: &Document,
    fonts: &'static Fonts,
    on_page: &mut dyn FnMut(PageOps),
) -> Result<(), PdfError> {
    let mut layout = Layout::new(fonts, on_page);
    layout.title(&doc.title);
    doc.blocks.for_each(&mut |block| layout.block(block))?;
    layout.finish();
    Ok(())
}

/// [`render_to`] into memory.
#[cfg(test)]
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::new();
    render_to(doc, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::document::{Bar, Block, Blocks, Cell, Row, Text};
    use super::*;
    use crate::assess::Status;

    fn page_count(pdf: &[u8]) -> usize {
        let mut n = 0;
        for pat in [&b"/Type/Page"[..], &b"/Type /Page"[..]] {
            n += pdf
                .windows(pat.len() + 1)
                .filter(|w| w.starts_with(pat) && w[pat.len()] != b's')
                .count();
        }
        n
    }

    fn row(cells: &[String]) -> Row {
        Row::new(cells.iter().map(|c| Cell::from(c.as_str())).collect())
    }

    fn big_table_doc(rows: usize) -> Document<'static> {
        Document {
            title: "Überwachung – ✓ café 日本 report".into(),
            footer: "auditpack · pack 01900000-0000-7000-8000-000000000000".into(),
            blocks: Blocks::List(vec![
                Block::Section {
                    id: "evidence",
                    heading: Some("Evidence".into()),
                    new_page: false,
                },
                Block::Paragraph {
                    text: "Rows follow.".into(),
                },
                Block::Table {
                    headers: vec!["#".into(), "Trail".into(), "SHA-256".into()],
                    widths: vec![0.5, 3.0, 2.0],
                    rows: (0..rows)
                        .map(|i| {
                            row(&[
                                i.to_string(),
                                format!(
                                    "arn:aws:cloudtrail:us-east-1:123456789012:trail/trail-{i:05}"
                                ),
                                format!("{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
                            ])
                        })
                        .collect(),
                },
            ]),
        }
    }

    /// The text of each page, as printpdf's own parser extracts it (via the /ToUnicode maps).
    fn page_texts(pdf: &[u8]) -> Vec<String> {
        let opts = printpdf::PdfParseOptions {
            fail_on_error: false,
        };
        let parsed =
            printpdf::PdfDocument::parse(pdf, &opts, &mut Vec::new()).expect("the PDF parses");
        parsed
            .extract_text()
            .into_iter()
            .map(|chunks| chunks.join("\n"))
            .collect()
    }

    #[test]
    fn table_spans_several_pages() {
        let doc = big_table_doc(300);
        let pdf = render(&doc).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let pages = page_count(&pdf);
        assert!(pages > 1, "pages: {pages}");
        let texts = page_texts(&pdf);
        assert_eq!(texts.len(), pages);
        for (i, text) in texts.iter().enumerate() {
            assert!(
                text.contains(&format!("page {} of {pages}", i + 1)),
                "page {}: {text}",
                i + 1
            );
            assert!(text.contains(&doc.footer), "page {}: {text}", i + 1);
            if i > 0 {
                // The header row is repeated.
                assert!(text.contains("SHA-256"), "page {}: {text}", i + 1);
            }
        }
        assert!(texts[0].contains("Überwachung – ✓ café"), "{}", texts[0]);
        let last = texts.last().unwrap();
        assert!(last.contains("trail/trail-00299"), "{last}");
    }

    /// A table handed over in parts (the first sizing the columns, then `MoreRows`) is laid out as
    /// the same table in one block: same pages, same text, headers repeated only at page tops.
    #[test]
    fn a_table_in_parts_lays_out_like_one_block() {
        let whole = big_table_doc(300);
        let Blocks::List(mut blocks) = big_table_doc(300).blocks else {
            unreachable!()
        };
        let Some(Block::Table {
            headers,
            widths,
            rows,
        }) = blocks.pop()
        else {
            unreachable!()
        };
        let mut chunks = rows.chunks(70);
        blocks.push(Block::Table {
            headers,
            widths,
            rows: chunks.next().unwrap().to_vec(),
        });
        blocks.extend(chunks.map(|c| Block::MoreRows { rows: c.to_vec() }));
        blocks.push(Block::Paragraph {
            text: "After the table.".into(),
        });
        let parts = Document {
            title: whole.title.clone(),
            footer: whole.footer.clone(),
            blocks: Blocks::List(blocks),
        };
        let (one, split) = (render(&whole).unwrap(), render(&parts).unwrap());
        assert_eq!(page_count(&one), page_count(&split));
        let (one, split) = (page_texts(&one), page_texts(&split));
        for (i, (a, b)) in one.iter().zip(&split).enumerate() {
            if i + 1 < one.len() {
                assert_eq!(a, b, "page {}", i + 1);
            } else {
                for line in a.lines() {
                    assert!(b.contains(line), "last page lacks {line:?}: {b}");
                }
                assert!(b.contains("After the table."), "{b}");
            }
            assert_eq!(
                b.matches("SHA-256").count(),
                1,
                "one header on page {}",
                i + 1
            );
        }
    }

    #[test]
    fn output_is_deterministic() {
        let doc = big_table_doc(120);
        let a = render(&doc).unwrap();
        let b = render(&doc).unwrap();
        assert!(a == b, "two renders of the same document differ");
        let mut other = big_table_doc(120);
        other.title.push('!');
        assert!(render(&other).unwrap() != a);
    }

    #[test]
    fn empty_document_has_one_page() {
        let doc = Document {
            title: String::new(),
            footer: String::new(),
            blocks: Blocks::List(Vec::new()),
        };
        let pdf = render(&doc).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        assert_eq!(page_count(&pdf), 1);
    }

    #[test]
    fn degenerate_blocks_do_not_panic() {
        let bar = |label: &str, value| Bar {
            label: label.into(),
            value,
            tone: Some(Status::Fail),
        };
        let table = |headers: Vec<String>, widths: Vec<f32>, rows: Vec<Row>| Block::Table {
            headers,
            widths,
            rows,
        };
        let doc = Document {
            title: "\n\t".into(),
            footer: "x".repeat(2000),
            blocks: Blocks::List(vec![
                Block::Section {
                    id: "x",
                    heading: Some(String::new()),
                    new_page: true,
                },
                Block::Subheading {
                    text: Text::default(),
                    anchor: None,
                },
                // Rows with no table to continue.
                Block::MoreRows {
                    rows: vec![row(&["orphan".into()]), Row::default()],
                },
                Block::Paragraph {
                    text: Text::default(),
                },
                Block::Note {
                    text: "\n\n".into(),
                },
                Block::Note {
                    text: "tall\n".repeat(100).into(),
                },
                Block::List {
                    ordered: true,
                    items: vec![Text::default(), "\n\n".into()],
                },
                Block::KeyValues {
                    pairs: vec![(String::new(), Text::default())],
                },
                table(Vec::new(), Vec::new(), Vec::new()),
                table(
                    vec!["a".into(), "b".into()],
                    vec![0.0, f32::NAN],
                    Vec::new(),
                ),
                table(
                    vec!["a".into()],
                    vec![1.0],
                    vec![
                        Row::default(),
                        row(&[String::new(), "extra cell".into(), "more".into()]),
                    ],
                ),
                // 60 columns: each narrower than some glyphs.
                table(
                    (0..60).map(|i| format!("column {i}")).collect(),
                    vec![1.0; 60],
                    vec![row(&(0..60).map(|i| "W".repeat(i)).collect::<Vec<_>>())],
                ),
                Block::BarChart { bars: Vec::new() },
                Block::BarChart {
                    bars: vec![bar("PASS", 0), bar("", 0)],
                },
                Block::BarChart {
                    bars: vec![bar("FAIL", u64::MAX), bar("UNKNOWN", 1)],
                },
            ]),
        };
        let pdf = render(&doc).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
    }

    #[test]
    fn row_taller_than_a_page_is_split() {
        let tall = (0..400)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let doc = Document {
            title: "Tall".into(),
            footer: "f".into(),
            blocks: Blocks::List(vec![Block::Table {
                headers: vec!["k".into(), "v".into()],
                widths: vec![1.0, 3.0],
                rows: vec![row(&["a".into(), tall]), row(&["b".into(), "short".into()])],
            }]),
        };
        let pdf = render(&doc).unwrap();
        // 400 lines at 10pt need at least five pages.
        assert!(page_count(&pdf) >= 5, "pages: {}", page_count(&pdf));
    }

    #[test]
    fn a_status_cell_is_drawn_in_its_colour() {
        let doc = |tone| Document {
            title: "Statuses".into(),
            footer: "f".into(),
            blocks: Blocks::List(vec![Block::Table {
                headers: vec!["Check".into(), "Status".into()],
                widths: vec![1.0, 1.0],
                rows: vec![Row::new(vec![
                    "kms-key-rotation".into(),
                    Cell {
                        text: "FAIL".into(),
                        tone,
                    },
                ])],
            }]),
        };
        let (plain, toned) = (
            render(&doc(None)).unwrap(),
            render(&doc(Some(Status::Fail))).unwrap(),
        );
        assert!(plain != toned, "the tone changes the page");
        assert_eq!(page_texts(&plain), page_texts(&toned), "not the text");
    }
}
