//! `report.html`: the report [`Document`] as one self-contained, printable page, written block by
//! block straight into the file, with inline CSS and an inline SVG chart; nothing is fetched from the
//! network.
//!
//! The page around the blocks (head, stylesheet, title, footer) is the tera template
//! `templates/report.html.tera`, rendered with autoescape on. The blocks are written by [`Page`],
//! whose markup can only be string literals and whose text goes through one escaping function
//! (tera's `escape_html` after [`super::visible`]): through tera, the blocks of a 10,000-trail
//! report took four times as long as the whole page had, for the same markup.
//!
//! The page filters its findings rows by status, account, region, check and text with one inline
//! script, `templates/report.js`, which reads the rows' `data-` attributes ([`Facets`]); the page's
//! Content-Security-Policy lets that script run, by its hash, and nothing else.

use super::document::{Bar, Block, Document, Facets, Link, Row, Style, Text};
use super::ReportError;
use crate::assess::Status;
use std::io::Write;

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");
/// The filter: the page's one script, written inline (a unit test checks it cannot end its element
/// early).
const SCRIPT: &str = include_str!("../../templates/report.js");

/// The script's SHA-256 in base64, as the page's Content-Security-Policy names it.
fn script_hash() -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT))
}

/// Widest bar of the chart, in CSS pixels; the others are scaled to it.
const BAR_MAX: u64 = 340;
/// Height of one bar's line in the chart.
const BAR_LINE: u64 = 28;

/// The page's colour for a status (the same as the stylesheet's).
fn colour(tone: Option<Status>) -> &'static str {
    match tone {
        Some(Status::Pass) => "#1a7f37",
        Some(Status::Fail) => "#cf222e",
        Some(Status::Unknown) => "#b08800",
        Some(Status::NotApplicable) | None => "#6e7781",
    }
}

/// The class of a cell showing a status (the stylesheet colours it).
fn status_class(tone: Status) -> &'static str {
    match tone {
        Status::Pass => " class=\"status PASS\"",
        Status::Fail => " class=\"status FAIL\"",
        Status::Unknown => " class=\"status UNKNOWN\"",
        Status::NotApplicable => " class=\"status NOT_APPLICABLE\"",
    }
}

/// The width of a bar for `value` when the largest is `max`.
fn bar_width(value: u64, max: u64) -> u64 {
    // (u128: a count near u64::MAX must not overflow.)
    (u128::from(value) * u128::from(BAR_MAX) / u128::from(max.max(1))) as u64
}

/// The page template, with every printed value HTML-escaped and live characters (bidi overrides
/// that reorder a trail name, control characters) shown as `\u{..}` rather than acting.
fn template() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(|text| tera::escape_html(&super::visible(text)));
    tera.add_raw_template("report.html", TEMPLATE)?;
    Ok(tera)
}

/// The page being written, and which of its elements are open. Markup is only ever `&'static str`
/// (literals); everything else is written with [`Page::text`], which escapes it.
///
/// A subheading starts a part of its section (`<div class="part">`, up to the next subheading or
/// section): the browser lays out only the parts in view (the stylesheet's `content-visibility`),
/// which is what keeps a page of 10,000 trails quick to open and to filter, and the filter folds a
/// part away when none of its findings is shown.
struct Page<'w> {
    out: &'w mut dyn Write,
    section_open: bool,
    part_open: bool,
    table_open: bool,
}

