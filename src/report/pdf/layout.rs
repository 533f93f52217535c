//! Places a document's blocks on pages, top to bottom, handing each page on as soon as it is full:
//! the title, headings, paragraphs, notes, lists, label/value lists and bar charts (tables are in
//! [`super::table`]).

use super::fonts::Fonts;
use super::page::PageOps;
use super::style::*;
use super::table::OpenTable;
use super::wrap::{wrap, Measure};
use crate::report::document::{Bar, Block, Text};

/// A heading waiting to be drawn with the start of what follows it, so that no page ends with one.
struct Heading {
    lines: Vec<String>,
    size: f32,
    lead: f32,
    colour: Rgb3,
    /// A section heading, ruled below; else a subheading.
    ruled: bool,
}

impl Heading {
    fn height(&self) -> f32 {
        self.lines.len() as f32 * self.lead + if self.ruled { 9.0 } else { 3.0 }
    }
}

/// The cursor over the pages being laid out.
pub(super) struct Layout<'a> {
    pub fonts: &'static Fonts,
    on_page: &'a mut dyn FnMut(PageOps),
    pub page: PageOps,
    /// Top of the free space on the current page.
    pub y: f32,
    /// The table being laid out, which [`Block::MoreRows`] continues; closed by the next block.
    pub open_table: Option<OpenTable>,
    /// Headings not drawn yet (see [`Layout::place_headings`]).
    headings: Vec<Heading>,
}

impl<'a> Layout<'a> {
    pub fn new(fonts: &'static Fonts, on_page: &'a mut dyn FnMut(PageOps)) -> Self {
        Layout {
            fonts,
            on_page,
            page: PageOps::default(),
            y: CONTENT_TOP,
            open_table: None,
            headings: Vec::new(),
        }
    }

    /// Lays out one block.
    pub fn block(&mut self, block: &Block) {
        if !matches!(block, Block::MoreRows { .. }) {
            self.close_table();
        }
        match block {
            // Headings wait for what follows; a table keeps them with its header and first row.
            Block::Section { .. } | Block::Subheading { .. } => {}
            Block::Table { .. } | Block::MoreRows { .. } => {}
            _ => self.place_headings(2.0 * BODY_LEAD),
        }
        match block {
            Block::Section {
                heading, new_page, ..
            } => self.heading(heading.as_deref().unwrap_or(""), *new_page),
            Block::Subheading { text, .. } => self.subheading(&text.as_plain()),
            Block::Paragraph { text } => self.paragraph(&text.as_plain()),
            Block::Note { text } => self.note(&text.as_plain()),
            Block::List { ordered, items } => self.list(*ordered, items),
            Block::KeyValues { pairs } => self.key_values(pairs),
            Block::Table {
                headers,
                widths,
                rows,
            } => self.table(headers, widths, rows),
            Block::MoreRows { rows } => self.more_rows(rows),
            Block::BarChart { bars } => self.bar_chart(bars),
        }
    }

    pub fn new_page(&mut self) {
        (self.on_page)(std::mem::take(&mut self.page));
        self.y = CONTENT_TOP;
    }

    /// Closes what is open and hands on the last page.
    pub fn finish(mut self) {
        self.close_table();
        self.place_headings(0.0);
        (self.on_page)(std::mem::take(&mut self.page));
    }

    fn at_top(&self) -> bool {
        self.y >= CONTENT_TOP - 0.01
    }

    fn fits(&self, h: f32) -> bool {
        self.y - h >= MARGIN_BOTTOM - 0.01
    }

    /// Starts a new page unless `h` points fit below the cursor (or the page is still empty).
    pub fn ensure(&mut self, h: f32) {
        if !self.fits(h) && !self.at_top() {
            self.new_page();
        }
    }

    /// Vertical space, dropped at the top of a page.
    pub fn space(&mut self, h: f32) {
        if !self.at_top() {
            self.y -= h;
        }
    }

    fn text(&mut self, x: f32, baseline: f32, s: &str, bold: bool, size: f32, c: Rgb3) {
        self.page.text(self.fonts, (x, baseline), s, bold, size, c);
    }

    pub fn wrap(&self, text: &str, bold: bool, size: f32, max_w: f32) -> Vec<String> {
        wrap(self.fonts.face(bold), text, size, max_w)
    }

