//! The embedded fonts (DejaVu Sans regular and bold) and their metrics: the advance width of each
//! character exactly as the PDF viewer will use it, and which characters a document shows.

use super::wrap::Measure;
use super::PdfError;
use printpdf::{FontId, Op, ParsedFont, PdfFont, PdfFontHandle, Pt, TextItem};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FONT_REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// An embedded font and the advance widths the PDF viewer will use for it.
pub(super) struct Face {
    pub id: FontId,
    pub font: ParsedFont,
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
}

impl Measure for Face {
    fn advance(&self, c: char) -> u32 {
        let w = match self.bmp.get(c as usize) {
            Some(&w) => w,
            None => self.astral.get(&(c as u32)).copied().unwrap_or(NO_GLYPH),
        };
        u32::from(if w == NO_GLYPH { MISSING_WIDTH } else { w })
    }
}

/// Both faces of the body font.
pub(super) struct Fonts {
    pub regular: Face,
    pub bold: Face,
    /// The two fonts without their file bytes, for the batch documents whose only product is page
    /// content: printpdf encodes text from the glyph maps alone, and would otherwise embed and
    /// deflate both whole fonts again for every batch (their font objects are discarded).
    pub light: [PdfFont; 2],
}

impl Fonts {
    pub fn face(&self, bold: bool) -> &Face {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }
}

/// The parsed fonts, shared by all renders in the process.
pub(super) fn fonts() -> Result<&'static Fonts, PdfError> {
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

/// The characters each font shows, as bit sets over all Unicode scalar values: the fonts' width
/// tables and /ToUnicode maps must cover them.
pub(super) struct UsedChars {
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
    /// Notes the characters of `s`, shown in the bold or the regular face.
    pub fn text(&mut self, bold: bool, s: &str) {
        let set = &mut self.sets[usize::from(bold)];
        for c in s.chars() {
            set[c as usize / 64] |= 1 << (c as usize % 64);
        }
    }

    /// Notes the characters a page's text operations show.
    pub fn ops(&mut self, fonts: &Fonts, ops: &[Op]) {
        let mut bold = false;
        for op in ops {
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

    /// The characters noted for one face, in code point order.
    fn chars(&self, bold: bool) -> String {
        self.sets[usize::from(bold)]
            .iter()
            .enumerate()
            .filter(|(_, word)| **word != 0)
            .flat_map(|(i, word)| {
                (0..64)
                    .filter(move |b| word & (1 << b) != 0)
                    .map(move |b| i * 64 + b)
            })
            .filter_map(|cp| char::from_u32(cp as u32))
            .collect()
    }

    /// Text operations showing every noted character in its face.
    pub fn inventory(&self, fonts: &Fonts, size: f32) -> Vec<Op> {
        let mut ops = vec![Op::StartTextSection];
        for bold in [false, true] {
            let chars = self.chars(bold);
            if !chars.is_empty() {
                ops.push(Op::SetFont {
                    font: PdfFontHandle::External(fonts.face(bold).id.clone()),
                    size: Pt(size),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_are_the_fonts_and_missing_glyphs_are_a_box() {
        let fonts = fonts().unwrap();
        let (regular, bold) = (fonts.face(false), fonts.face(true));
        // DejaVu Sans: a space is 651/2048 em, a capital W 2025/2048, truncated to 1/1000 em as
        // printpdf writes /W; bold is wider.
        assert_eq!((regular.advance(' '), regular.advance('W')), (317, 988));
        assert!(bold.advance('a') > regular.advance('a'));
        // No CJK in the DejaVu subset, nor a private-use code point beyond the BMP.
        assert_eq!(regular.advance('日'), u32::from(MISSING_WIDTH));
        assert_eq!(regular.advance('\u{10_0000}'), u32::from(MISSING_WIDTH));
        assert_eq!(regular.width("WW", 10.0), 19.76);
    }

    #[test]
    fn used_characters_are_listed_once_per_face_in_order() {
        let mut used = UsedChars::default();
        used.text(false, "cab\u{1F600}a");
        used.text(true, "Z");
        assert_eq!(used.chars(false), "abc\u{1F600}");
        assert_eq!(used.chars(true), "Z");
        let fonts = fonts().unwrap();
        let ops = used.inventory(fonts, 9.0);
        let shown: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                Op::ShowText { items } => match items.as_slice() {
                    [TextItem::Text(s)] => Some(s.as_str()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(shown, ["abc\u{1F600}", "Z"]);
        let mut again = UsedChars::default();
        again.ops(fonts, &ops);
        assert_eq!(again.chars(false), used.chars(false));
        assert_eq!(again.chars(true), used.chars(true));
    }
}
