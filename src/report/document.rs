//! The one report document both the HTML and the PDF render: sections, headings, texts, lists,
//! label/value lists, tables and a bar chart, in reading order ([`super::content`] builds it).
//!
//! What only one format shows is data here, never a second copy of a sentence: anchors and links
//! for the page, what a findings row is about (the page filters by it), a status tone per table
//! cell and per bar (colours in both formats), page breaks and relative column widths for the PDF.

use crate::assess::{SpoolError, Status};
use std::borrow::Cow;

/// A whole report.
pub struct Document<'a> {
    /// The page title and the PDF's first line and metadata title.
    pub title: String,
    /// The closing line of the page, and the PDF's every page footer beside "page n of m".
    pub footer: String,
    pub blocks: Blocks<'a>,
}

/// Makes a document's blocks, handing each to the given function in reading order; fails when the
/// findings they are made from cannot be read back.
pub type MakeBlocks<'a> = Box<dyn Fn(&mut dyn FnMut(Block)) -> Result<(), SpoolError> + 'a>;

/// The content of a document, in reading order.
pub enum Blocks<'a> {
    /// Every block, held in memory.
    List(Vec<Block>),
    /// Blocks made on demand, each time the document is read (the PDF reads it twice): a report of
    /// any size holds one block at a time.
    Made(MakeBlocks<'a>),
}

impl Blocks<'_> {
    /// Calls `f` with each block in order.
    pub fn for_each(&self, f: &mut dyn FnMut(&Block)) -> Result<(), SpoolError> {
        match self {
            Blocks::List(blocks) => {
                blocks.iter().for_each(f);
                Ok(())
            }
            Blocks::Made(make) => make(&mut |block| f(&block)),
        }
    }
}

/// One piece of content, in reading order.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Starts a section (and ends the one before): `id` is its anchor in the page; its heading, if
    /// any, starts a new PDF page when `new_page` is set.
    Section {
        id: &'static str,
        heading: Option<String>,
        new_page: bool,
    },
    /// A heading within a section, with its anchor in the page.
    Subheading { text: Text, anchor: Option<String> },
    /// Running text.
    Paragraph { text: Text },
    /// Running text set apart as a warning.
    Note { text: Text },
    /// A bulleted list, or a numbered one when `ordered`.
    List { ordered: bool, items: Vec<Text> },
    /// Label/value pairs, e.g. the cover details.
    KeyValues { pairs: Vec<(String, Text)> },
    /// A table whose header row the PDF repeats on every page it spans. `widths` are the PDF's
    /// relative column widths (same length as `headers`); cells wrap within their column.
    Table {
        headers: Vec<String>,
        widths: Vec<f32>,
        rows: Vec<Row>,
    },
    /// More rows of the table just before: a long table is handed over a part at a time, so that it
    /// is never whole in memory.
    MoreRows { rows: Vec<Row> },
    /// Horizontal bars, e.g. the checks counted by status.
    BarChart { bars: Vec<Bar> },
}

/// Text made of spans; a line feed in a span starts a new line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text(pub Vec<Span>);

/// A run of text in one style, perhaps a link.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub text: String,
    pub style: Style,
    pub link: Option<Link>,
}

/// How a span is set. The PDF sets every span in the body font; the page marks them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Strong,
    Emphasis,
    /// Identifiers, ARNs and digests, in the page's monospace font.
    Code,
}

/// Where a span leads in the page (the PDF shows the text only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Another place in the same page, by its anchor (a section id, a row anchor...).
    Anchor(String),
    /// A web address, followed only when the reader clicks it.
    Web(String),
}

/// A table row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The row's anchor in the page, for links to it.
    pub anchor: Option<String>,
    /// What the row is about when it shows a trail or an account: the page's filter shows or hides
    /// it by these (the PDF shows every row).
    pub facets: Option<Facets>,
    pub cells: Vec<Cell>,
}

/// What a row showing a trail or an account is about: the account, a trail's home region, and every
/// finding of the trail or account as its check and status (the page filters rows by these).
#[derive(Debug, Clone, PartialEq)]
pub struct Facets {
    pub account: String,
    pub region: Option<String>,
    pub findings: Vec<(String, Status)>,
}

/// A table cell: text, and the status it shows (coloured in both formats).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub text: Text,
    pub tone: Option<Status>,
}

/// One bar of a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    /// The status the bar counts, which gives its colour.
    pub tone: Option<Status>,
}

impl Span {
    pub fn new(text: impl Into<String>, style: Style) -> Self {
        Span {
            text: text.into(),
            style,
            link: None,
        }
    }

    /// The span as a link to `link`.
    pub fn linked(mut self, link: Link) -> Self {
        self.link = Some(link);
        self
    }
}