    /// Draws lines one below the other, continuing on a new page when one does not fit.
    fn lines(&mut self, x: f32, lines: &[String], bold: bool, size: f32, lead: f32, c: Rgb3) {
        for line in lines {
            self.ensure(lead);
            let b = baseline(self.y, lead, size);
            self.text(x, b, line, bold, size, c);
            self.y -= lead;
        }
    }

    pub fn title(&mut self, title: &str) {
        if title.trim().is_empty() {
            return;
        }
        let lines = self.wrap(title, true, TITLE_SIZE, CONTENT_W);
        self.lines(MARGIN_X, &lines, true, TITLE_SIZE, TITLE_LEAD, ACCENT);
        self.y -= 4.0;
        self.page.rule(self.y, 1.2, ACCENT);
        self.y -= 10.0;
    }

    /// Draws the headings waiting for what follows, on a new page unless they fit on this one with
    /// `keep` points of what follows.
    pub fn place_headings(&mut self, keep: f32) {
        if self.headings.is_empty() {
            return;
        }
        let headings = std::mem::take(&mut self.headings);
        self.ensure(headings.iter().map(Heading::height).sum::<f32>() + keep);
        for h in headings {
            self.lines(MARGIN_X, &h.lines, true, h.size, h.lead, h.colour);
            if h.ruled {
                self.y -= 2.0;
                self.page.rule(self.y, 0.6, ACCENT);
                self.y -= 7.0;
            } else {
                self.y -= 3.0;
            }
        }
    }

    fn heading(&mut self, text: &str, new_page: bool) {
        if new_page && !self.at_top() {
            self.place_headings(0.0);
            self.new_page();
        }
        if text.trim().is_empty() {
            return;
        }
        self.space(12.0);
        self.headings.push(Heading {
            lines: self.wrap(text, true, H1_SIZE, CONTENT_W),
            size: H1_SIZE,
            lead: H1_LEAD,
            colour: ACCENT,
            ruled: true,
        });
    }

    fn subheading(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.space(8.0);
        self.headings.push(Heading {
            lines: self.wrap(text, true, H2_SIZE, CONTENT_W),
            size: H2_SIZE,
            lead: H2_LEAD,
            colour: TEXT,
            ruled: false,
        });
    }

    fn paragraph(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let lines = self.wrap(text, false, BODY_SIZE, CONTENT_W);
        self.lines(MARGIN_X, &lines, false, BODY_SIZE, BODY_LEAD, TEXT);
        self.y -= 5.0;
    }

    /// A paragraph in a tinted box; one taller than a page is laid out as a plain paragraph.
    fn note(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let lines = self.wrap(text, false, BODY_SIZE, CONTENT_W - 2.0 * NOTE_PAD);
        let h = lines.len() as f32 * BODY_LEAD + 2.0 * NOTE_PAD;
        if h > CONTENT_H {
            return self.paragraph(text);
        }
        self.space(2.0);
        self.ensure(h);
        self.page
            .fill_rect(MARGIN_X, self.y - h, CONTENT_W, h, NOTE_BG);
        self.page
            .line((MARGIN_X, self.y), (MARGIN_X, self.y - h), 1.5, NOTE_RULE);
        self.y -= NOTE_PAD;
        let x = MARGIN_X + NOTE_PAD;
        self.lines(x, &lines, false, BODY_SIZE, BODY_LEAD, TEXT);
        self.y -= NOTE_PAD + 7.0;
    }

    /// A bulleted or numbered list: markers end 5 mm in, items start 7.5 mm in.
    fn list(&mut self, ordered: bool, items: &[Text]) {
        let indent = 7.5 * PT_PER_MM;
        let marker_end = MARGIN_X + 5.0 * PT_PER_MM;
        for (n, item) in items.iter().enumerate() {
            let lines = self.wrap(&item.as_plain(), false, BODY_SIZE, CONTENT_W - indent);
            let marker = if ordered {
                format!("{}.", n + 1)
            } else {
                "•".to_string()
            };
            for (i, line) in lines.iter().enumerate() {
                self.ensure(BODY_LEAD);
                let b = baseline(self.y, BODY_LEAD, BODY_SIZE);
                if i == 0 {
                    let x = marker_end - self.fonts.face(false).width(&marker, BODY_SIZE);
                    self.text(x, b, &marker, false, BODY_SIZE, ACCENT);
                }
                self.text(MARGIN_X + indent, b, line, false, BODY_SIZE, TEXT);
                self.y -= BODY_LEAD;
            }
            self.y -= 2.0;
        }
        if !items.is_empty() {
            self.y -= 3.0;
        }
    }

