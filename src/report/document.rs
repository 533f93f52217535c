//! A page-independent description of a report: headings, paragraphs, key/value lists and tables.
//! The PDF renderer lays it out on pages.

use crate::assess::SpoolError;

/// A whole report.
pub struct Document<'a> {
    /// Shown on the first page and in the PDF metadata.
    pub title: String,
    /// Printed in every page footer beside "page n of m" (the pack id).
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
    /// Blocks made on demand, each time the document is read (the renderer reads it more than once):
    /// a report of any size holds one block at a time.
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
    /// More rows of the table just before, laid out with its columns: a long table is handed over
    /// a part at a time, so that it is never whole in memory.
    MoreRows(Vec<Vec<String>>),
    /// Horizontal bars, one per (label, value), e.g. PASS/FAIL/UNKNOWN counts.
    BarChart { bars: Vec<(String, u64)> },
}
