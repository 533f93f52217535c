//! `report.html`: the report [`Document`] as one self-contained, printable page, rendered with tera
//! (autoescape on) block by block straight into the file, with inline CSS and an inline SVG chart;
//! nothing is fetched from the network.

use super::document::{Bar, Block, Document};
use super::ReportError;
use crate::assess::Status;
use serde::Serialize;

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");

/// Widest bar of the chart, in CSS pixels; the others are scaled to it.
const BAR_MAX: u64 = 340;
/// Height of one bar's line in the chart.
const BAR_LINE: u64 = 28;

/// One bar of the chart, placed.
#[derive(Serialize)]
struct PlacedBar<'a> {
    label: &'a str,
    value: u64,
    width: u64,
    colour: &'static str,
    y: u64,
}

/// The page's colour for a status (the same as the stylesheet's).
fn colour(tone: Option<Status>) -> &'static str {
    match tone {
        Some(Status::Pass) => "#1a7f37",
        Some(Status::Fail) => "#cf222e",
        Some(Status::Unknown) => "#b08800",
        Some(Status::NotApplicable) | None => "#6e7781",
    }
}

/// The bars laid out one below the other, widths scaled to the largest value.
fn place(bars: &[Bar]) -> Vec<PlacedBar<'_>> {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    bars.iter()
        .enumerate()
        .map(|(i, bar)| PlacedBar {
            label: &bar.label,
            value: bar.value,
            // (u128: a count near u64::MAX must not overflow.)
            width: (u128::from(bar.value) * u128::from(BAR_MAX) / u128::from(max)) as u64,
            colour: colour(bar.tone),
            y: i as u64 * BAR_LINE,
        })
        .collect()
}

/// The template, with every printed value HTML-escaped and live characters (bidi overrides that
/// reorder a trail name, control characters) shown as `\u{..}` rather than acting.
fn template() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(|text| tera::escape_html(&super::visible(text)));
    tera.add_raw_template("report.html", TEMPLATE)?;
    Ok(tera)
}

/// The page being written: which of its elements are open.
struct Page<'w> {
    tera: tera::Tera,
    out: &'w mut dyn std::io::Write,
    context: tera::Context,
    section_open: bool,
    table_open: bool,
}

impl Page<'_> {
    fn part(&mut self, name: &str) -> Result<(), tera::Error> {
        self.context.insert("part", name);
        self.tera
            .render_to("report.html", &self.context, &mut *self.out)
    }

    fn close_table(&mut self) -> Result<(), tera::Error> {
        if std::mem::take(&mut self.table_open) {
            self.part("end_table")?;
        }
        Ok(())
    }

    fn close_section(&mut self) -> Result<(), tera::Error> {
        self.close_table()?;
        if std::mem::take(&mut self.section_open) {
            self.part("end_section")?;
        }
        Ok(())
    }

    fn block(&mut self, block: &Block) -> Result<(), tera::Error> {
        match block {
            Block::MoreRows { .. } if self.table_open => {}
            // Rows with no table to continue start one without a header.
            Block::MoreRows { rows } => {
                return self.block(&Block::Table {
                    headers: Vec::new(),
                    widths: Vec::new(),
                    rows: rows.clone(),
                })
            }
            Block::Table { .. } => {
                self.close_table()?;
                self.table_open = true;
            }
            Block::Section { .. } => {
                self.close_section()?;
                self.section_open = true;
            }
            _ => self.close_table()?,
        }
        if let Block::BarChart { bars } = block {
            let placed = place(bars);
            self.context
                .insert("chart_height", &(placed.len() as u64 * BAR_LINE));
            self.context.insert("chart", &placed);
        }
        self.context.insert("b", block);
        self.part("block")
    }
}