    fn key_values(&mut self, pairs: &[(String, Text)]) {
        if pairs.is_empty() {
            return;
        }
        let bold = self.fonts.face(true);
        let widest = pairs
            .iter()
            .map(|(k, _)| bold.width(k.trim(), BODY_SIZE))
            .fold(0.0f32, f32::max);
        let label_w = (widest + 12.0).clamp(70.0, CONTENT_W * 0.35);
        let value_x = MARGIN_X + label_w;
        let value_w = CONTENT_W - label_w;
        self.space(2.0);
        for (key, value) in pairs {
            let klines = self.wrap(key, true, BODY_SIZE, label_w - 10.0);
            let vlines = self.wrap(&value.as_plain(), false, BODY_SIZE, value_w);
            let n = klines.len().max(vlines.len());
            let h = n as f32 * BODY_LEAD + 4.0;
            if h <= CONTENT_H {
                self.ensure(h);
            }
            for i in 0..n {
                self.ensure(BODY_LEAD);
                let b = baseline(self.y, BODY_LEAD, BODY_SIZE);
                if let Some(k) = klines.get(i) {
                    self.text(MARGIN_X, b, k, true, BODY_SIZE, TEXT);
                }
                if let Some(v) = vlines.get(i) {
                    self.text(value_x, b, v, false, BODY_SIZE, TEXT);
                }
                self.y -= BODY_LEAD;
            }
            self.y -= 1.5;
            self.page.rule(self.y, 0.4, RULE_LIGHT);
            self.y -= 2.5;
        }
        self.y -= 4.0;
    }

    fn bar_chart(&mut self, bars: &[Bar]) {
        if bars.is_empty() {
            return;
        }
        let bold = self.fonts.face(true);
        let regular = self.fonts.face(false);
        let widest = bars
            .iter()
            .map(|b| bold.width(b.label.trim(), BODY_SIZE))
            .fold(0.0f32, f32::max);
        let label_w = (widest + 12.0).clamp(50.0, CONTENT_W * 0.3);
        let num_w = bars
            .iter()
            .map(|b| regular.width(&b.value.to_string(), BODY_SIZE))
            .fold(0.0f32, f32::max)
            + 8.0;
        let bar_x = MARGIN_X + label_w;
        let bar_max = (CONTENT_W - label_w - num_w).max(10.0);
        let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
        let bar_h = 9.0;
        self.space(4.0);
        for bar in bars {
            let lines = self.wrap(&bar.label, true, BODY_SIZE, label_w - 10.0);
            let row_h = (lines.len() as f32 * BODY_LEAD).max(bar_h + 4.0) + 5.0;
            self.ensure(row_h);
            let top = self.y;
            let mid = top - row_h / 2.0;
            let first = mid + (lines.len() as f32 - 1.0) * BODY_LEAD / 2.0;
            for (i, line) in lines.iter().enumerate() {
                let b = first - i as f32 * BODY_LEAD - BODY_SIZE * 0.36;
                self.text(MARGIN_X, b, line, true, BODY_SIZE, TEXT);
            }
            let len = bar_length(bar.value, max, bar_max);
            if bar.value > 0 {
                let colour = tone(bar.tone);
                self.page
                    .fill_rect(bar_x, mid - bar_h / 2.0, len.max(1.0), bar_h, colour);
            }
            self.page
                .line((bar_x, top), (bar_x, top - row_h), 0.5, RULE);
            let value = bar.value.to_string();
            let b = mid - BODY_SIZE * 0.36;
            self.text(
                bar_x + len.max(1.0) + 4.0,
                b,
                &value,
                false,
                BODY_SIZE,
                TEXT,
            );
            self.y -= row_h;
        }
        self.y -= 8.0;
    }
}

