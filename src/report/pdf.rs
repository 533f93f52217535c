//! The PDF report: lays a [`Document`] out on A4 pages with printpdf's page operations.
//!
//! Layout is done here, not by printpdf (its HTML layout is not compiled in): text is measured
//! with the embedded font's advance widths, wrapped at spaces (and, for tokens wider than their
//! column such as ARNs and SHA-256 digests, at `:` `/` `-`… or at any character), and placed
//! line by line. Table columns get their relative widths, adjusted so that short words such as
//! check ids are not broken; the header row repeats on every page a table continues on; rows move
//! to the next page whole unless they are taller than a page. Every page gets a "page n of m" footer,
//! which is why the document is laid out twice (see [`render`]).
//!
//! Text is real text in DejaVu Sans (regular and bold, embedded whole as TrueType CID fonts with
//! a /ToUnicode map), so it is selectable and extractable, including non-ASCII. Characters the
//! font lacks (e.g. CJK) show as the font's missing-glyph box.
//!
//! The output is byte for byte reproducible: fixed font resource names, no dates in the info
//! dictionary, and a document /ID derived from the content rather than printpdf's counter.

#[cfg(test)]
use super::document::Blocks;
use super::document::{Block, Document};
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, PdfWarnMsg, Point, Pt, Rect,
    Rgb, TextItem, TextMatrix,
};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

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

// ---------------------------------------------------------------------------------------------
// Page geometry and typography (PDF points; origin at the bottom left).

const PT_PER_MM: f32 = 72.0 / 25.4;
const PAGE_W_MM: f32 = 210.0;
const PAGE_H_MM: f32 = 297.0;
const PAGE_H: f32 = PAGE_H_MM * PT_PER_MM;
const MARGIN_X: f32 = 18.0 * PT_PER_MM;
const MARGIN_TOP: f32 = 18.0 * PT_PER_MM;
/// Content stops this far above the bottom edge; the footer lives below it.
const MARGIN_BOTTOM: f32 = 20.0 * PT_PER_MM;
const CONTENT_W: f32 = PAGE_W_MM * PT_PER_MM - 2.0 * MARGIN_X;
const CONTENT_TOP: f32 = PAGE_H - MARGIN_TOP;
const CONTENT_H: f32 = CONTENT_TOP - MARGIN_BOTTOM;

const TITLE_SIZE: f32 = 17.0;
const TITLE_LEAD: f32 = 21.0;
const H1_SIZE: f32 = 14.0;
const H1_LEAD: f32 = 17.5;
const H2_SIZE: f32 = 11.0;
const H2_LEAD: f32 = 14.0;
const BODY_SIZE: f32 = 9.5;
const BODY_LEAD: f32 = 12.5;
const TABLE_SIZE: f32 = 7.5;
const TABLE_LEAD: f32 = 9.5;
const CELL_PAD_X: f32 = 2.5;
const CELL_PAD_Y: f32 = 2.5;
/// Table words up to this wide are kept whole by widening their column (see `fit_words`).
const LONG_WORD: f32 = 0.3 * CONTENT_W;
const FOOTER_SIZE: f32 = 7.5;
const FOOTER_RULE_Y: f32 = 14.0 * PT_PER_MM;
const FOOTER_BASELINE: f32 = 10.0 * PT_PER_MM;

type Rgb3 = [f32; 3];
const BLACK: Rgb3 = [0.0, 0.0, 0.0];
const TEXT: Rgb3 = [0.11, 0.11, 0.13];
const ACCENT: Rgb3 = [0.12, 0.25, 0.45];
const MUTED: Rgb3 = [0.38, 0.38, 0.42];
const RULE: Rgb3 = [0.62, 0.62, 0.66];
const RULE_LIGHT: Rgb3 = [0.82, 0.82, 0.85];
const HEADER_BG: Rgb3 = [0.90, 0.90, 0.92];
const PASS: Rgb3 = [0.20, 0.60, 0.32];
const FAIL: Rgb3 = [0.80, 0.18, 0.16];
const UNKNOWN: Rgb3 = [0.95, 0.63, 0.08];
const OTHER: Rgb3 = [0.62, 0.62, 0.64];

/// Where a token too wide for its line (ARN, URL, path, identifier) is broken, roughly as the
/// Chicago Manual of Style breaks URLs: preferably after `:` `;` `=` `&` or before `/` `?` `#`
/// `@` `|`; failing that, before `-` `_` `.` `,` `~` `+` `(` `[` or inside camelCase; failing
/// that, anywhere.
/// Breaking *before* a hyphen also keeps text extraction exact: pdftotext joins a line ending in
/// `-` to the next one and drops the hyphen.
fn break_quality(prev: char, next: char) -> u8 {
    match (prev, next) {
        ('/', '/') => 0,
        (':' | ';' | '=' | '&', _) => 2,
        (_, '/' | '?' | '#' | '@' | '|') => 2,
        (p, n) if p == n => 0,
        (_, '-' | '_' | '.' | ',' | '~' | '+' | '(' | '[') => 1,
        (p, n) if p.is_lowercase() && n.is_uppercase() => 1,
        _ => 0,
    }
}

/// Pages handed to printpdf at a time. Each batch costs printpdf a serialization of both fonts, and
/// holds its pages' operations until they are written. Measured on a 1,000-trail report (1,023
/// pages): 16 a batch 1.05 s and 31 MiB, 64 0.9 s and 30 MiB, 256 0.85 s and 45 MiB.
const BATCH_PAGES: usize = 64;

