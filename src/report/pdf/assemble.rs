//! Assembling the file around printpdf: the fixed objects (catalog, page tree, fonts with their
//! widths and /ToUnicode maps, info) come from a one-page skeleton document; the pages are then
//! serialized by printpdf a batch at a time and each page's content stream moved into its slot.
//!
//! This is sound because the fonts are embedded whole (not subset), so glyph codes do not depend on
//! which glyphs a batch uses, and the font resource names are fixed.

use super::file::{clean_info, deflate, PdfFile};
use super::fonts::{Fonts, UsedChars};
use super::style::{BODY_SIZE, PAGE_H_MM, PAGE_W_MM};
use super::PdfError;
use lopdf::{Dictionary, Object, ObjectId};
use printpdf::{
    Mm, PdfDocument, PdfFont, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, PdfWarnMsg,
};

/// Object numbers of the pages: the skeleton's page and content stream are page 1's, then two new
/// ones (page, content stream) for each further page, from `next` on.
#[derive(Debug, Clone, Copy)]
struct Numbering {
    first: (ObjectId, ObjectId),
    next: u32,
}

impl Numbering {
    /// The page and content stream object ids of page `i` (from 0).
    fn ids(&self, i: usize) -> (ObjectId, ObjectId) {
        if i == 0 {
            self.first
        } else {
            let n = self.next + 2 * (i as u32 - 1);
            ((n, 0), (n + 1, 0))
        }
    }

    /// The largest object number of a file of `total` pages.
    fn max_id(&self, total: usize) -> u32 {
        self.next + 2 * (total.max(1) as u32 - 1) - 1
    }
}

/// Writes the file: its fixed objects first, then pages batch by batch, then the page tree.
pub(super) struct PageWriter<'w> {
    file: PdfFile<'w>,
    /// The page dictionary every page copies (all pages share the fonts, and nothing else, as
    /// resources).
    template: Dictionary,
    pages_id: ObjectId,
    page_tree: Dictionary,
    trailer: Dictionary,
    numbering: Numbering,
    placed: usize,
    total: usize,
}

fn save_options() -> PdfSaveOptions {
    PdfSaveOptions {
        optimize: true,
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    }
}

/// Fails on the errors printpdf reports while building objects (e.g. a font it cannot embed).
fn check(warnings: Vec<PdfWarnMsg>) -> Result<(), PdfError> {
    let errors: Vec<String> = warnings
        .into_iter()
        .filter(|w| w.severity == PdfParseErrorSeverity::Error)
        .map(|w| w.msg)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PdfError::Build(errors.join("; ")))
    }
}

fn broken(what: &str) -> PdfError {
    PdfError::Build(format!("printpdf wrote no {what}"))
}

impl<'w> PageWriter<'w> {
    /// Builds the skeleton, a one-page document whose page shows every character `used` holds (so
    /// that the fonts carry widths and /ToUnicode entries for all of them), and writes its objects
    /// but the page and the page tree, which every page of the `total` copies.
    pub fn start(
        out: &'w mut dyn std::io::Write,
        title: &str,
        fonts: &Fonts,
        used: &UsedChars,
        total: usize,
    ) -> Result<Self, PdfError> {
        let mut skeleton = PdfDocument::new(title);
        skeleton.metadata.info.creator = "auditpack".to_string();
        skeleton.metadata.info.producer = "auditpack (printpdf)".to_string();
        for face in [&fonts.regular, &fonts.bold] {
            skeleton
                .resources
                .fonts
                .map
                .insert(face.id.clone(), PdfFont::new(face.font.clone()));
        }
        let inventory = used.inventory(fonts, BODY_SIZE);
        skeleton.pages = vec![PdfPage::new(Mm(PAGE_W_MM), Mm(PAGE_H_MM), inventory)];
        let mut warnings = Vec::new();
        let mut lo = skeleton.to_lopdf_document(&save_options(), &mut warnings);
        drop(skeleton);
        check(warnings)?;
        let pages_id = lo
            .catalog()
            .and_then(|c| c.get(b"Pages"))
            .and_then(|o| o.as_reference())
            .map_err(|_| broken("page tree"))?;
        let template_id = *lo
            .get_pages()
            .values()
            .next()
            .ok_or_else(|| broken("page"))?;
        let template = match lo.objects.remove(&template_id) {
            Some(Object::Dictionary(page)) => page,
            _ => return Err(broken("page dictionary")),
        };
        let template_contents = template
            .get(b"Contents")
            .and_then(|o| o.as_reference())
            .map_err(|_| broken("page content stream"))?;
        lo.objects.remove(&template_contents);
        let page_tree = match lo.objects.remove(&pages_id) {
            Some(Object::Dictionary(tree)) => tree,
            _ => return Err(broken("page tree dictionary")),
        };
        clean_info(&mut lo);
        // The fonts and the other small streams (page contents are compressed as they are written).
        lo.objects.values_mut().for_each(deflate);
        let numbering = Numbering {
            first: (template_id, template_contents),
            next: lo.max_id + 1,
        };
        let mut file = PdfFile::start(out, &lo, numbering.max_id(total))?;
        for (id, object) in std::mem::take(&mut lo.objects) {
            file.object(id, object)?;
        }
        Ok(PageWriter {
            file,
            template,
            pages_id,
            page_tree,
            trailer: lo.trailer,
            numbering,
            placed: 0,
            total,
        })
    }