impl Text {
    /// Text in one plain span.
    pub fn plain(text: impl Into<String>) -> Self {
        Text(vec![Span::new(text, Style::Plain)])
    }

    /// Text in one code span.
    pub fn code(text: impl Into<String>) -> Self {
        Text(vec![Span::new(text, Style::Code)])
    }

    /// Appends a span.
    pub fn then(mut self, span: Span) -> Self {
        self.0.push(span);
        self
    }

    /// Appends a span in `style`.
    pub fn add(self, style: Style, text: impl Into<String>) -> Self {
        self.then(Span::new(text, style))
    }

    /// Appends a plain span.
    pub fn and(self, text: impl Into<String>) -> Self {
        self.add(Style::Plain, text)
    }

    /// The text without its styles and links, as the PDF shows it.
    pub fn as_plain(&self) -> Cow<'_, str> {
        match self.0.as_slice() {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(&one.text),
            spans => Cow::Owned(spans.iter().map(|s| s.text.as_str()).collect()),
        }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::plain(text)
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text::plain(text)
    }
}

impl Cell {
    /// The cell with the status it shows.
    pub fn tone(mut self, status: Status) -> Self {
        self.tone = Some(status);
        self
    }
}

impl<T: Into<Text>> From<T> for Cell {
    fn from(text: T) -> Self {
        Cell {
            text: text.into(),
            tone: None,
        }
    }
}

impl Row {
    /// A row of cells without an anchor.
    pub fn new(cells: Vec<Cell>) -> Self {
        Row {
            anchor: None,
            facets: None,
            cells,
        }
    }

    /// The row, with an anchor links can lead to.
    pub fn anchored(mut self, anchor: String) -> Self {
        self.anchor = Some(anchor);
        self
    }

    /// The row, as one showing the trail or account `facets` describes.
    pub fn about(mut self, facets: Facets) -> Self {
        self.facets = Some(facets);
        self
    }
}

impl Block {
    /// Every text the block shows a reader, in order: headings, paragraphs, list items, labels and
    /// values, table headers and cells, bar labels and values (what both formats must show).
    pub fn texts(&self) -> Vec<Cow<'_, str>> {
        fn cells(rows: &[Row]) -> impl Iterator<Item = Cow<'_, str>> {
            rows.iter()
                .flat_map(|r| r.cells.iter().map(|c| c.text.as_plain()))
        }
        match self {
            Block::Section { heading, .. } => {
                heading.iter().map(|h| Cow::from(h.as_str())).collect()
            }
            Block::Subheading { text, .. } | Block::Paragraph { text } | Block::Note { text } => {
                vec![text.as_plain()]
            }
            Block::List { items, .. } => items.iter().map(Text::as_plain).collect(),
            Block::KeyValues { pairs } => pairs
                .iter()
                .flat_map(|(k, v)| [Cow::from(k.as_str()), v.as_plain()])
                .collect(),
            Block::Table { headers, rows, .. } => headers
                .iter()
                .map(|h| Cow::from(h.as_str()))
                .chain(cells(rows))
                .collect(),
            Block::MoreRows { rows } => cells(rows).collect(),
            Block::BarChart { bars } => bars
                .iter()
                .flat_map(|b| [Cow::from(b.label.as_str()), Cow::from(b.value.to_string())])
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_joins_spans_and_borrows_a_single_one() {
        let one = Text::plain("trail-1");
        assert!(matches!(one.as_plain(), Cow::Borrowed("trail-1")));
        let several = Text::code("check-id")
            .and("\n")
            .add(Style::Emphasis, "rule");
        assert_eq!(several.as_plain(), "check-id\nrule");
        assert_eq!(Text::default().as_plain(), "");
    }

    #[test]
    fn a_blocks_texts_are_what_a_reader_sees() {
        let table = Block::Table {
            headers: vec!["Check".into(), "Status".into()],
            widths: vec![1.0, 1.0],
            rows: vec![Row::new(vec![
                Text::code("kms-key-rotation").into(),
                Cell::from("FAIL").tone(Status::Fail),
            ])
            .anchored("rec-1".into())],
        };
        assert_eq!(
            table.texts(),
            ["Check", "Status", "kms-key-rotation", "FAIL"]
        );
        let chart = Block::BarChart {
            bars: vec![Bar {
                label: "PASS".into(),
                value: 12,
                tone: Some(Status::Pass),
            }],
        };
        assert_eq!(chart.texts(), ["PASS", "12"]);
        let cover = Block::Section {
            id: "cover",
            heading: None,
            new_page: false,
        };
        assert!(cover.texts().is_empty());
    }
}