/// Renders the document as an A4 PDF.
///
/// The document is laid out twice. The first pass only counts the pages (for "page n of m") and
/// notes which characters each font shows. printpdf then builds the output document's skeleton
/// (catalog, page tree, fonts with /W and /ToUnicode for those characters) around placeholder
/// pages. The second pass lays the pages out again, with footers, serializes them with printpdf
/// in batches and moves each page's compressed content stream into its placeholder's slot. This
/// is sound because the fonts are embedded whole (not subset), so glyph codes do not depend on
/// which glyphs a batch uses, and the font resource names are fixed.
pub fn render_to(doc: &Document, out: &mut dyn std::io::Write) -> Result<(), PdfError> {
    let fonts = fonts()?;
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };

    // Pass 1.
    let mut total = 0usize;
    let mut used = UsedChars::default();
    let mut content_id = ContentId::new(doc);
    lay_out(
        doc,
        fonts,
        &mut |page: PageOps| {
            total += 1;
            used.page(fonts, &page);
        },
        Some(&mut content_id),
    )?;
    used.text(false, &doc.footer);
    used.text(false, "page of 0123456789…");

    // The skeleton: printpdf serializes a one-page document whose page shows every character used,
    // so that the fonts carry widths and /ToUnicode entries for all of them. Its objects are the fixed
    // part of the file; its page dictionary is the template of every page (all pages share the
    // fonts, and nothing else, as resources).
    let mut skeleton = PdfDocument::new(&doc.title);
    skeleton.metadata.info.creator = "auditpack".to_string();
    skeleton.metadata.info.producer = "auditpack (printpdf)".to_string();
    add_fonts(&mut skeleton, fonts);
    skeleton.pages = vec![PdfPage::new(
        Mm(PAGE_W_MM),
        Mm(PAGE_H_MM),
        used.inventory(fonts),
    )];
    let mut warnings = Vec::new();
    let mut lo = skeleton.to_lopdf_document(&opts, &mut warnings);
    drop(skeleton);
    check(warnings)?;
    let broken = |what: &str| PdfError::Build(format!("printpdf wrote no {what}"));
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
        Some(lopdf::Object::Dictionary(page)) => page,
        _ => return Err(broken("page dictionary")),
    };
    let template_contents = template
        .get(b"Contents")
        .and_then(|o| o.as_reference())
        .map_err(|_| broken("page content stream"))?;
    lo.objects.remove(&template_contents);
    let mut page_tree = match lo.objects.remove(&pages_id) {
        Some(lopdf::Object::Dictionary(tree)) => tree,
        _ => return Err(broken("page tree dictionary")),
    };
    fix_trailer_and_info(&mut lo, &content_id.hex());
    // The fonts and the other small streams (page contents are compressed as they are written).
    lo.objects.values_mut().for_each(deflate);

    // Object numbers: the skeleton's, with its page and content stream reused for page 1, then two
    // new ones (page, content stream) for each further page.
    let next = lo.max_id + 1;
    let page_ids = |i: usize| -> (lopdf::ObjectId, lopdf::ObjectId) {
        if i == 0 {
            (template_id, template_contents)
        } else {
            let n = next + 2 * (i as u32 - 1);
            ((n, 0), (n + 1, 0))
        }
    };
    let size = next + 2 * (total.max(1) as u32 - 1);
    let mut file = PdfFile::start(out, &lo, size)?;
    for (id, object) in std::mem::take(&mut lo.objects) {
        file.object(id, object)?;
    }

    // Pass 2: pages are laid out again, with footers, serialized by printpdf in batches, and each
    // page's dictionary and compressed content stream written out at once: memory does not grow with
    // the number of pages.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let mut placed = 0usize;
    let mut flush = |batch: &mut Vec<PdfPage>| -> Result<(), PdfError> {
        if batch.is_empty() {
            return Ok(());
        }
        let count = batch.len();
        let mut part = PdfDocument::new("");
        for (face, light) in [&fonts.regular, &fonts.bold].iter().zip(&fonts.light) {
            part.resources
                .fonts
                .map
                .insert(face.id.clone(), light.clone());
        }
        part.pages = std::mem::take(batch);
        let mut warnings = Vec::new();
        let mut plo = part.to_lopdf_document(&opts, &mut warnings);
        drop(part);
        // The light fonts are not embedded, as intended: their font objects are discarded.
        warnings.retain(|w| !w.msg.contains("has no source bytes"));
        check(warnings)?;
        let mut contents = Vec::with_capacity(count);
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
        drop(plo);
        if contents.len() != count || placed + count > total {
            return Err(PdfError::Build(format!(
                "the layout passes disagree: {} pages after {placed} of {total}",
                contents.len()
            )));
        }
        // Deflate is the slowest step for large reports: spread it over the cores. Each stream is
        // compressed on its own, so the bytes do not depend on the number of threads.
        let chunk = count.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for part in contents.chunks_mut(chunk) {
                scope.spawn(move || part.iter_mut().for_each(deflate));
            }
        });
        for stream in contents {
            let (page_id, contents_id) = page_ids(placed);
            let mut page = template.clone();
            page.set("Contents", lopdf::Object::Reference(contents_id));
            page.set("Parent", lopdf::Object::Reference(pages_id));
            file.object(page_id, lopdf::Object::Dictionary(page))?;
            file.object(contents_id, stream)?;
            placed += 1;
        }
        Ok(())
    };
    let mut batch = Vec::with_capacity(BATCH_PAGES);
    let mut number = 0usize;
    let mut failure = None;
    lay_out(
        doc,
        fonts,
        &mut |mut page: PageOps| {
            number += 1;
            footer(&mut page, fonts, &doc.footer, number, total);
            if failure.is_some() {
                return;
            }
            batch.push(page.into_page());
            if batch.len() >= BATCH_PAGES {
                if let Err(e) = flush(&mut batch) {
                    failure = Some(e);
                }
            }
        },
        None,
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    flush(&mut batch)?;
    if number != total || placed != total {
        return Err(PdfError::Build(format!(
            "the layout passes disagree: {number} pages laid out, {placed} written, {total} expected"
        )));
    }
    page_tree.set(
        "Kids",
        (0..total)
            .map(|i| lopdf::Object::Reference(page_ids(i).0))
            .collect::<Vec<_>>(),
    );
    page_tree.set("Count", total as i64);
    file.object(pages_id, lopdf::Object::Dictionary(page_tree))?;
    file.finish(&lo.trailer)
}

/// Deflates a stream that is not compressed yet, at zlib's default level (6). lopdf's best level was
/// the largest cost of large reports; the fastest level (1) saves only a fifth of the PDF's time and
/// makes the 1,000-trail report 75% larger (5.5 MB instead of 3.2 MB).
fn deflate(object: &mut lopdf::Object) {
    use std::io::Write;
    let Ok(stream) = object.as_stream_mut() else {
        return;
    };
    if stream.dict.get(b"Filter").is_ok() {
        return;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    if encoder.write_all(&stream.content).is_ok() {
        if let Ok(compressed) = encoder.finish() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(compressed);
        }
    }
}

/// printpdf fills the trailer /ID from a process-wide counter, so two renders of the same document
/// would differ: it is replaced with a digest of the content (as reproducible-build PDF producers
/// do; both halves equal, as for a newly created file). The info dictionary always carries
/// CreationDate/ModDate (the Unix epoch unless set) and empty PDF/X fields; what would be
/// meaningless is left out.
fn fix_trailer_and_info(lo: &mut lopdf::Document, id: &str) {
    if let Ok(pair) = lo.trailer.get_mut(b"ID").and_then(|o| o.as_array_mut()) {
        for part in pair.iter_mut() {
            if let Ok(bytes) = part.as_str_mut() {
                *bytes = id.as_bytes().to_vec();
            }
        }
    }
    if let Ok(info_id) = lo.trailer.get(b"Info").and_then(|o| o.as_reference()) {
        if let Ok(info) = lo.get_object_mut(info_id).and_then(|o| o.as_dict_mut()) {
            for key in [
                "CreationDate",
                "ModDate",
                "GTS_PDFXVersion",
                "Identifier",
                "Trapped",
            ] {
                info.remove(key.as_bytes());
            }
            for key in ["Author", "Subject", "Keywords"] {
                let empty = info
                    .get(key.as_bytes())
                    .and_then(|o| o.as_str())
                    .map(|s| s.is_empty())
                    .unwrap_or(false);
                if empty {
                    info.remove(key.as_bytes());
                }
            }
        }
    }
}

/// A PDF file written object by object: each object is written as soon as it is ready, with its
/// offset noted for the cross-reference table at the end. The bytes of an object (and of the trailer)
/// are lopdf's own: each is saved as the only content of a throwaway lopdf document and cut out of
/// it, so the file is what lopdf's `Document::save` would write, without holding every object first.
struct PdfFile<'w> {
    out: &'w mut dyn std::io::Write,
    written: u64,
    offsets: Vec<Option<u32>>,
}

/// A lopdf document holding only `objects`, saved with a classic cross-reference table.
fn save_alone(
    objects: Vec<(lopdf::ObjectId, lopdf::Object)>,
    trailer: Option<lopdf::Dictionary>,
    max_id: u32,
) -> Result<(Vec<u8>, usize), PdfError> {
    let mut alone = lopdf::Document::new();
    alone.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
    alone.max_id = max_id;
    alone.objects.extend(objects);
    if let Some(trailer) = trailer {
        alone.trailer = trailer;
    }
    let header = format!("%PDF-{}\n", alone.version).len() + alone.binary_mark.len() + 2;
    let mut bytes = Vec::new();
    alone
        .save_to(&mut bytes)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok((bytes, header))
}