impl Page<'_> {
    fn markup(&mut self, markup: &'static str) -> std::io::Result<()> {
        self.out.write_all(markup.as_bytes())
    }

    /// Text, HTML-escaped with live characters shown as `\u{..}`, as the template's autoescape does.
    fn text(&mut self, text: &str) -> std::io::Result<()> {
        let escaped = tera::escape_html(&super::visible(text));
        self.out.write_all(escaped.as_bytes())
    }

    /// A number (nothing to escape).
    fn number(&mut self, n: u64) -> std::io::Result<()> {
        write!(self.out, "{n}")
    }

    /// Text whose line feeds are line breaks.
    fn lines(&mut self, text: &str) -> std::io::Result<()> {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                // (A line feed after it keeps the lines apart in the text the filter searches.)
                self.markup("<br>\n")?;
            }
            self.text(line)?;
        }
        Ok(())
    }

    /// ` id="..."` when there is an anchor.
    fn id(&mut self, anchor: Option<&str>) -> std::io::Result<()> {
        if let Some(anchor) = anchor {
            self.markup(" id=\"")?;
            self.text(anchor)?;
            self.markup("\"")?;
        }
        Ok(())
    }

    /// ` name="value"`, the value escaped.
    fn attribute(&mut self, name: &'static str, value: &str) -> std::io::Result<()> {
        self.markup(name)?;
        self.text(value)?;
        self.markup("\"")
    }

    /// The `data-` attributes the page's filter (templates/report.js) reads from a trail's or an
    /// account's row: `data-findings` is each finding as `check=STATUS`, space-separated.
    fn facets(&mut self, facets: &Facets) -> std::io::Result<()> {
        self.attribute(" data-account=\"", &facets.account)?;
        if let Some(region) = &facets.region {
            self.attribute(" data-region=\"", region)?;
        }
        let findings: Vec<String> = (facets.findings.iter())
            .map(|(check, status)| format!("{check}={}", status.as_str()))
            .collect();
        self.attribute(" data-findings=\"", &findings.join(" "))
    }

    fn spans(&mut self, text: &Text) -> std::io::Result<()> {
        for span in &text.0 {
            match &span.link {
                Some(Link::Anchor(anchor)) => {
                    self.markup("<a href=\"#")?;
                    self.text(anchor)?;
                    self.markup("\">")?;
                }
                Some(Link::Web(url)) => {
                    self.markup("<a href=\"")?;
                    self.text(url)?;
                    self.markup("\">")?;
                }
                None => {}
            }
            let (open, close) = match span.style {
                Style::Plain => ("", ""),
                Style::Strong => ("<strong>", "</strong>"),
                Style::Emphasis => ("<em>", "</em>"),
                Style::Code => ("<span class=\"mono\">", "</span>"),
            };
            self.markup(open)?;
            self.lines(&span.text)?;
            self.markup(close)?;
            if span.link.is_some() {
                self.markup("</a>")?;
            }
        }
        Ok(())
    }

    fn close_table(&mut self) -> std::io::Result<()> {
        if std::mem::take(&mut self.table_open) {
            self.markup("</tbody>\n</table>\n")?;
        }
        Ok(())
    }

    fn close_part(&mut self) -> std::io::Result<()> {
        self.close_table()?;
        if std::mem::take(&mut self.part_open) {
            self.markup("</div>\n")?;
        }
        Ok(())
    }

    fn close_section(&mut self) -> std::io::Result<()> {
        self.close_part()?;
        if std::mem::take(&mut self.section_open) {
            self.markup("</section>\n\n")?;
        }
        Ok(())
    }

    fn block(&mut self, block: &Block) -> std::io::Result<()> {
        if !matches!(block, Block::MoreRows { .. }) {
            self.close_table()?;
        }
        match block {
            Block::Section { id, heading, .. } => {
                self.close_section()?;
                self.section_open = true;
                self.markup("<section")?;
                self.id(Some(id))?;
                self.markup(">\n")?;
                if let Some(heading) = heading {
                    self.markup("<h2>")?;
                    self.text(heading)?;
                    self.markup("</h2>\n")?;
                }
            }
            Block::Subheading { text, anchor } => {
                self.close_part()?;
                self.part_open = true;
                self.markup("<div class=\"part\">\n<h3")?;
                self.id(anchor.as_deref())?;
                self.markup(">")?;
                self.spans(text)?;
                self.markup("</h3>\n")?;
            }
            Block::Paragraph { text } => {
                self.markup("<p>")?;
                self.spans(text)?;
                self.markup("</p>\n")?;
            }
            Block::Note { text } => {
                self.markup("<p class=\"note\">")?;
                self.spans(text)?;
                self.markup("</p>\n")?;
            }
            Block::List { ordered, items } => self.list(*ordered, items)?,
            Block::KeyValues { pairs } => {
                self.markup("<dl class=\"cover\">\n")?;
                for (label, value) in pairs {
                    self.markup("  <dt>")?;
                    self.text(label)?;
                    self.markup("</dt><dd>")?;
                    self.spans(value)?;
                    self.markup("</dd>\n")?;
                }
                self.markup("</dl>\n")?;
            }
            Block::Table { headers, rows, .. } => self.table(headers, rows)?,
            // Rows with no table to continue start one without a header.
            Block::MoreRows { rows } if !self.table_open => self.table(&[], rows)?,
            Block::MoreRows { rows } => self.rows(rows)?,
            Block::BarChart { bars } => self.chart(bars)?,
        }
        Ok(())
    }

    fn list(&mut self, ordered: bool, items: &[Text]) -> std::io::Result<()> {
        self.markup(if ordered { "<ol>" } else { "<ul>" })?;
        for item in items {
            self.markup("<li>")?;
            self.spans(item)?;
            self.markup("</li>")?;
        }
        self.markup(if ordered { "</ol>\n" } else { "</ul>\n" })
    }

    fn table(&mut self, headers: &[String], rows: &[Row]) -> std::io::Result<()> {
        self.markup("<table>\n")?;
        if !headers.is_empty() {
            self.markup("  <thead><tr>")?;
            for header in headers {
                self.markup("<th>")?;
                self.text(header)?;
                self.markup("</th>")?;
            }
            self.markup("</tr></thead>\n")?;
        }
        self.markup("  <tbody>\n")?;
        self.table_open = true;
        self.rows(rows)
    }

    fn rows(&mut self, rows: &[Row]) -> std::io::Result<()> {
        for row in rows {
            self.markup("<tr")?;
            self.id(row.anchor.as_deref())?;
            if let Some(facets) = &row.facets {
                self.facets(facets)?;
            }
            self.markup(">")?;
            for (i, cell) in row.cells.iter().enumerate() {
                if i > 0 {
                    // (Keeps the cells apart in the row's text, which the filter searches.)
                    self.markup("\n")?;
                }
                self.markup("<td")?;
                self.markup(cell.tone.map_or("", status_class))?;
                self.markup(">")?;
                self.spans(&cell.text)?;
                self.markup("</td>")?;
            }
            self.markup("</tr>\n")?;
        }
        Ok(())
    }

    /// Horizontal bars as inline SVG: label, bar, value, one line each.
    fn chart(&mut self, bars: &[Bar]) -> std::io::Result<()> {
        let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
        self.markup("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"520\" height=\"")?;
        self.number(bars.len() as u64 * BAR_LINE)?;
        self.markup("\" role=\"img\" aria-label=\"Checks by status\">\n")?;
        for (i, bar) in bars.iter().enumerate() {
            let (y, width) = (i as u64 * BAR_LINE, bar_width(bar.value, max));
            self.markup("  <text x=\"0\" y=\"")?;
            self.number(y + 15)?;
            self.markup("\" font-size=\"13\" font-family=\"sans-serif\">")?;
            self.text(&bar.label)?;
            self.markup("</text>\n  <rect x=\"110\" y=\"")?;
            self.number(y)?;
            self.markup("\" width=\"")?;
            self.number(width)?;
            self.markup("\" height=\"20\" fill=\"")?;
            self.markup(colour(bar.tone))?;
            self.markup("\"></rect>\n  <text x=\"")?;
            self.number(width + 116)?;
            self.markup("\" y=\"")?;
            self.number(y + 15)?;
            self.markup("\" font-size=\"13\" font-family=\"sans-serif\">")?;
            self.number(bar.value)?;
            self.markup("</text>\n")?;
        }
        self.markup("</svg>\n")
    }
}

