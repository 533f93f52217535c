//! Writing the PDF file object by object: each object as soon as it is ready, in lopdf's own bytes,
//! then the cross-reference table and a trailer whose /ID is a digest of everything before it.

use super::PdfError;
use sha2::{Digest, Sha256};

/// A PDF file written object by object: each object is written as soon as it is ready, with its
/// offset noted for the cross-reference table at the end. The bytes of an object (and of the trailer)
/// are lopdf's own: each is saved as the only content of a throwaway lopdf document and cut out of
/// it, so the file is what lopdf's `Document::save` would write, without holding every object first.
pub(super) struct PdfFile<'w> {
    out: &'w mut dyn std::io::Write,
    written: u64,
    offsets: Vec<Option<u32>>,
    /// Every byte written so far, for the document's /ID.
    digest: Sha256,
}

/// A lopdf document holding only `objects`, saved with a classic cross-reference table; with the
/// length of its header.
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

/// 16 bytes naming a file's content: the first half of its SHA-256. A PDF's /ID must be the same
/// for the same document, so it is derived from the content rather than a clock or a counter (as
/// reproducible-build PDF producers do).
fn content_id(digest: Sha256) -> Vec<u8> {
    digest.finalize()[..16].to_vec()
}

impl<'w> PdfFile<'w> {
    /// Starts the file with the header of `lo`'s version; `size` is the largest object number.
    pub fn start(
        out: &'w mut dyn std::io::Write,
        lo: &lopdf::Document,
        size: u32,
    ) -> Result<Self, PdfError> {
        let mut file = Self {
            out,
            written: 0,
            offsets: vec![None; size as usize + 1],
            digest: Sha256::new(),
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
        self.digest.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes `id 0 obj ... endobj`.
    pub fn object(&mut self, id: lopdf::ObjectId, object: lopdf::Object) -> Result<(), PdfError> {
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
        // The object runs from the header to the cross-reference table: binary stream content may
        // contain anything, but the table is the last `xref` keyword on a line of its own (the one
        // in `startxref` comes after it).
        let end = rfind(&bytes, b"\nxref\n")
            .map(|at| at + 1)
            .filter(|&end| end >= header)
            .ok_or_else(|| PdfError::Write("lopdf wrote no cross-reference table".to_string()))?;
        self.bytes(&bytes[header..end])
    }

    /// The cross-reference table, the trailer (its /ID set from the content) and `startxref`.
    pub fn finish(mut self, mut trailer: lopdf::Dictionary) -> Result<(), PdfError> {
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
        // Both halves equal, as for a newly created file.
        let id = content_id(self.digest.clone());
        let half = || lopdf::Object::String(id.clone(), lopdf::StringFormat::Hexadecimal);
        trailer.set("ID", vec![half(), half()]);
        // lopdf sets the trailer's /Size from the largest object number.
        let max_id = self.offsets.len() as u32 - 1;
        let (alone, _) = save_alone(Vec::new(), Some(trailer), max_id)?;
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

/// Deflates a stream that is not compressed yet, at zlib's default level (6). lopdf's best level was
/// the largest cost of large reports; the fastest level (1) saves only a fifth of the PDF's time and
/// makes the 1,000-trail report 75% larger (5.5 MB instead of 3.2 MB).
pub(super) fn deflate(object: &mut lopdf::Object) {
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

/// The info dictionary always carries CreationDate/ModDate (the Unix epoch unless set) and empty
/// PDF/X fields: what would be meaningless is left out, so that nothing in the file depends on when
/// or where it was made.
pub(super) fn clean_info(lo: &mut lopdf::Document) {
    let Ok(info_id) = lo.trailer.get(b"Info").and_then(|o| o.as_reference()) else {
        return;
    };
    let Ok(info) = lo.get_object_mut(info_id).and_then(|o| o.as_dict_mut()) else {
        return;
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_with_offsets_and_the_id_follows_the_content() {
        let write = |text: &[u8]| {
            let mut out = Vec::new();
            let lo = lopdf::Document::with_version("1.7");
            let mut file = PdfFile::start(&mut out, &lo, 2).unwrap();
            file.object((2, 0), lopdf::Object::Integer(7)).unwrap();
            let string = lopdf::Object::string_literal(text);
            file.object((1, 0), string).unwrap();
            file.finish(lopdf::Dictionary::new()).unwrap();
            out
        };
        let pdf = write(b"one");
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.7\n%"), "{text}");
        assert!(text.contains("2 0 obj\n 7 \nendobj"), "{text}");
        assert!(text.ends_with("%%EOF"), "{text}");
        // Nothing between the objects: one cross-reference table, one trailer.
        assert!(text.contains("endobj\n1 0 obj"), "{text}");
        assert_eq!(
            text.matches("xref\n").count(),
            2,
            "xref and startxref: {text}"
        );
        assert_eq!(text.matches("trailer").count(), 1, "{text}");
        // The cross-reference table points at each object.
        let at = |needle: &str| {
            (pdf.windows(needle.len()))
                .position(|w| w == needle.as_bytes())
                .unwrap()
        };
        let entry = |offset: usize| format!("{offset:010} 00000 n");
        assert!(text.contains(&entry(at("1 0 obj"))), "{text}");
        assert!(text.contains(&entry(at("2 0 obj"))), "{text}");
        // The same content gives the same file; other content another /ID.
        assert_eq!(pdf, write(b"one"));
        let id = |pdf: &[u8]| {
            let text = String::from_utf8_lossy(pdf).into_owned();
            text[text.find("/ID").unwrap()..]
                .lines()
                .next()
                .unwrap()
                .to_string()
        };
        assert_ne!(id(&pdf), id(&write(b"two")));
    }

    #[test]
    fn an_object_outside_the_table_is_refused() {
        let mut out = Vec::new();
        let lo = lopdf::Document::with_version("1.7");
        let mut file = PdfFile::start(&mut out, &lo, 1).unwrap();
        assert!(file.object((5, 0), lopdf::Object::Null).is_err());
    }

    #[test]
    fn streams_are_deflated_once() {
        let content = b"BT /F1 9 Tf (hello hello hello hello) Tj ET".repeat(20);
        let mut object = lopdf::Object::Stream(lopdf::Stream::new(
            lopdf::Dictionary::new(),
            content.clone(),
        ));
        deflate(&mut object);
        let once = object.clone();
        deflate(&mut object);
        assert_eq!(object, once, "a compressed stream is left alone");
        let stream = object.as_stream().unwrap();
        assert!(stream.content.len() < content.len());
        assert_eq!(stream.decompressed_content().unwrap(), content);
    }
}
