//! Tables: column widths, cells wrapped within their column, rows kept whole on a page unless taller
//! than one, the header row repeated on every page a table continues on, and tables handed over in
//! parts ([`Block::MoreRows`](crate::report::document::Block::MoreRows)).

use super::layout::Layout;
use super::style::*;
use super::wrap::Measure;
use crate::report::document::Row;

/// Table words up to this wide are kept whole by widening their column (see [`fit_words`]).
const LONG_WORD: f32 = 0.3 * CONTENT_W;

/// A prepared table: column geometry and the wrapped header.
pub(super) struct TableGeom {
    x: Vec<f32>,
    w: Vec<f32>,
    header: Vec<Vec<String>>,
    header_h: f32,
    repeat_header: bool,
}

/// A table whose rows may continue in the next block.
pub(super) struct OpenTable {
    geom: TableGeom,
    /// Top of the table's part on the current page.
    seg_top: f32,
    rows_on_page: bool,
}

/// `ncols` relative widths: the given ones, with missing or unusable ones (zero, negative, NaN)
/// replaced by the mean of the usable ones.
fn relative_widths(widths: &[f32], ncols: usize) -> Vec<f32> {
    let valid = |w: &f32| w.is_finite() && *w > 0.0;
    let given: Vec<f32> = widths.iter().copied().filter(valid).collect();
    let fallback = if given.is_empty() {
        1.0
    } else {
        given.iter().sum::<f32>() / given.len() as f32
    };
    (0..ncols)
        .map(|i| widths.get(i).copied().filter(valid).unwrap_or(fallback))
        .collect()
}

/// Adjusts column widths `w`, like an HTML table's automatic layout, towards the minimum `min` each
/// column needs: columns short of their minimum grow, taking the room from columns that have more
/// than theirs, in proportion; the total width is unchanged.
fn fit_words(w: &mut [f32], min: &[f32]) {
    let demand: f32 = w.iter().zip(min).map(|(wi, mi)| (mi - wi).max(0.0)).sum();
    let slack: f32 = w.iter().zip(min).map(|(wi, mi)| (wi - mi).max(0.0)).sum();
    if demand <= 0.0 || slack <= 0.0 {
        return;
    }
    let moved = demand.min(slack);
    for (wi, mi) in w.iter_mut().zip(min) {
        if *mi > *wi {
            *wi += (*mi - *wi) * moved / demand;
        } else {
            *wi -= (*wi - *mi) * moved / slack;
        }
    }
}

/// The width a column needs so that none of its words up to [`LONG_WORD`] wide (identifiers such
/// as check ids or statuses) is broken; longer tokens (ARNs, digests, URLs) are left to be broken.
fn widen_for_words(min: &mut f32, cell: &str, m: &dyn Measure) {
    for word in cell.split(char::is_whitespace) {
        // (+1: rounding in fit_words must not make the word miss by a hair.)
        let ww = m.width(word, TABLE_SIZE) + 2.0 * CELL_PAD_X + 1.0;
        if ww > *min && ww <= LONG_WORD {
            *min = ww;
        }
    }
}

/// A row's number of lines, its cells' lines and their colours.
type WrappedRow = (usize, Vec<Vec<String>>, Vec<Rgb3>);

/// What to do with the rest of a row.
#[derive(Debug, PartialEq)]
enum Place {
    /// Lay out this many of its lines here.
    Lines(usize),
    /// Move it to the next page.
    NextPage,
}

/// Where the `remaining` lines of a row go when `here` fit below the cursor and `fresh` fit on an
/// empty page: all here if they fit; else to the next page if the page already holds rows and the
/// next can take them (or nothing fits here); else, being taller than a page, as many as fit here
/// (at least one).
fn place(remaining: usize, here: usize, fresh: usize, rows_on_page: bool) -> Place {
    if remaining <= here {
        Place::Lines(remaining)
    } else if rows_on_page && (remaining <= fresh || here == 0) {
        Place::NextPage
    } else {
        Place::Lines(here.max(1).min(remaining))
    }
}

/// How many table lines fit between `top` and the bottom margin.
fn lines_below(top: f32) -> usize {
    ((top - MARGIN_BOTTOM - 2.0 * CELL_PAD_Y) / TABLE_LEAD + 0.001)
        .floor()
        .max(0.0) as usize
}