/// Renders the page block by block straight into `out`, so memory does not grow with the number of
/// trails.
pub fn render_to(doc: &Document, out: &mut dyn Write) -> Result<(), ReportError> {
    let fail = |message: String| ReportError::Render {
        format: "html",
        message,
    };
    let tera = template().map_err(|e| fail(format!("{e:?}")))?;
    let mut context = tera::Context::new();
    context.insert("title", &doc.title);
    context.insert("footer", &doc.footer);
    context.insert("script", SCRIPT);
    context.insert("script_hash", &script_hash());
    let mut part = |name: &str, out: &mut dyn Write| {
        context.insert("part", name);
        (tera.render_to("report.html", &context, out)).map_err(|e| fail(format!("{e:?}")))
    };
    part("head", out)?;
    let mut page = Page {
        out,
        section_open: false,
        part_open: false,
        table_open: false,
    };
    let mut failure = None;
    doc.blocks.for_each(&mut |block| {
        if failure.is_none() {
            failure = page.block(block).err();
        }
    })?;
    if let Some(e) = failure {
        return Err(fail(e.to_string()));
    }
    page.close_section().map_err(|e| fail(e.to_string()))?;
    part("tail", page.out)
}

#[cfg(test)]
mod tests {
    use super::super::document::{Blocks, Cell, Facets, Span};
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
                rows: vec![Row::new(vec![Cell::from(hostile)])
                    .anchored(hostile.into())
                    .about(Facets {
                        account: hostile.into(),
                        region: Some(hostile.into()),
                        findings: vec![(hostile.into(), Status::Fail)],
                    })],
            },
            Block::KeyValues {
                pairs: vec![(hostile.into(), hostile.into())],
            },
            Block::List {
                ordered: false,
                items: vec![Text(vec![
                    Span::new(hostile, Style::Plain).linked(Link::Web(hostile.into()))
                ])],
            },
            Block::BarChart {
                bars: vec![Bar {
                    label: hostile.into(),
                    value: 1,
                    tone: None,
                }],
            },
        ]);
        // (The page's own script element has an id: a bare `<script>` could only come from a value.)
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert_eq!(html.matches("<script").count(), 1, "only the filter");
        assert!(
            !html.contains('\u{1b}') && !html.contains('\u{202e}'),
            "{html}"
        );
        let shown = "&lt;script&gt;alert(1)&lt;&#x2F;script&gt;\\u{1b}[2J\\u{202e}x&quot;&#x27;";
        // Heading, paragraph, link text and target, header, cell, row anchor and its account,
        // region and check, label, value, list item and its address, bar label.
        assert_eq!(html.matches(shown).count(), 15, "{html}");
        assert!(html.contains("<title>Title &lt;b&gt; — auditpack</title>"));
        assert!(html.contains("<h1>Title &lt;b&gt;</h1>"));
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
                text: Text::code("after\nthe").and(" table"),
            },
            Block::Subheading {
                text: "Trail one".into(),
                anchor: Some("trail-1".into()),
            },
            Block::Table {
                headers: vec![],
                widths: vec![],
                rows: vec![row("four")],
            },
            Block::Subheading {
                text: "Trail two".into(),
                anchor: None,
            },
            Block::Paragraph {
                text: "No finding".into(),
            },
            Block::Section {
                id: "gaps",
                heading: None,
                new_page: false,
            },
            // Rows with no table before them.
            Block::MoreRows {
                rows: vec![row("three")],
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
                r#"</tbody></table><p><spanclass="mono">after<br>the</span>table</p>"#,
                // A subheading starts a part, which the next one or the section's end closes.
                r#"<divclass="part"><h3id="trail-1">Trailone</h3>"#,
                r#"<table><tbody><tr><tdclass="statusFAIL">four</td></tr></tbody></table></div>"#,
                r#"<divclass="part"><h3>Trailtwo</h3><p>Nofinding</p></div></section>"#,
                r#"<sectionid="gaps"><table><tbody><tr><tdclass="statusFAIL">three</td></tr>"#,
                r#"</tbody></table></section>"#,
            )
        );
    }

    #[test]
    fn a_trails_row_carries_what_the_filter_reads() {
        let facets = |region: Option<&str>| Facets {
            account: "111122223333".into(),
            region: region.map(Into::into),
            findings: vec![
                ("kms-key-rotation".into(), Status::NotApplicable),
                ("cloudtrail-kms-encryption".into(), Status::Pass),
            ],
        };
        let html = page(vec![Block::Table {
            headers: vec!["Check".into()],
            widths: vec![1.0],
            rows: vec![
                Row::new(vec![Cell::from("trail")]).about(facets(Some("eu-west-1"))),
                Row::new(vec![Cell::from("account")]).about(facets(None)),
                Row::new(vec![Cell::from("no finding")]),
            ],
        }]);
        let findings = "kms-key-rotation=NOT_APPLICABLE cloudtrail-kms-encryption=PASS";
        assert!(html.contains(&format!(
            r#"<tr data-account="111122223333" data-region="eu-west-1" data-findings="{findings}"><td>trail</td></tr>"#
        )));
        assert!(html.contains(&format!(
            r#"<tr data-account="111122223333" data-findings="{findings}"><td>account</td></tr>"#
        )));
        assert!(html.contains("<tr><td>no finding</td></tr>"));
    }

    #[test]
    fn the_one_script_is_inline_and_the_only_one_the_policy_lets_run() {
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("fetch("));
        let html = page(Vec::new());
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains(&format!("<script id=\"filter-script\">{SCRIPT}</script>")));
        // (The hash is escaped like every value: the browser reads `&#x2F;` as `/`.)
        let hash = tera::escape_html(&script_hash());
        assert!(html.contains(&format!(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'\""
        )));
        // The controls show only when the script runs.
        assert!(html.contains(r#"<form id="filter" class="filter" role="search" aria-label="Filter the trails and accounts" hidden>"#));
        assert!(html.contains(r#"<p id="filter-active" class="note" hidden></p>"#));
    }

    #[test]
    fn the_chart_scales_bars_to_the_largest() {
        assert_eq!(bar_width(10, 10), BAR_MAX);
        assert_eq!(bar_width(5, 10), BAR_MAX / 2);
        assert_eq!(bar_width(0, 10), 0);
        assert_eq!(bar_width(0, 0), 0);
        assert_eq!(bar_width(u64::MAX, u64::MAX), BAR_MAX);
        let html = page(vec![Block::BarChart {
            bars: vec![
                Bar {
                    label: "PASS".into(),
                    value: 10,
                    tone: Some(Status::Pass),
                },
                Bar {
                    label: "FAIL".into(),
                    value: 5,
                    tone: Some(Status::Fail),
                },
            ],
        }]);
        assert!(html.contains("height=\"56\""), "{html}");
        assert!(html.contains(r##"<rect x="110" y="28" width="170" height="20" fill="#cf222e">"##));
        assert!(html
            .contains(r#"<text x="286" y="43" font-size="13" font-family="sans-serif">5</text>"#));
    }
}