/// Renders the page block by block straight into `out`, so memory does not grow with the number of
/// trails.
pub fn render_to(doc: &Document, out: &mut dyn std::io::Write) -> Result<(), ReportError> {
    let fail = |e: tera::Error| ReportError::Render {
        format: "html",
        message: format!("{e:?}"),
    };
    let mut page = Page {
        tera: template().map_err(fail)?,
        out,
        context: tera::Context::new(),
        section_open: false,
        table_open: false,
    };
    page.context.insert("title", &doc.title);
    page.context.insert("footer", &doc.footer);
    page.part("head").map_err(fail)?;
    let mut failure = None;
    doc.blocks.for_each(&mut |block| {
        if failure.is_none() {
            failure = page.block(block).err();
        }
    })?;
    if let Some(e) = failure {
        return Err(fail(e));
    }
    page.close_section().map_err(fail)?;
    page.part("tail").map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::super::document::{Blocks, Cell, Link, Row, Span, Style, Text};
    use super::*;

    fn page(blocks: Vec<Block>) -> String {
        let doc = Document {
            title: "Title <b>".into(),
            footer: "footer".into(),
            blocks: Blocks::List(blocks),
        };
        let mut out = Vec::new();
        render_to(&doc, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_value_is_escaped_and_live_characters_are_shown() {
        let hostile = "<script>alert(1)</script>\u{1b}[2J\u{202e}x\"'";
        let html = page(vec![
            Block::Section {
                id: "summary",
                heading: Some(hostile.into()),
                new_page: false,
            },
            Block::Paragraph {
                text: Text::plain(hostile)
                    .then(Span::new(hostile, Style::Code).linked(Link::Anchor(hostile.into()))),
            },
            Block::Table {
                headers: vec![hostile.into()],
                widths: vec![1.0],
                rows: vec![Row::new(vec![Cell::from(hostile)]).anchored(hostile.into())],
            },
            Block::KeyValues {
                pairs: vec![(hostile.into(), hostile.into())],
            },
        ]);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(
            !html.contains('\u{1b}') && !html.contains('\u{202e}'),
            "{html}"
        );
        let shown = "&lt;script&gt;alert(1)&lt;&#x2F;script&gt;\\u{1b}[2J\\u{202e}x&quot;&#x27;";
        // Heading, paragraph, link text, link target, header, cell, row anchor, label and value.
        assert_eq!(html.matches(shown).count(), 9, "{html}");
        assert!(html.contains("<title>Title &lt;b&gt; — auditpack</title>"));
    }

    #[test]
    fn sections_tables_and_rows_nest_and_close() {
        let row = |text: &str| Row::new(vec![Cell::from(text).tone(Status::Fail)]);
        let html = page(vec![
            Block::Section {
                id: "findings",
                heading: Some("Findings".into()),
                new_page: true,
            },
            Block::Table {
                headers: vec!["Status".into()],
                widths: vec![1.0],
                rows: vec![row("one")],
            },
            Block::MoreRows {
                rows: vec![row("two")],
            },
            Block::Paragraph {
                text: "after\nthe table".into(),
            },
            Block::Section {
                id: "gaps",
                heading: None,
                new_page: false,
            },
        ]);
        let body = &html[html.find("<section").unwrap()..html.find("<footer").unwrap()];
        // (Whitespace dropped: it is the nesting that counts.)
        let squeezed: String = body.split_whitespace().collect();
        assert_eq!(
            squeezed,
            concat!(
                r#"<sectionid="findings"><h2>Findings</h2>"#,
                r#"<table><thead><tr><th>Status</th></tr></thead><tbody>"#,
                r#"<tr><tdclass="statusFAIL">one</td></tr>"#,
                r#"<tr><tdclass="statusFAIL">two</td></tr>"#,
                r#"</tbody></table><p>after<br>thetable</p></section>"#,
                r#"<sectionid="gaps"></section>"#,
            )
        );
    }

    #[test]
    fn the_chart_scales_bars_to_the_largest() {
        let bar = |label: &str, value, tone| Bar {
            label: label.into(),
            value,
            tone: Some(tone),
        };
        let bars = [
            bar("PASS", 10, Status::Pass),
            bar("FAIL", 5, Status::Fail),
            bar("N/A", 0, Status::NotApplicable),
        ];
        let placed = place(&bars);
        let widths: Vec<u64> = placed.iter().map(|b| b.width).collect();
        assert_eq!(widths, [BAR_MAX, BAR_MAX / 2, 0]);
        assert_eq!(placed[1].y, BAR_LINE);
        assert_eq!(placed[1].colour, "#cf222e");
        let huge = [bar("FAIL", u64::MAX, Status::Fail)];
        assert_eq!(place(&huge)[0].width, BAR_MAX);
        let none = [bar("PASS", 0, Status::Pass)];
        assert_eq!(place(&none)[0].width, 0);
    }
}
