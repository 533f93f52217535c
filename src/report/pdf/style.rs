//! The PDF's page geometry, type sizes and colours, in PDF points (origin at the bottom left).

use crate::assess::Status;

pub(super) const PT_PER_MM: f32 = 72.0 / 25.4;
pub(super) const PAGE_W_MM: f32 = 210.0;
pub(super) const PAGE_H_MM: f32 = 297.0;
const PAGE_H: f32 = PAGE_H_MM * PT_PER_MM;
pub(super) const MARGIN_X: f32 = 18.0 * PT_PER_MM;
const MARGIN_TOP: f32 = 18.0 * PT_PER_MM;
/// Content stops this far above the bottom edge; the footer lives below it.
pub(super) const MARGIN_BOTTOM: f32 = 20.0 * PT_PER_MM;
pub(super) const CONTENT_W: f32 = PAGE_W_MM * PT_PER_MM - 2.0 * MARGIN_X;
pub(super) const CONTENT_TOP: f32 = PAGE_H - MARGIN_TOP;
pub(super) const CONTENT_H: f32 = CONTENT_TOP - MARGIN_BOTTOM;

pub(super) const TITLE_SIZE: f32 = 17.0;
pub(super) const TITLE_LEAD: f32 = 21.0;
pub(super) const H1_SIZE: f32 = 14.0;
pub(super) const H1_LEAD: f32 = 17.5;
pub(super) const H2_SIZE: f32 = 11.0;
pub(super) const H2_LEAD: f32 = 14.0;
pub(super) const BODY_SIZE: f32 = 9.5;
pub(super) const BODY_LEAD: f32 = 12.5;
pub(super) const TABLE_SIZE: f32 = 7.5;
pub(super) const TABLE_LEAD: f32 = 9.5;
pub(super) const CELL_PAD_X: f32 = 2.5;
pub(super) const CELL_PAD_Y: f32 = 1.5;
pub(super) const NOTE_PAD: f32 = 5.0;
pub(super) const FOOTER_SIZE: f32 = 7.5;
pub(super) const FOOTER_RULE_Y: f32 = 14.0 * PT_PER_MM;
pub(super) const FOOTER_BASELINE: f32 = 10.0 * PT_PER_MM;
// The footer sits below the content, and the content has room.
const _: () = assert!(FOOTER_BASELINE < FOOTER_RULE_Y && FOOTER_RULE_Y < MARGIN_BOTTOM);
const _: () = assert!(CONTENT_H > 0.0 && CONTENT_W > 0.0);

pub(super) type Rgb3 = [f32; 3];
pub(super) const BLACK: Rgb3 = [0.0, 0.0, 0.0];
pub(super) const TEXT: Rgb3 = [0.11, 0.11, 0.13];
pub(super) const ACCENT: Rgb3 = [0.12, 0.25, 0.45];
pub(super) const MUTED: Rgb3 = [0.38, 0.38, 0.42];
pub(super) const RULE: Rgb3 = [0.62, 0.62, 0.66];
pub(super) const RULE_LIGHT: Rgb3 = [0.82, 0.82, 0.85];
pub(super) const HEADER_BG: Rgb3 = [0.90, 0.90, 0.92];
pub(super) const NOTE_BG: Rgb3 = [1.0, 0.97, 0.77];
pub(super) const NOTE_RULE: Rgb3 = [0.83, 0.65, 0.17];

/// The colour of a status, for its text and its bar: the page's colours (src/report/html.rs).
pub(super) fn tone(status: Option<Status>) -> Rgb3 {
    let rgb = |hex: u32| {
        [hex >> 16, (hex >> 8) & 0xff, hex & 0xff]
            .map(|c| (c as f32 / 255.0 * 1000.0).round() / 1000.0)
    };
    match status {
        Some(Status::Pass) => rgb(0x1a7f37),
        Some(Status::Fail) => rgb(0xcf222e),
        Some(Status::Unknown) => rgb(0xb08800),
        Some(Status::NotApplicable) => rgb(0x6e7781),
        None => TEXT,
    }
}

/// Baseline of a line of `size` text in a line box of height `lead` whose top is at `top`
/// (capitals centred in the box).
pub(super) fn baseline(top: f32, lead: f32, size: f32) -> f32 {
    top - lead / 2.0 - size * 0.36
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_a4() {
        assert!((PAGE_W_MM * PT_PER_MM - 595.28).abs() < 0.01);
        assert!((PAGE_H - 841.89).abs() < 0.01);
    }

    #[test]
    fn statuses_have_the_pages_colours() {
        assert_eq!(tone(Some(Status::Fail)), [0.812, 0.133, 0.18]);
        assert_eq!(tone(None), TEXT);
        assert!((baseline(100.0, 10.0, 10.0) - 91.4).abs() < 1e-4);
    }
}