    /// Writes a batch of pages: each page's dictionary and compressed content stream at once, so
    /// memory does not grow with the number of pages.
    pub fn write(&mut self, fonts: &Fonts, batch: Vec<PdfPage>) -> Result<(), PdfError> {
        if batch.is_empty() {
            return Ok(());
        }
        let count = batch.len();
        let contents = content_streams(fonts, batch)?;
        if contents.len() != count || self.placed + count > self.total {
            return Err(PdfError::Build(format!(
                "the layout passes disagree: {} pages after {} of {}",
                contents.len(),
                self.placed,
                self.total
            )));
        }
        for stream in contents {
            let (page_id, contents_id) = self.numbering.ids(self.placed);
            let mut page = self.template.clone();
            page.set("Contents", Object::Reference(contents_id));
            page.set("Parent", Object::Reference(self.pages_id));
            self.file.object(page_id, Object::Dictionary(page))?;
            self.file.object(contents_id, stream)?;
            self.placed += 1;
        }
        Ok(())
    }

    /// Writes the page tree and the end of the file, once all `laid_out` pages are written.
    pub fn finish(mut self, laid_out: usize) -> Result<(), PdfError> {
        let total = self.total;
        if laid_out != total || self.placed != total {
            return Err(PdfError::Build(format!(
                "the layout passes disagree: {laid_out} pages laid out, {} written, {total} expected",
                self.placed
            )));
        }
        let kids: Vec<Object> = (0..total)
            .map(|i| Object::Reference(self.numbering.ids(i).0))
            .collect();
        self.page_tree.set("Kids", kids);
        self.page_tree.set("Count", total as i64);
        let tree = Object::Dictionary(std::mem::take(&mut self.page_tree));
        self.file.object(self.pages_id, tree)?;
        self.file.finish(self.trailer)
    }
}

/// The compressed content streams of a batch of pages, in order, as printpdf serializes them.
/// Deflate is the slowest step for large reports: it is spread over the cores, each stream on its
/// own, so the bytes do not depend on the number of threads.
fn content_streams(fonts: &Fonts, pages: Vec<PdfPage>) -> Result<Vec<Object>, PdfError> {
    let mut part = PdfDocument::new("");
    for (face, light) in [&fonts.regular, &fonts.bold].iter().zip(&fonts.light) {
        part.resources
            .fonts
            .map
            .insert(face.id.clone(), light.clone());
    }
    part.pages = pages;
    let mut warnings = Vec::new();
    let mut plo = part.to_lopdf_document(&save_options(), &mut warnings);
    drop(part);
    // The light fonts are not embedded, as intended: their font objects are discarded.
    warnings.retain(|w| !w.msg.contains("has no source bytes"));
    check(warnings)?;
    let mut contents = Vec::new();
    for page_id in plo.get_pages().into_values() {
        let id = plo
            .get_object(page_id)
            .and_then(|o| o.as_dict())
            .and_then(|d| d.get(b"Contents"))
            .and_then(|o| o.as_reference())
            .map_err(|e| {
                PdfError::Build(format!(
                    "printpdf wrote a page without a content stream: {e}"
                ))
            })?;
        let stream = plo
            .objects
            .remove(&id)
            .ok_or_else(|| PdfError::Build("a page's content stream is missing".to_string()))?;
        contents.push(stream);
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = contents.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for part in contents.chunks_mut(chunk) {
            scope.spawn(move || part.iter_mut().for_each(deflate));
        }
    });
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_after_the_first_take_two_new_object_numbers_each() {
        let n = Numbering {
            first: ((7, 0), (8, 0)),
            next: 12,
        };
        assert_eq!(n.ids(0), ((7, 0), (8, 0)));
        assert_eq!(n.ids(1), ((12, 0), (13, 0)));
        assert_eq!(n.ids(3), ((16, 0), (17, 0)));
        // One page: the skeleton's numbers only; three pages: up to page 3's content stream.
        assert_eq!(n.max_id(1), 11);
        assert_eq!(n.max_id(0), 11);
        assert_eq!(n.max_id(3), 15);
    }
}