/// The length of a bar for `value` when the largest value's bar is `longest` long.
fn bar_length(value: u64, max: u64, longest: f32) -> f32 {
    if max == 0 {
        0.0
    } else {
        (value as f64 / max as f64 * f64::from(longest)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::super::fonts::fonts;
    use super::*;

    /// Lays blocks out, returning how many pages they took and where the cursor ended.
    fn pages(blocks: &[Block]) -> (usize, f32) {
        let mut count = 0;
        let mut on_page = |_: PageOps| count += 1;
        let mut layout = Layout::new(fonts().unwrap(), &mut on_page);
        blocks.iter().for_each(|b| layout.block(b));
        let y = layout.y;
        layout.finish();
        (count, y)
    }

    fn paragraph(text: &str) -> Block {
        Block::Paragraph { text: text.into() }
    }

    /// One-line paragraphs that fit on a page: each takes a line and 5 points below it.
    fn per_page() -> usize {
        ((CONTENT_H - BODY_LEAD) / (BODY_LEAD + 5.0)) as usize + 1
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        assert_eq!(bar_length(5, 10, 300.0), 150.0);
        assert_eq!(bar_length(10, 10, 300.0), 300.0);
        assert_eq!(bar_length(0, 0, 300.0), 0.0);
        assert_eq!(bar_length(u64::MAX, u64::MAX, 300.0), 300.0);
    }

    #[test]
    fn paragraphs_flow_onto_new_pages() {
        // A paragraph takes its lines plus 5 points.
        let (count, y) = pages(&[paragraph("one line")]);
        assert_eq!(count, 1);
        assert!((CONTENT_TOP - y - (BODY_LEAD + 5.0)).abs() < 1e-3);
        let many = |n| -> Vec<Block> { (0..n).map(|_| paragraph("line")).collect() };
        assert_eq!(pages(&many(per_page())).0, 1);
        assert_eq!(pages(&many(per_page() + 1)).0, 2);
    }

    #[test]
    fn a_section_with_new_page_starts_one_unless_the_page_is_empty() {
        let section = |new_page| Block::Section {
            id: "x",
            heading: Some("Heading".into()),
            new_page,
        };
        assert_eq!(pages(&[section(true)]).0, 1);
        assert_eq!(pages(&[paragraph("a"), section(true)]).0, 2);
        assert_eq!(pages(&[paragraph("a"), section(false)]).0, 1);
    }

    /// The texts each page shows.
    fn page_texts(blocks: &[Block]) -> Vec<String> {
        let mut pages = Vec::new();
        let mut on_page = |page: PageOps| {
            let mut text = String::new();
            for op in &page.text {
                if let printpdf::Op::ShowText { items } = op {
                    for item in items {
                        if let printpdf::TextItem::Text(s) = item {
                            text.push_str(s);
                            text.push('|');
                        }
                    }
                }
            }
            pages.push(text);
        };
        let mut layout = Layout::new(fonts().unwrap(), &mut on_page);
        blocks.iter().for_each(|b| layout.block(b));
        layout.finish();
        pages
    }

    #[test]
    fn headings_go_with_what_follows_them() {
        use crate::report::document::{Cell, Row};
        // Room for a few lines at the bottom of page 1: not for a table's header and a five-line
        // first row, so the headings move to page 2 with the table.
        let mut blocks: Vec<Block> = (1..per_page() - 1).map(|_| paragraph("line")).collect();
        blocks.push(Block::Section {
            id: "findings",
            heading: Some("Findings".into()),
            new_page: false,
        });
        blocks.push(Block::Subheading {
            text: "Trail".into(),
            anchor: None,
        });
        blocks.push(Block::Table {
            headers: vec!["Check".into()],
            widths: vec![1.0],
            rows: vec![Row::new(vec![Cell::from("1\n2\n3\n4\n5")])],
        });
        let pages = page_texts(&blocks);
        assert_eq!(pages.len(), 2);
        assert!(!pages[0].contains("Findings") && !pages[0].contains("Trail"));
        assert!(
            pages[1].starts_with("Findings|Trail|Check|1|"),
            "{}",
            pages[1]
        );
        // A heading at the very end is still drawn.
        let pages = page_texts(&[Block::Subheading {
            text: "Last".into(),
            anchor: None,
        }]);
        assert_eq!(pages, ["Last|"]);
    }

    #[test]
    fn a_note_is_kept_whole_on_a_page() {
        // Fill the page to just above the bottom margin, then a three-line note moves on.
        let mut blocks: Vec<Block> = (1..per_page()).map(|_| paragraph("line")).collect();
        blocks.push(Block::Note {
            text: "first\nsecond\nthird".into(),
        });
        let (count, y) = pages(&blocks);
        assert_eq!(count, 2);
        let h = 3.0 * BODY_LEAD + 2.0 * NOTE_PAD;
        assert!((CONTENT_TOP - y - (h + 7.0)).abs() < 1e-3, "{y}");
    }
}