impl Layout<'_> {
    pub fn table(&mut self, headers: &[String], widths: &[f32], rows: &[Row]) {
        let ncols = rows
            .iter()
            .map(|r| r.cells.len())
            .fold(headers.len(), usize::max);
        if ncols == 0 {
            return;
        }
        let rel = relative_widths(widths, ncols);
        let total: f32 = rel.iter().sum();
        let mut w: Vec<f32> = rel.iter().map(|r| r / total * CONTENT_W).collect();
        let mut min = vec![2.0 * CELL_PAD_X + 4.0 * TABLE_SIZE; ncols];
        for (i, h) in headers.iter().enumerate() {
            widen_for_words(&mut min[i], h, self.fonts.face(true));
        }
        for row in rows {
            for (i, cell) in row.cells.iter().enumerate() {
                widen_for_words(&mut min[i], &cell.text.as_plain(), self.fonts.face(false));
            }
        }
        fit_words(&mut w, &min);
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

        // The header must not be left alone at the bottom of a page (nor the headings before it):
        // it goes with the first row, or as much of it as a page holds.
        let first = rows.first().map(|row| self.row_lines(&geom, row));
        let first_lines = first.as_ref().map_or(1, |row| row.0);
        let lines = first_lines.min(lines_below(MARGIN_BOTTOM + CONTENT_H - geom.header_h).max(1));
        let keep = geom.header_h + lines as f32 * TABLE_LEAD + 2.0 * CELL_PAD_Y;
        self.place_headings(4.0 + keep);
        self.space(4.0);
        self.ensure(keep);
        let seg_top = self.y;
        self.table_header(&geom);
        self.open_table = Some(OpenTable {
            geom,
            seg_top,
            rows_on_page: false,
        });
        self.lay_rows(rows, first);
    }

    /// Lays out more rows of the open table (its columns were sized by its first block of rows); rows
    /// with no open table start one without a header.
    pub fn more_rows(&mut self, rows: &[Row]) {
        self.lay_rows(rows, None);
    }

    /// Lays out rows of the open table; `first` is the first row already wrapped, if it was.
    fn lay_rows(&mut self, rows: &[Row], mut first: Option<WrappedRow>) {
        let Some(OpenTable {
            geom,
            mut seg_top,
            mut rows_on_page,
        }) = self.open_table.take()
        else {
            if !rows.is_empty() {
                self.table(&[], &[], rows);
            }
            return;
        };
        let repeated = if geom.repeat_header {
            geom.header_h
        } else {
            0.0
        };
        let fresh = lines_below(MARGIN_BOTTOM + CONTENT_H - repeated).max(1);
        for row in rows {
            let (n, cells, colours) = first.take().unwrap_or_else(|| self.row_lines(&geom, row));
            let mut start = 0;
            while start < n {
                match place(n - start, lines_below(self.y), fresh, rows_on_page) {
                    Place::NextPage => {
                        self.table_page_break(&geom, seg_top);
                        seg_top = self.y;
                        rows_on_page = false;
                    }
                    Place::Lines(take) => {
                        self.table_row(&geom, &cells, &colours, start, start + take);
                        rows_on_page = true;
                        start += take;
                        if start < n {
                            self.table_page_break(&geom, seg_top);
                            seg_top = self.y;
                            rows_on_page = false;
                        }
                    }
                }
            }
        }
        self.open_table = Some(OpenTable {
            geom,
            seg_top,
            rows_on_page,
        });
    }

    /// A row's cells wrapped within their columns, and their colours; with the number of lines the
    /// row takes (at least one).
    fn row_lines(&self, geom: &TableGeom, row: &Row) -> WrappedRow {
        let ncols = geom.w.len();
        let mut cells = Vec::with_capacity(ncols);
        let mut colours = Vec::with_capacity(ncols);
        for (i, w) in geom.w.iter().enumerate() {
            let cell = row.cells.get(i);
            let text = cell.map(|c| c.text.as_plain()).unwrap_or_default();
            cells.push(self.wrap(&text, false, TABLE_SIZE, w - 2.0 * CELL_PAD_X));
            colours.push(tone(cell.and_then(|c| c.tone)));
        }
        let n = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        (n, cells, colours)
    }

    /// Finishes the open table, if any: its vertical rules and the space below it.
    pub fn close_table(&mut self) {
        if let Some(table) = self.open_table.take() {
            self.table_verticals(&table.geom, table.seg_top);
            self.y -= 8.0;
        }
    }

    fn table_header(&mut self, g: &TableGeom) {
        self.page.rule(self.y, 0.5, RULE);
        if g.header.is_empty() {
            return;
        }
        let top = self.y - g.header_h;
        self.page
            .fill_rect(MARGIN_X, top, CONTENT_W, g.header_h, HEADER_BG);
        let lines = g.header.iter().map(Vec::len).max().unwrap_or(0);
        let colours = vec![BLACK; g.header.len()];
        self.row_text(g, &g.header, &colours, 0, lines, true);
        self.y -= g.header_h;
        self.page.rule(self.y, 0.5, RULE);
    }

    /// Draws lines `from..to` of every cell below the cursor, one text run per visual line and colour.
    fn row_text(
        &mut self,
        g: &TableGeom,
        cells: &[Vec<String>],
        colours: &[Rgb3],
        from: usize,
        to: usize,
        bold: bool,
    ) {
        let top = self.y - CELL_PAD_Y;
        let mut pieces = Vec::with_capacity(cells.len());
        for j in from..to {
            pieces.clear();
            for (i, lines) in cells.iter().enumerate() {
                if let Some(line) = lines.get(j) {
                    pieces.push((g.x[i] + CELL_PAD_X, line.as_str(), colours[i]));
                }
            }
            let b = baseline(top - (j - from) as f32 * TABLE_LEAD, TABLE_LEAD, TABLE_SIZE);
            self.page.text_run(self.fonts, b, &pieces, bold, TABLE_SIZE);
        }
    }

    fn table_row(
        &mut self,
        g: &TableGeom,
        cells: &[Vec<String>],
        colours: &[Rgb3],
        from: usize,
        to: usize,
    ) {
        self.row_text(g, cells, colours, from, to, false);
        self.y -= (to - from) as f32 * TABLE_LEAD + 2.0 * CELL_PAD_Y;
        self.page.rule(self.y, 0.3, RULE);
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
            self.page.rule(self.y, 0.5, RULE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_relative_widths_take_the_mean() {
        assert_eq!(relative_widths(&[1.0, 3.0], 2), [1.0, 3.0]);
        assert_eq!(
            relative_widths(&[1.0, f32::NAN, -1.0, 3.0], 4),
            [1.0, 2.0, 2.0, 3.0]
        );
        assert_eq!(relative_widths(&[2.0], 3), [2.0, 2.0, 2.0]);
        assert_eq!(relative_widths(&[], 2), [1.0, 1.0]);
    }

    #[test]
    fn narrow_columns_take_room_from_wide_ones() {
        // Column 0 needs 30 more; column 1 has 60 to spare, column 2 none: all of it moves.
        let mut w = [20.0, 100.0, 40.0];
        fit_words(&mut w, &[50.0, 40.0, 40.0]);
        assert_eq!(w, [50.0, 70.0, 40.0]);
        // Not enough to spare: everyone short gets the same share of what there is.
        let mut w = [10.0, 10.0, 30.0];
        fit_words(&mut w, &[30.0, 30.0, 20.0]);
        assert_eq!(w, [15.0, 15.0, 20.0]);
        // Nothing needed: unchanged.
        let mut w = [10.0, 10.0];
        fit_words(&mut w, &[5.0, 5.0]);
        assert_eq!(w, [10.0, 10.0]);
    }

    #[test]
    fn only_words_up_to_a_long_word_widen_a_column() {
        struct Fixed;
        impl Measure for Fixed {
            fn advance(&self, _: char) -> u32 {
                1000
            }
        }
        let mut min = 10.0;
        widen_for_words(&mut min, "ab abcd", &Fixed);
        assert_eq!(min, 4.0 * TABLE_SIZE + 2.0 * CELL_PAD_X + 1.0);
        let mut min = 10.0;
        widen_for_words(&mut min, &"x".repeat(200), &Fixed);
        assert_eq!(min, 10.0);
    }

    #[test]
    fn rows_stay_whole_unless_taller_than_a_page() {
        // Fits here.
        assert_eq!(place(3, 5, 60, true), Place::Lines(3));
        // Does not fit, the page has rows, a fresh page takes it: move.
        assert_eq!(place(8, 5, 60, true), Place::NextPage);
        // Taller than a fresh page: split here.
        assert_eq!(place(80, 5, 60, true), Place::Lines(5));
        // First row on the page: split here rather than leave the page empty.
        assert_eq!(place(8, 5, 60, false), Place::Lines(5));
        // Nothing fits here but rows are on the page: move.
        assert_eq!(place(80, 0, 60, true), Place::NextPage);
        // Nothing fits and the page is empty of rows: at least one line, so layout progresses.
        assert_eq!(place(80, 0, 60, false), Place::Lines(1));
    }

    #[test]
    fn lines_below_count_whole_lines_above_the_margin() {
        let top = MARGIN_BOTTOM + 2.0 * CELL_PAD_Y + 3.0 * TABLE_LEAD;
        assert_eq!(lines_below(top), 3);
        assert_eq!(lines_below(top - 0.5), 2);
        assert_eq!(lines_below(MARGIN_BOTTOM), 0);
    }
}
