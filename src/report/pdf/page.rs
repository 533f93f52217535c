//! One page's drawing operations (text, filled rectangles, rules) and its footer.

use super::fonts::Fonts;
use super::style::*;
use super::wrap::{wrap, Measure};
use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, PdfFontHandle, PdfPage, Point, Pt, Rect, Rgb,
    TextItem, TextMatrix,
};

/// One page's operations: graphics (fills, rules) are drawn first, then all text in a single
/// text object, so nothing is painted over text and no path operator sits inside BT/ET.
#[derive(Default)]
pub(super) struct PageOps {
    gfx: Vec<Op>,
    pub text: Vec<Op>,
    gfx_fill: Option<Rgb3>,
    gfx_stroke: Option<(Rgb3, f32)>,
    text_fill: Option<Rgb3>,
    text_font: Option<(bool, u32)>,
}

/// A piece of text on a line: where it starts, what it says, in which colour.
pub(super) type Piece<'s> = (f32, &'s str, Rgb3);

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
    /// Shows `s` with its baseline starting at `(x, baseline)`.
    pub fn text(
        &mut self,
        fonts: &Fonts,
        (x, baseline): (f32, f32),
        s: &str,
        bold: bool,
        size: f32,
        c: Rgb3,
    ) {
        if !s.is_empty() {
            self.text_run(fonts, baseline, &[(x, s, c)], bold, size);
        }
    }

    /// Shows pieces of text on one baseline, each at its own x (ascending): each run of pieces in
    /// the same colour is a single text operation whose gaps are TJ displacements. Used for table
    /// rows, which would otherwise need a text matrix and a show operation per cell line.
    pub fn text_run(
        &mut self,
        fonts: &Fonts,
        baseline: f32,
        pieces: &[Piece],
        bold: bool,
        size: f32,
    ) {
        let face = fonts.face(bold);
        let mut pieces = pieces.iter().filter(|(_, s, _)| !s.is_empty()).peekable();
        while let Some(&(x0, first, c)) = pieces.next() {
            let mut items = vec![TextItem::Text(first.to_string())];
            let mut pen = x0 + face.width(first, size);
            while let Some(&&(x, s, _)) = pieces.peek().filter(|p| p.2 == c) {
                pieces.next();
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

    /// Fills a rectangle whose lower left corner is `(x, y)`.
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: Rgb3) {
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

    pub fn line(&mut self, (x1, y1): (f32, f32), (x2, y2): (f32, f32), width: f32, c: Rgb3) {
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

    /// A rule across the content width at `y`.
    pub fn rule(&mut self, y: f32, width: f32, c: Rgb3) {
        self.line((MARGIN_X, y), (MARGIN_X + CONTENT_W, y), width, c);
    }

    /// The page as printpdf takes it: graphics first, then one text object.
    pub fn into_page(self) -> PdfPage {
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

/// The footer's lines: the document's footer text wrapped into `avail` points, at most two lines
/// (the second cut with an ellipsis when more would follow).
fn footer_lines(m: &dyn Measure, text: &str, size: f32, avail: f32) -> Vec<String> {
    let mut lines = wrap(m, text, size, avail);
    if lines.len() > 2 {
        let ellipsis = m.width("…", size);
        let mut second = std::mem::take(&mut lines[1]);
        while !second.is_empty() && m.width(&second, size) + ellipsis > avail {
            second.pop();
        }
        second.push('…');
        lines.truncate(1);
        lines.push(second);
    }
    lines
}

/// Adds the footer: a rule, the document's footer text (at most two lines) and "page n of m".
pub(super) fn footer(page: &mut PageOps, fonts: &Fonts, text: &str, number: usize, total: usize) {
    let regular = fonts.face(false);
    let label = format!("page {number} of {total}");
    let label_w = regular.width(&label, FOOTER_SIZE);
    let avail = CONTENT_W - label_w - 14.0;
    page.rule(FOOTER_RULE_Y, 0.4, RULE);
    for (j, line) in footer_lines(regular, text, FOOTER_SIZE, avail)
        .iter()
        .enumerate()
    {
        let b = FOOTER_BASELINE - j as f32 * (FOOTER_SIZE + 1.5);
        page.text(fonts, (MARGIN_X, b), line, false, FOOTER_SIZE, MUTED);
    }
    let right = MARGIN_X + CONTENT_W;
    page.text(
        fonts,
        (right - label_w, FOOTER_BASELINE),
        &label,
        false,
        FOOTER_SIZE,
        MUTED,
    );
}

#[cfg(test)]
mod tests {
    use super::super::fonts::fonts;
    use super::*;

    struct Fixed;

    impl Measure for Fixed {
        fn advance(&self, _: char) -> u32 {
            500
        }
    }

    #[test]
    fn a_long_footer_is_cut_to_two_lines_with_an_ellipsis() {
        assert_eq!(footer_lines(&Fixed, "short", 10.0, 50.0), ["short"]);
        let lines = footer_lines(&Fixed, "aaaa bbbb cccc dddd", 10.0, 25.0);
        assert_eq!(lines, ["aaaa", "bbbb…"]);
        let lines = footer_lines(&Fixed, "aaaa bbbbb cccc", 10.0, 25.0);
        assert_eq!(lines, ["aaaa", "bbbb…"]);
    }

    fn shown(ops: &[Op]) -> Vec<Vec<String>> {
        ops.iter()
            .filter_map(|op| match op {
                Op::ShowText { items } => Some(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            TextItem::Text(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_run_is_one_operation_per_colour() {
        let fonts = fonts().unwrap();
        let mut page = PageOps::default();
        let red = [1.0, 0.0, 0.0];
        page.text_run(
            fonts,
            100.0,
            &[
                (10.0, "a", TEXT),
                (50.0, "", red),
                (60.0, "b", TEXT),
                (90.0, "FAIL", red),
                (120.0, "c", TEXT),
            ],
            false,
            TABLE_SIZE,
        );
        assert_eq!(shown(&page.text), [vec!["a", "b"], vec!["FAIL"], vec!["c"]]);
        // The font is set once; the colour each time it changes.
        let fills = page
            .text
            .iter()
            .filter(|op| matches!(op, Op::SetFillColor { .. }))
            .count();
        let fonts_set = page
            .text
            .iter()
            .filter(|op| matches!(op, Op::SetFont { .. }))
            .count();
        assert_eq!((fills, fonts_set), (3, 1));
    }
}