/// The last position of `needle` in `bytes`.
fn rfind(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    bytes.windows(needle.len()).rposition(|w| w == needle)
}

impl<'w> PdfFile<'w> {
    fn start(
        out: &'w mut dyn std::io::Write,
        lo: &lopdf::Document,
        size: u32,
    ) -> Result<Self, PdfError> {
        let mut file = Self {
            out,
            written: 0,
            offsets: vec![None; size as usize + 1],
        };
        let mut header = format!("%PDF-{}\n%", lo.version).into_bytes();
        header.extend_from_slice(&lo.binary_mark);
        header.push(b'\n');
        file.bytes(&header)?;
        Ok(file)
    }

    fn bytes(&mut self, bytes: &[u8]) -> Result<(), PdfError> {
        self.out
            .write_all(bytes)
            .map_err(|e| PdfError::Write(e.to_string()))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes `id 0 obj ... endobj`.
    fn object(&mut self, id: lopdf::ObjectId, object: lopdf::Object) -> Result<(), PdfError> {
        let offset = u32::try_from(self.written)
            .map_err(|_| PdfError::Write("the PDF is larger than 4 GiB".to_string()))?;
        match self.offsets.get_mut(id.0 as usize) {
            Some(slot) => *slot = Some(offset),
            None => {
                return Err(PdfError::Build(format!(
                    "object {} is outside the cross-reference table",
                    id.0
                )))
            }
        }
        let (bytes, header) = save_alone(vec![(id, object)], None, id.0)?;
        // The object runs from the header to the cross-reference table (binary stream content may
        // contain anything, but the table is the last `xref` keyword).
        let end = rfind(&bytes, b"xref\n")
            .filter(|&end| end >= header)
            .ok_or_else(|| PdfError::Write("lopdf wrote no cross-reference table".to_string()))?;
        self.bytes(&bytes[header..end])
    }

    /// The cross-reference table, the trailer and `startxref`.
    fn finish(mut self, trailer: &lopdf::Dictionary) -> Result<(), PdfError> {
        use lopdf::xref::{XrefEntry, XrefSection};
        let start = self.written;
        let mut section = XrefSection::new(0);
        section.add_unusable_free_entry();
        for offset in &self.offsets[1..] {
            section.add_entry(match offset {
                Some(offset) => XrefEntry::Normal {
                    offset: *offset,
                    generation: 0,
                },
                None => XrefEntry::Free,
            });
        }
        let mut bytes = b"xref\n".to_vec();
        section
            .write_xref_section(&mut bytes)
            .map_err(|e| PdfError::Write(e.to_string()))?;
        // lopdf sets the trailer's /Size from the largest object number.
        let max_id = self.offsets.len() as u32 - 1;
        let (alone, _) = save_alone(Vec::new(), Some(trailer.clone()), max_id)?;
        let from = rfind(&alone, b"trailer\n");
        let to = rfind(&alone, b"\nstartxref");
        let (Some(from), Some(to)) = (from, to) else {
            return Err(PdfError::Write("lopdf wrote no trailer".to_string()));
        };
        bytes.extend_from_slice(&alone[from..to]);
        bytes.extend(format!("\nstartxref\n{start}\n%%EOF").into_bytes());
        self.bytes(&bytes)?;
        self.out.flush().map_err(|e| PdfError::Write(e.to_string()))
    }
}

/// [`render_to`] into memory.
#[cfg(test)]
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::new();
    render_to(doc, &mut out)?;
    Ok(out)
}

