//! A page-independent description of a report: headings, paragraphs, key/value lists and tables.
//! Built once from an assessment; the PDF renderer lays it out on pages.

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Shown on the first page and in the PDF metadata.
    pub title: String,
    /// Printed in every page footer beside "page n of m" (the pack id).
    pub footer: String,
    pub blocks: Vec<Block>,
}

/// One piece of content, in reading order.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading; starts a new page when `new_page` is set.
    Heading { text: String, new_page: bool },
    /// A sub-heading.
    Subheading(String),
    /// Running text, wrapped to the page width.
    Paragraph(String),
    /// A bulleted list.
    Bullets(Vec<String>),
    /// Label/value pairs, e.g. the cover details.
    KeyValues(Vec<(String, String)>),
    /// A table whose header row is repeated on every page it spans. `widths` are relative column
    /// widths (same length as `headers`); cells wrap within their column.
    Table {
        headers: Vec<String>,
        widths: Vec<f32>,
        rows: Vec<Vec<String>>,
    },
    /// Horizontal bars, one per (label, value), e.g. PASS/FAIL/UNKNOWN counts.
    BarChart { bars: Vec<(String, u64)> },
}