fn add_fonts(pdf: &mut PdfDocument, fonts: &Fonts) {
    for face in [&fonts.regular, &fonts.bold] {
        pdf.resources
            .fonts
            .map
            .insert(face.id.clone(), PdfFont::new(face.font.clone()));
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

/// Lays the whole document out, handing each finished page (without footer) to `on_page`, and each
/// block to `content_id` when given (so the id needs no pass of its own).
fn lay_out(
    doc: &Document,
    fonts: &'static Fonts,
    on_page: &mut dyn FnMut(PageOps),
    mut content_id: Option<&mut ContentId>,
) -> Result<(), PdfError> {
    let mut layout = Layout::new(fonts, on_page);
    layout.title(&doc.title);
    doc.blocks.for_each(&mut |block| {
        if let Some(id) = content_id.as_deref_mut() {
            id.block(block);
        }
        if !matches!(block, Block::MoreRows(_)) {
            layout.close_table();
        }
        match block {
            Block::Heading { text, new_page } => layout.heading(text, *new_page),
            Block::Subheading(text) => layout.subheading(text),
            Block::Paragraph(text) => layout.paragraph(text),
            Block::Bullets(items) => layout.bullets(items),
            Block::KeyValues(pairs) => layout.key_values(pairs),
            Block::Table {
                headers,
                widths,
                rows,
            } => layout.table(headers, widths, rows),
            Block::MoreRows(rows) => layout.more_rows(rows),
            Block::BarChart { bars } => layout.bar_chart(bars),
        }
    })?;
    layout.close_table();
    layout.finish();
    Ok(())
}

/// The characters each font shows, as bit sets over all Unicode scalar values.
struct UsedChars {
    sets: [Vec<u64>; 2],
}

impl Default for UsedChars {
    fn default() -> Self {
        let words = (char::MAX as usize + 1).div_ceil(64);
        UsedChars {
            sets: [vec![0; words], vec![0; words]],
        }
    }
}

impl UsedChars {
    fn text(&mut self, bold: bool, s: &str) {
        let set = &mut self.sets[usize::from(bold)];
        for c in s.chars() {
            set[c as usize / 64] |= 1 << (c as usize % 64);
        }
    }

    fn page(&mut self, fonts: &Fonts, page: &PageOps) {
        let mut bold = false;
        for op in &page.text {
            match op {
                Op::SetFont {
                    font: PdfFontHandle::External(id),
                    ..
                } => bold = *id == fonts.bold.id,
                Op::ShowText { items } => {
                    for item in items {
                        if let TextItem::Text(s) = item {
                            self.text(bold, s);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Text operations showing every used character in its font.
    fn inventory(&self, fonts: &Fonts) -> Vec<Op> {
        let mut ops = vec![Op::StartTextSection];
        for (bold, set) in [(false, &self.sets[0]), (true, &self.sets[1])] {
            let chars: String = set
                .iter()
                .enumerate()
                .filter(|(_, word)| **word != 0)
                .flat_map(|(i, word)| {
                    (0..64)
                        .filter(move |b| word & (1 << b) != 0)
                        .map(move |b| i * 64 + b)
                })
                .filter_map(|cp| char::from_u32(cp as u32))
                .collect();
            if !chars.is_empty() {
                ops.push(Op::SetFont {
                    font: PdfFontHandle::External(fonts.face(bold).id.clone()),
                    size: Pt(BODY_SIZE),
                });
                ops.push(Op::ShowText {
                    items: vec![TextItem::Text(chars)],
                });
            }
        }
        ops.push(Op::EndTextSection);
        ops
    }
}

/// 32 hex digits identifying the document's content (two FNV-1a 64 digests), fed block by block
/// during the first layout pass.
struct ContentId(u64, u64);

impl ContentId {
    fn new(doc: &Document) -> Self {
        let mut h = ContentId(0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142);
        h.s(b'T', &doc.title);
        h.s(b'F', &doc.footer);
        h
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(std::iter::once(&0xffu8)) {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            self.1 = (self.1 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn s(&mut self, tag: u8, s: &str) {
        self.feed(&[tag]);
        self.feed(s.as_bytes());
    }

    fn rows(&mut self, rows: &[Vec<String>]) {
        for row in rows {
            self.s(b'r', "");
            row.iter().for_each(|c| self.s(b'c', c));
        }
    }

    fn block(&mut self, block: &Block) {
        let h = self;
        match block {
            Block::Heading { text, new_page } => h.s(if *new_page { b'H' } else { b'h' }, text),
            Block::Subheading(text) => h.s(b'S', text),
            Block::Paragraph(text) => h.s(b'P', text),
            Block::Bullets(items) => {
                h.s(b'B', "");
                items.iter().for_each(|i| h.s(b'b', i));
            }
            Block::KeyValues(pairs) => {
                h.s(b'K', "");
                for (k, v) in pairs {
                    h.s(b'k', k);
                    h.s(b'v', v);
                }
            }
            Block::Table {
                headers,
                widths,
                rows,
            } => {
                h.s(b'X', "");
                headers.iter().for_each(|c| h.s(b'x', c));
                widths
                    .iter()
                    .for_each(|w| h.feed(&w.to_bits().to_le_bytes()));
                h.rows(rows);
            }
            Block::MoreRows(rows) => {
                h.s(b'M', "");
                h.rows(rows);
            }
            Block::BarChart { bars } => {
                h.s(b'C', "");
                for (label, value) in bars {
                    h.s(b'l', label);
                    h.feed(&value.to_le_bytes());
                }
            }
        }
    }

    fn hex(&self) -> String {
        format!("{:016x}{:016x}", self.0, self.1)
    }
}

// ---------------------------------------------------------------------------------------------
// Fonts and text measurement.

/// An embedded font and the advance widths the PDF viewer will use for it.
struct Face {
    id: FontId,
    font: ParsedFont,
    /// Advance width in 1/1000 em per BMP code point, exactly as printpdf writes it into the
    /// font's /W array; `NO_GLYPH` where the font has no glyph (drawn as .notdef, 1000 wide).
    bmp: Vec<u16>,
    /// The same for code points beyond the BMP.
    astral: BTreeMap<u32, u16>,
}

const NO_GLYPH: u16 = u16::MAX;
/// printpdf's /DW: the width of glyphs missing from /W (the .notdef drawn for missing chars).
const MISSING_WIDTH: u16 = 1000;

impl Face {
    fn parse(name: &'static str, bytes: &[u8]) -> Result<Face, PdfError> {
        let mut warnings = Vec::new();
        let font =
            ParsedFont::from_bytes(bytes, 0, &mut warnings).ok_or_else(|| PdfError::Font {
                name,
                detail: if warnings.is_empty() {
                    "not a usable TrueType font".to_string()
                } else {
                    warnings
                        .iter()
                        .map(|w| w.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            })?;
        if font.codepoint_to_glyph.is_empty() || font.units_per_em == 0 {
            return Err(PdfError::Font {
                name,
                detail: "the font has no Unicode character map or no units-per-em".to_string(),
            });
        }
        let upm = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        let mut bmp = vec![NO_GLYPH; 0x1_0000];
        let mut astral = BTreeMap::new();
        for (&cp, &gid) in &font.codepoint_to_glyph {
            // Same arithmetic as printpdf's get_scaled_glyph_width (truncating to an integer).
            let w = font
                .get_glyph_width(gid)
                .map(|w| (f32::from(w) * 1000.0 / upm) as i64)
                .unwrap_or(0);
            let w = w.clamp(0, i64::from(NO_GLYPH - 1)) as u16;
            match bmp.get_mut(cp as usize) {
                Some(slot) => *slot = w,
                None => {
                    astral.insert(cp, w);
                }
            }
        }
        Ok(Face {
            id: FontId(name.to_string()),
            font,
            bmp,
            astral,
        })
    }

    /// Advance of one character in 1/1000 em.
    fn advance(&self, c: char) -> u32 {
        let w = match self.bmp.get(c as usize) {
            Some(&w) => w,
            None => self.astral.get(&(c as u32)).copied().unwrap_or(NO_GLYPH),
        };
        u32::from(if w == NO_GLYPH { MISSING_WIDTH } else { w })
    }

    /// Width of `s` set at `size` points.
    fn width(&self, s: &str, size: f32) -> f32 {
        let units: u64 = s.chars().map(|c| u64::from(self.advance(c))).sum();
        (units as f64 * f64::from(size) / 1000.0) as f32
    }

    /// Where to cut `s` so that the first part fits in `avail` points: `None` if all of `s`
    /// fits. Prefers a break opportunity (see [`break_quality`]) that keeps at least a third of
    /// the available width used; otherwise cuts after the last character that fits, but not right
    /// after a hyphen. Returns at least one character when `force` (so wrapping always
    /// progresses), else may return `Some(0)`.
    fn cut(&self, s: &str, size: f32, avail: f32, force: bool) -> Option<usize> {
        let limit = (f64::from(avail.max(0.0)) * 1000.0 / f64::from(size.max(0.1))) as u64;
        let mut used = 0u64;
        // The last break opportunity of each quality that keeps at least a third of the width used.
        let mut soft = [0usize; 3];
        let mut prev: Option<char> = None;
        for (i, c) in s.char_indices() {
            if let Some(p) = prev {
                if used * 3 >= limit {
                    soft[usize::from(break_quality(p, c))] = i;
                }
            }
            let adv = u64::from(self.advance(c));
            if used + adv > limit {
                if let Some(&at) = soft[1..].iter().rev().find(|&&at| at > 0) {
                    return Some(at);
                }
                let mut cut = i;
                if prev == Some('-') && cut > 1 {
                    cut -= 1;
                }
                if cut == 0 && force {
                    cut = c.len_utf8();
                }
                return Some(cut);
            }
            used += adv;
            prev = Some(c);
        }
        None
    }

    /// Breaks `text` into lines no wider than `max_w` points: at spaces, at explicit newlines,
    /// and inside tokens that are wider than a line. Runs of whitespace collapse to one space;
    /// live characters are shown as `\u{..}` ([`super::visible`]). Always returns at least one (possibly empty) line.
    fn wrap(&self, text: &str, size: f32, max_w: f32) -> Vec<String> {
        let max_w = max_w.max(0.0);
        let space_w = self.width(" ", size);
        let mut out = Vec::new();
        for raw in text.trim_end().split('\n') {
            let clean: String = super::visible(raw)
                .chars()
                .filter_map(|c| match c {
                    '\t' => Some(' '),
                    c if c.is_control() => None,
                    c => Some(c),
                })
                .collect();
            let first_out = out.len();
            let mut line = String::new();
            let mut line_w = 0.0f32;
            for word in clean.split(' ').filter(|w| !w.is_empty()) {
                let w = self.width(word, size);
                if line.is_empty() {
                    if w <= max_w {
                        line.push_str(word);
                        line_w = w;
                        continue;
                    }
                } else if line_w + space_w + w <= max_w {
                    line.push(' ');
                    line.push_str(word);
                    line_w += space_w + w;
                    continue;
                } else if w <= max_w {
                    out.push(std::mem::take(&mut line));
                    line.push_str(word);
                    line_w = w;
                    continue;
                }
                // A token wider than a whole line: break it.
                let mut rest = word;
                if !line.is_empty() {
                    let avail = max_w - line_w - space_w;
                    if avail >= max_w * 0.3 {
                        if let Some(cut) = self.cut(rest, size, avail, false).filter(|&c| c > 0) {
                            line.push(' ');
                            line.push_str(&rest[..cut]);
                            rest = &rest[cut..];
                        }
                    }
                    out.push(std::mem::take(&mut line));
                }
                loop {
                    match self.cut(rest, size, max_w, true) {
                        Some(cut) if cut < rest.len() => {
                            out.push(rest[..cut].to_string());
                            rest = &rest[cut..];
                        }
                        _ => {
                            line.push_str(rest);
                            line_w = self.width(rest, size);
                            break;
                        }
                    }
                }
            }
            if !line.is_empty() || out.len() == first_out {
                out.push(line);
            }
        }
        if out.is_empty() {
            out.push(String::new());
        }
        out
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
    /// The two fonts without their file bytes, for the batch documents whose only product is page
    /// content: printpdf encodes text from the glyph maps alone, and would otherwise embed and
    /// deflate both whole fonts again for every batch (their font objects are discarded).
    light: [PdfFont; 2],
}

impl Fonts {
    fn face(&self, bold: bool) -> &Face {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }
}

/// The parsed fonts, shared by all renders in the process.
fn fonts() -> Result<&'static Fonts, PdfError> {
    static FONTS: OnceLock<Result<Fonts, (&'static str, String)>> = OnceLock::new();
    let parsed = FONTS.get_or_init(|| {
        let parse = |name, bytes| {
            Face::parse(name, bytes).map_err(|e| match e {
                PdfError::Font { name, detail } => (name, detail),
                other => (name, other.to_string()),
            })
        };
        let regular = parse("DejaVuSans", FONT_REGULAR)?;
        let bold = parse("DejaVuSans-Bold", FONT_BOLD)?;
        let light = [&regular, &bold].map(|face| {
            let mut font = face.font.clone();
            font.original_bytes = Vec::new();
            PdfFont::new(font)
        });
        Ok(Fonts {
            regular,
            bold,
            light,
        })
    });
    parsed.as_ref().map_err(|(name, detail)| PdfError::Font {
        name,
        detail: detail.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Page building.

/// One page's operations: graphics (fills, rules) are drawn first, then all text in a single
/// text object, so nothing is painted over text and no path operator sits inside BT/ET.
#[derive(Default)]
struct PageOps {
    gfx: Vec<Op>,
    text: Vec<Op>,
    gfx_fill: Option<Rgb3>,
    gfx_stroke: Option<(Rgb3, f32)>,
    text_fill: Option<Rgb3>,
    text_font: Option<(bool, u32)>,
}

fn color(c: Rgb3) -> Color {
    Color::Rgb(Rgb {
        r: c[0],
        g: c[1],
        b: c[2],
        icc_profile: None,
    })
}

fn pt(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point { x: Pt(x), y: Pt(y) },
        bezier: false,
    }
}

impl PageOps {
    fn text(
        &mut self,
        fonts: &Fonts,
        (x, baseline): (f32, f32),
        s: &str,
        bold: bool,
        size: f32,
        c: Rgb3,
    ) {
        if s.is_empty() {
            return;
        }
        self.select(fonts, bold, size, c);
        self.text.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(x), Pt(baseline)),
        });
        self.text.push(Op::ShowText {
            items: vec![TextItem::Text(s.to_string())],
        });
    }

    /// Shows pieces of text on one baseline, each at its own x (ascending), as a single text
    /// operation: the gaps are TJ displacements. Used for table rows, which would otherwise
    /// need a text-matrix and a show operation per cell line.
    fn text_run(
        &mut self,
        fonts: &Fonts,
        baseline: f32,
        pieces: &[(f32, &str)],
        bold: bool,
        size: f32,
        c: Rgb3,
    ) {
        let count = pieces.iter().filter(|(_, s)| !s.is_empty()).count();
        let mut pieces = pieces.iter().filter(|(_, s)| !s.is_empty());
        let Some(&(x0, first)) = pieces.next() else {
            return;
        };
        let face = fonts.face(bold);
        let mut items = Vec::with_capacity(2 * count - 1);
        items.push(TextItem::Text(first.to_string()));
        let mut pen = x0 + face.width(first, size);
        for &(x, s) in pieces {
            // A TJ number moves the pen left by n/1000 of the font size.
            items.push(TextItem::Offset(-((x - pen) * 1000.0 / size)));
            items.push(TextItem::Text(s.to_string()));
            pen = x + face.width(s, size);
        }
        self.select(fonts, bold, size, c);
        self.text.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(x0), Pt(baseline)),
        });
        self.text.push(Op::ShowText { items });
    }

    fn select(&mut self, fonts: &Fonts, bold: bool, size: f32, c: Rgb3) {
        if self.text_font != Some((bold, size.to_bits())) {
            self.text.push(Op::SetFont {
                font: PdfFontHandle::External(fonts.face(bold).id.clone()),
                size: Pt(size),
            });
            self.text_font = Some((bold, size.to_bits()));
        }
        if self.text_fill != Some(c) {
            self.text.push(Op::SetFillColor { col: color(c) });
            self.text_fill = Some(c);
        }
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: Rgb3) {
        if w <= 0.0 || h <= 0.0 {
            return;
        }
        if self.gfx_fill != Some(c) {
            self.gfx.push(Op::SetFillColor { col: color(c) });
            self.gfx_fill = Some(c);
        }
        let mut rect = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
        rect.mode = Some(PaintMode::Fill);
        self.gfx.push(Op::DrawRectangle { rectangle: rect });
    }

    fn line(&mut self, (x1, y1): (f32, f32), (x2, y2): (f32, f32), width: f32, c: Rgb3) {
        if self.gfx_stroke != Some((c, width)) {
            self.gfx.push(Op::SetOutlineColor { col: color(c) });
            self.gfx.push(Op::SetOutlineThickness { pt: Pt(width) });
            self.gfx_stroke = Some((c, width));
        }
        self.gfx.push(Op::DrawLine {
            line: Line {
                points: vec![pt(x1, y1), pt(x2, y2)],
                is_closed: false,
            },
        });
    }

    fn into_page(self) -> PdfPage {
        let mut ops = self.gfx;
        if !self.text.is_empty() {
            ops.reserve(self.text.len() + 2);
            ops.push(Op::StartTextSection);
            ops.extend(self.text);
            ops.push(Op::EndTextSection);
        }
        ops.shrink_to_fit();
        PdfPage::new(Mm(PAGE_W_MM), Mm(PAGE_H_MM), ops)
    }
}

/// Baseline of a line of `size` text in a line box of height `lead` whose top is at `top`
/// (capitals centred in the box).
fn baseline(top: f32, lead: f32, size: f32) -> f32 {
    top - lead / 2.0 - size * 0.36
}

/// A prepared table: column geometry and the wrapped header.
struct TableGeom {
    x: Vec<f32>,
    w: Vec<f32>,
    header: Vec<Vec<String>>,
    header_h: f32,
    repeat_header: bool,
}

/// Places blocks on pages, top to bottom, handing each page on as soon as it is full.
struct Layout<'a> {
    fonts: &'static Fonts,
    on_page: &'a mut dyn FnMut(PageOps),
    page: PageOps,
    /// Top of the free space on the current page.
    y: f32,
    /// The table being laid out, which [`Block::MoreRows`] continues; closed by the next block.
    open_table: Option<OpenTable>,
}

/// A table whose rows may continue in the next block.
struct OpenTable {
    geom: TableGeom,
    ncols: usize,
    /// Top of the table's part on the current page.
    seg_top: f32,
    rows_on_page: bool,
}

impl<'a> Layout<'a> {
    fn new(fonts: &'static Fonts, on_page: &'a mut dyn FnMut(PageOps)) -> Self {
        Layout {
            fonts,
            on_page,
            page: PageOps::default(),
            y: CONTENT_TOP,
            open_table: None,
        }
    }

    fn new_page(&mut self) {
        (self.on_page)(std::mem::take(&mut self.page));
        self.y = CONTENT_TOP;
    }

    /// Hands on the last page.
    fn finish(mut self) {
        (self.on_page)(std::mem::take(&mut self.page));
    }

    fn at_top(&self) -> bool {
        self.y >= CONTENT_TOP - 0.01
    }

    fn fits(&self, h: f32) -> bool {
        self.y - h >= MARGIN_BOTTOM - 0.01
    }

    /// Starts a new page unless `h` points fit below the cursor (or the page is still empty).
    fn ensure(&mut self, h: f32) {
        if !self.fits(h) && !self.at_top() {
            self.new_page();
        }
    }

    /// Vertical space, dropped at the top of a page.
    fn space(&mut self, h: f32) {
        if !self.at_top() {
            self.y -= h;
        }
    }

    fn text(&mut self, x: f32, baseline: f32, s: &str, bold: bool, size: f32, c: Rgb3) {
        self.page.text(self.fonts, (x, baseline), s, bold, size, c);
    }

    fn wrap(&self, text: &str, bold: bool, size: f32, max_w: f32) -> Vec<String> {
        self.fonts.face(bold).wrap(text, size, max_w)
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

    fn title(&mut self, title: &str) {
        if title.trim().is_empty() {
            return;
        }
        let lines = self.wrap(title, true, TITLE_SIZE, CONTENT_W);
        self.lines(MARGIN_X, &lines, true, TITLE_SIZE, TITLE_LEAD, ACCENT);
        self.y -= 4.0;
        self.page.line(
            (MARGIN_X, self.y),
            (MARGIN_X + CONTENT_W, self.y),
            1.2,
            ACCENT,
        );
        self.y -= 10.0;
    }

    fn heading(&mut self, text: &str, new_page: bool) {
        if new_page && !self.at_top() {
            self.new_page();
        }
        if text.trim().is_empty() {
            return;
        }
        self.space(12.0);
        let lines = self.wrap(text, true, H1_SIZE, CONTENT_W);
        // Keep the heading with the first lines of what follows.
        self.ensure(lines.len() as f32 * H1_LEAD + 8.0 + 3.0 * BODY_LEAD);
        self.lines(MARGIN_X, &lines, true, H1_SIZE, H1_LEAD, ACCENT);
        self.y -= 2.0;
        self.page.line(
            (MARGIN_X, self.y),
            (MARGIN_X + CONTENT_W, self.y),
            0.6,
            ACCENT,
        );
        self.y -= 7.0;
    }

    fn subheading(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.space(8.0);
        let lines = self.wrap(text, true, H2_SIZE, CONTENT_W);
        self.ensure(lines.len() as f32 * H2_LEAD + 3.0 + 2.0 * BODY_LEAD);
        self.lines(MARGIN_X, &lines, true, H2_SIZE, H2_LEAD, TEXT);
        self.y -= 3.0;
    }

    fn paragraph(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let lines = self.wrap(text, false, BODY_SIZE, CONTENT_W);
        self.lines(MARGIN_X, &lines, false, BODY_SIZE, BODY_LEAD, TEXT);
        self.y -= 5.0;
    }

    fn bullets(&mut self, items: &[String]) {
        let indent = 4.0 * PT_PER_MM;
        for item in items {
            let lines = self.wrap(item, false, BODY_SIZE, CONTENT_W - indent);
            for (i, line) in lines.iter().enumerate() {
                self.ensure(BODY_LEAD);
                let b = baseline(self.y, BODY_LEAD, BODY_SIZE);
                if i == 0 {
                    self.text(MARGIN_X + 1.5 * PT_PER_MM, b, "•", false, BODY_SIZE, ACCENT);
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

    fn key_values(&mut self, pairs: &[(String, String)]) {
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
            let vlines = self.wrap(value, false, BODY_SIZE, value_w);
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
            self.page.line(
                (MARGIN_X, self.y),
                (MARGIN_X + CONTENT_W, self.y),
                0.4,
                RULE_LIGHT,
            );
            self.y -= 2.5;
        }
        self.y -= 4.0;
    }

    fn table(&mut self, headers: &[String], widths: &[f32], rows: &[Vec<String>]) {
        let ncols = rows.iter().map(Vec::len).fold(headers.len(), usize::max);
        if ncols == 0 {
            return;
        }
        let valid = |w: &f32| w.is_finite() && *w > 0.0;
        let given: Vec<f32> = widths.iter().copied().filter(valid).collect();
        let fallback = if given.is_empty() {
            1.0
        } else {
            given.iter().sum::<f32>() / given.len() as f32
        };
        let rel: Vec<f32> = (0..ncols)
            .map(|i| widths.get(i).copied().filter(valid).unwrap_or(fallback))
            .collect();
        let total: f32 = rel.iter().sum();
        let mut w: Vec<f32> = rel.iter().map(|r| r / total * CONTENT_W).collect();
        self.fit_words(&mut w, headers, rows);
        let x: Vec<f32> = w
            .iter()
            .scan(MARGIN_X, |acc, wi| {
                let xi = *acc;
                *acc += wi;
                Some(xi)
            })
            .collect();
        let header: Vec<Vec<String>> = if headers.is_empty() {
            Vec::new()
        } else {
            (0..ncols)
                .map(|i| {
                    let h = headers.get(i).map(String::as_str).unwrap_or("");
                    self.wrap(h, true, TABLE_SIZE, w[i] - 2.0 * CELL_PAD_X)
                })
                .collect()
        };
        let header_lines = header.iter().map(Vec::len).max().unwrap_or(0);
        let header_h = if header.is_empty() {
            0.0
        } else {
            header_lines as f32 * TABLE_LEAD + 2.0 * CELL_PAD_Y
        };
        let geom = TableGeom {
            x,
            w,
            header,
            header_h,
            repeat_header: header_h <= CONTENT_H / 2.0,
        };

        self.space(4.0);
        // The header must not be left alone at the bottom of a page.
        self.ensure(geom.header_h + TABLE_LEAD + 2.0 * CELL_PAD_Y);
        let seg_top = self.y;
        self.table_header(&geom);
        self.open_table = Some(OpenTable {
            geom,
            ncols,
            seg_top,
            rows_on_page: false,
        });
        self.more_rows(rows);
    }

    /// Lays out more rows of the open table (its columns were sized by its first block of rows); rows
    /// with no open table start one without a header.
    fn more_rows(&mut self, rows: &[Vec<String>]) {
        let Some(OpenTable {
            geom,
            ncols,
            mut seg_top,
            mut rows_on_page,
        }) = self.open_table.take()
        else {
            if !rows.is_empty() {
                self.table(&[], &[], rows);
            }
            return;
        };
        for row in rows {
            let cells: Vec<Vec<String>> = (0..ncols)
                .map(|i| {
                    let c = row.get(i).map(String::as_str).unwrap_or("");
                    self.wrap(c, false, TABLE_SIZE, geom.w[i] - 2.0 * CELL_PAD_X)
                })
                .collect();
            let n = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let fresh_lines = ((CONTENT_H
                - if geom.repeat_header {
                    geom.header_h
                } else {
                    0.0
                }
                - 2.0 * CELL_PAD_Y)
                / TABLE_LEAD)
                .floor()
                .max(1.0) as usize;
            let mut start = 0;
            while start < n {
                let remaining = n - start;
                let here = ((self.y - MARGIN_BOTTOM - 2.0 * CELL_PAD_Y) / TABLE_LEAD + 0.001)
                    .floor()
                    .max(0.0) as usize;
                let take = if remaining <= here {
                    remaining
                } else if rows_on_page && (remaining <= fresh_lines || here == 0) {
                    // Move the (rest of the) row to the next page.
                    self.table_page_break(&geom, seg_top);
                    seg_top = self.y;
                    rows_on_page = false;
                    continue;
                } else {
                    // Taller than a page (or nothing else on this page): split it here.
                    here.max(1).min(remaining)
                };
                self.table_row(&geom, &cells, start, start + take);
                rows_on_page = true;
                start += take;
                if start < n {
                    self.table_page_break(&geom, seg_top);
                    seg_top = self.y;
                    rows_on_page = false;
                }
            }
        }
        self.open_table = Some(OpenTable {
            geom,
            ncols,
            seg_top,
            rows_on_page,
        });
    }

    /// Finishes the open table, if any: its vertical rules and the space below it.
    fn close_table(&mut self) {
        if let Some(table) = self.open_table.take() {
            self.table_verticals(&table.geom, table.seg_top);
            self.y -= 8.0;
        }
    }

    /// Adjusts column widths, like an HTML table's automatic layout, so that words up to
    /// [`LONG_WORD`] wide (identifiers such as check ids or statuses) are not broken: columns whose
    /// widest such word does not fit grow, taking the room from columns that have more than their
    /// own widest word needs. Longer tokens (ARNs, digests, URLs) are left to be broken.
    fn fit_words(&self, w: &mut [f32], headers: &[String], rows: &[Vec<String>]) {
        let floor = 2.0 * CELL_PAD_X + 4.0 * TABLE_SIZE;
        let mut min = vec![floor; w.len()];
        let mut widen = |i: usize, cell: &str, face: &Face| {
            for word in cell.split(char::is_whitespace) {
                // (+1: rounding in the arithmetic below must not make the word miss by a hair.)
                let ww = face.width(word, TABLE_SIZE) + 2.0 * CELL_PAD_X + 1.0;
                if ww > min[i] && ww <= LONG_WORD {
                    min[i] = ww;
                }
            }
        };
        for (i, h) in headers.iter().enumerate().take(w.len()) {
            widen(i, h, self.fonts.face(true));
        }
        for row in rows {
            for (i, cell) in row.iter().enumerate().take(w.len()) {
                widen(i, cell, self.fonts.face(false));
            }
        }
        let demand: f32 = w.iter().zip(&min).map(|(wi, mi)| (mi - wi).max(0.0)).sum();
        let slack: f32 = w.iter().zip(&min).map(|(wi, mi)| (wi - mi).max(0.0)).sum();
        if demand <= 0.0 || slack <= 0.0 {
            return;
        }
        let moved = demand.min(slack);
        for (wi, mi) in w.iter_mut().zip(&min) {
            if *mi > *wi {
                *wi += (*mi - *wi) * moved / demand;
            } else {
                *wi -= (*wi - *mi) * moved / slack;
            }
        }
    }

    fn table_header(&mut self, g: &TableGeom) {
        let right = MARGIN_X + CONTENT_W;
        self.page
            .line((MARGIN_X, self.y), (right, self.y), 0.5, RULE);
        if g.header.is_empty() {
            return;
        }
        self.page.fill_rect(
            MARGIN_X,
            self.y - g.header_h,
            CONTENT_W,
            g.header_h,
            HEADER_BG,
        );
        let lines = g.header.iter().map(Vec::len).max().unwrap_or(0);
        self.row_text(g, &g.header, 0, lines, true, BLACK);
        self.y -= g.header_h;
        self.page
            .line((MARGIN_X, self.y), (right, self.y), 0.5, RULE);
    }

    /// Draws lines `from..to` of every cell below the cursor, one text run per visual line.
    fn row_text(
        &mut self,
        g: &TableGeom,
        cells: &[Vec<String>],
        from: usize,
        to: usize,
        bold: bool,
        c: Rgb3,
    ) {
        let top = self.y - CELL_PAD_Y;
        let mut pieces: Vec<(f32, &str)> = Vec::with_capacity(cells.len());
        for j in from..to {
            pieces.clear();
            for (i, lines) in cells.iter().enumerate() {
                if let Some(line) = lines.get(j) {
                    pieces.push((g.x[i] + CELL_PAD_X, line));
                }
            }
            let b = baseline(top - (j - from) as f32 * TABLE_LEAD, TABLE_LEAD, TABLE_SIZE);
            self.page
                .text_run(self.fonts, b, &pieces, bold, TABLE_SIZE, c);
        }
    }

    fn table_row(&mut self, g: &TableGeom, cells: &[Vec<String>], from: usize, to: usize) {
        self.row_text(g, cells, from, to, false, TEXT);
        self.y -= (to - from) as f32 * TABLE_LEAD + 2.0 * CELL_PAD_Y;
        self.page.line(
            (MARGIN_X, self.y),
            (MARGIN_X + CONTENT_W, self.y),
            0.3,
            RULE,
        );
    }

    fn table_verticals(&mut self, g: &TableGeom, top: f32) {
        if top - self.y < 0.01 {
            return;
        }
        let bottom = self.y;
        let right = g.x.last().copied().unwrap_or(MARGIN_X) + g.w.last().copied().unwrap_or(0.0);
        for &xi in g.x.iter().chain(std::iter::once(&right)) {
            self.page.line((xi, top), (xi, bottom), 0.3, RULE);
        }
    }

    fn table_page_break(&mut self, g: &TableGeom, seg_top: f32) {
        self.table_verticals(g, seg_top);
        self.new_page();
        if g.repeat_header {
            self.table_header(g);
        } else {
            self.page.line(
                (MARGIN_X, self.y),
                (MARGIN_X + CONTENT_W, self.y),
                0.5,
                RULE,
            );
        }
    }

    fn bar_chart(&mut self, bars: &[(String, u64)]) {
        if bars.is_empty() {
            return;
        }
        let bold = self.fonts.face(true);
        let regular = self.fonts.face(false);
        let widest = bars
            .iter()
            .map(|(l, _)| bold.width(l.trim(), BODY_SIZE))
            .fold(0.0f32, f32::max);
        let label_w = (widest + 12.0).clamp(50.0, CONTENT_W * 0.3);
        let num_w = bars
            .iter()
            .map(|(_, v)| regular.width(&v.to_string(), BODY_SIZE))
            .fold(0.0f32, f32::max)
            + 8.0;
        let bar_x = MARGIN_X + label_w;
        let bar_max = (CONTENT_W - label_w - num_w).max(10.0);
        let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0);
        let bar_h = 9.0;
        self.space(4.0);
        for (label, value) in bars {
            let lines = self.wrap(label, true, BODY_SIZE, label_w - 10.0);
            let row_h = (lines.len() as f32 * BODY_LEAD).max(bar_h + 4.0) + 5.0;
            self.ensure(row_h);
            let top = self.y;
            let mid = top - row_h / 2.0;
            let first = mid + (lines.len() as f32 - 1.0) * BODY_LEAD / 2.0;
            for (i, line) in lines.iter().enumerate() {
                let b = first - i as f32 * BODY_LEAD - BODY_SIZE * 0.36;
                self.text(MARGIN_X, b, line, true, BODY_SIZE, TEXT);
            }
            let len = if max == 0 {
                0.0
            } else {
                (*value as f64 / max as f64 * f64::from(bar_max)) as f32
            };
            let col = bar_color(label);
            if *value > 0 {
                self.page
                    .fill_rect(bar_x, mid - bar_h / 2.0, len.max(1.0), bar_h, col);
            }
            self.page
                .line((bar_x, top), (bar_x, top - row_h), 0.5, RULE);
            self.text(
                bar_x + len.max(1.0) + 4.0,
                mid - BODY_SIZE * 0.36,
                &value.to_string(),
                false,
                BODY_SIZE,
                TEXT,
            );
            self.y -= row_h;
        }
        self.y -= 8.0;
    }
}

/// Adds the footer: a rule, the document's footer text (at most two lines) and "page n of m".
fn footer(page: &mut PageOps, fonts: &Fonts, text: &str, number: usize, total: usize) {
    let regular = fonts.face(false);
    let right = MARGIN_X + CONTENT_W;
    let label = format!("page {number} of {total}");
    let label_w = regular.width(&label, FOOTER_SIZE);
    let avail = CONTENT_W - label_w - 14.0;
    let mut lines = regular.wrap(text, FOOTER_SIZE, avail);
    if lines.len() > 2 {
        let ellipsis = regular.width("…", FOOTER_SIZE);
        let mut second = std::mem::take(&mut lines[1]);
        while !second.is_empty() && regular.width(&second, FOOTER_SIZE) + ellipsis > avail {
            second.pop();
        }
        second.push('…');
        lines.truncate(1);
        lines.push(second);
    }
    page.line((MARGIN_X, FOOTER_RULE_Y), (right, FOOTER_RULE_Y), 0.4, RULE);
    for (j, line) in lines.iter().enumerate() {
        let b = FOOTER_BASELINE - j as f32 * (FOOTER_SIZE + 1.5);
        page.text(fonts, (MARGIN_X, b), line, false, FOOTER_SIZE, MUTED);
    }
    page.text(
        fonts,
        (right - label_w, FOOTER_BASELINE),
        &label,
        false,
        FOOTER_SIZE,
        MUTED,
    );
}

fn bar_color(label: &str) -> Rgb3 {
    let label = label.trim();
    if label.eq_ignore_ascii_case("PASS") {
        PASS
    } else if label.eq_ignore_ascii_case("FAIL") {
        FAIL
    } else if label.eq_ignore_ascii_case("UNKNOWN") {
        UNKNOWN
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn big_table_doc(rows: usize) -> Document<'static> {
        Document {
            title: "Überwachung – ✓ café 日本 report".into(),
            footer: "auditpack · pack 01900000-0000-7000-8000-000000000000".into(),
            blocks: Blocks::List(vec![
                Block::Heading {
                    text: "Evidence".into(),
                    new_page: false,
                },
                Block::Paragraph("Rows follow.".into()),
                Block::Table {
                    headers: vec!["#".into(), "Trail".into(), "SHA-256".into()],
                    widths: vec![0.5, 3.0, 2.0],
                    rows: (0..rows)
                        .map(|i| {
                            vec![
                                i.to_string(),
                                format!(
                                    "arn:aws:cloudtrail:us-east-1:123456789012:trail/trail-{i:05}"
                                ),
                                format!("{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
                            ]
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
        let parsed = PdfDocument::parse(pdf, &opts, &mut Vec::new()).expect("the PDF parses");
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
        blocks.extend(chunks.map(|c| Block::MoreRows(c.to_vec())));
        blocks.push(Block::Paragraph("After the table.".into()));
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
        let doc = Document {
            title: "\n\t".into(),
            footer: "x".repeat(2000),
            blocks: Blocks::List(vec![
                Block::Heading {
                    text: String::new(),
                    new_page: true,
                },
                Block::Subheading(String::new()),
                // Rows with no table to continue.
                Block::MoreRows(vec![vec!["orphan".into()], vec![]]),
                Block::Paragraph(String::new()),
                Block::Bullets(vec![String::new(), "\n\n".into()]),
                Block::KeyValues(vec![(String::new(), String::new())]),
                Block::Table {
                    headers: Vec::new(),
                    widths: Vec::new(),
                    rows: Vec::new(),
                },
                Block::Table {
                    headers: vec!["a".into(), "b".into()],
                    widths: vec![0.0, f32::NAN],
                    rows: Vec::new(),
                },
                Block::Table {
                    headers: vec!["a".into()],
                    widths: vec![1.0],
                    rows: vec![
                        vec![],
                        vec![String::new(), "extra cell".into(), "more".into()],
                    ],
                },
                // 60 columns: each narrower than some glyphs.
                Block::Table {
                    headers: (0..60).map(|i| format!("column {i}")).collect(),
                    widths: vec![1.0; 60],
                    rows: vec![(0..60).map(|i| "W".repeat(i)).collect()],
                },
                Block::BarChart { bars: Vec::new() },
                Block::BarChart {
                    bars: vec![("PASS".into(), 0), ("".into(), 0)],
                },
                Block::BarChart {
                    bars: vec![("FAIL".into(), u64::MAX), ("UNKNOWN".into(), 1)],
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
                rows: vec![
                    vec!["a".into(), tall.clone()],
                    vec!["b".into(), "short".into()],
                ],
            }]),
        };
        let pdf = render(&doc).unwrap();
        // 400 lines at 10pt need at least five pages.
        assert!(page_count(&pdf) >= 5, "pages: {}", page_count(&pdf));
    }

    #[test]
    fn wrapping_keeps_lines_within_width() {
        let fonts = fonts().unwrap();
        let face = fonts.face(false);
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main";
        for max_w in [20.0f32, 60.0, 90.0, 150.0, 400.0] {
            let text = format!("Key {sha} and {arn} with Überwachung – ✓ café 日本 words");
            let lines = face.wrap(&text, TABLE_SIZE, max_w);
            for line in &lines {
                assert!(
                    face.width(line, TABLE_SIZE) <= max_w + 0.01 || line.chars().count() == 1,
                    "{line:?} wider than {max_w}"
                );
            }
            // Nothing is lost: the characters come back in order.
            let joined: String = lines.concat().chars().filter(|c| *c != ' ').collect();
            let expected: String = text.chars().filter(|c| *c != ' ').collect();
            assert_eq!(joined, expected);
        }
        // An ARN is broken after a separator where possible.
        let lines = face.wrap(arn, TABLE_SIZE, 90.0);
        assert!(lines.len() > 1);
        assert!(lines[0].ends_with(':'), "{lines:?}");
        assert!(lines.iter().all(|l| !l.ends_with('-')), "{lines:?}");
        // Explicit newlines are kept; empty text gives one empty line.
        assert_eq!(face.wrap("a\nb", BODY_SIZE, 100.0), vec!["a", "b"]);
        assert_eq!(face.wrap("", BODY_SIZE, 100.0), vec![""]);
        assert_eq!(face.wrap("x", BODY_SIZE, 0.0), vec!["x"]);
    }
}
