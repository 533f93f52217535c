//! Breaking text into lines that fit a width: at spaces and explicit newlines, and inside tokens
//! wider than a line (ARNs, URLs, SHA-256 digests) at the places a reader expects.

/// Advance widths of a font, in 1/1000 em.
pub(super) trait Measure {
    /// Advance of one character in 1/1000 em.
    fn advance(&self, c: char) -> u32;

    /// Width of `s` set at `size` points.
    fn width(&self, s: &str, size: f32) -> f32 {
        let units: u64 = s.chars().map(|c| u64::from(self.advance(c))).sum();
        (units as f64 * f64::from(size) / 1000.0) as f32
    }
}

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

/// Where to cut `s` so that the first part fits in `avail` points: `None` if all of `s` fits.
/// Prefers a break opportunity (see [`break_quality`]) that keeps at least a third of the
/// available width used; otherwise cuts after the last character that fits, but not right after a
/// hyphen. Returns at least one character when `force` (so wrapping always progresses), else may
/// return `Some(0)`.
fn cut(m: &dyn Measure, s: &str, size: f32, avail: f32, force: bool) -> Option<usize> {
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
        let adv = u64::from(m.advance(c));
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

/// One source line with live characters shown as `\u{..}` ([`crate::report::visible`]), tabs as
/// spaces, and other control characters dropped.
fn clean(raw: &str) -> String {
    crate::report::visible(raw)
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Breaks `text` into lines no wider than `max_w` points: at spaces, at explicit newlines, and
/// inside tokens that are wider than a line. Runs of whitespace collapse to one space; live
/// characters are shown as `\u{..}`. Always returns at least one (possibly empty) line.
pub(super) fn wrap(m: &dyn Measure, text: &str, size: f32, max_w: f32) -> Vec<String> {
    let max_w = max_w.max(0.0);
    let mut out = Vec::new();
    for raw in text.trim_end().split('\n') {
        let first_out = out.len();
        let mut line = Line {
            m,
            size,
            max_w,
            space_w: m.width(" ", size),
            text: String::new(),
            w: 0.0,
        };
        for word in clean(raw).split(' ').filter(|w| !w.is_empty()) {
            line.word(word, &mut out);
        }
        if !line.text.is_empty() || out.len() == first_out {
            out.push(line.text);
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// The line being filled.
struct Line<'m> {
    m: &'m dyn Measure,
    size: f32,
    max_w: f32,
    space_w: f32,
    text: String,
    w: f32,
}

impl Line<'_> {
    /// Sets `word` on this line, or on the next, or breaks it over as many as it needs; full lines
    /// go to `out`.
    fn word(&mut self, word: &str, out: &mut Vec<String>) {
        let (m, size, max_w) = (self.m, self.size, self.max_w);
        let w = m.width(word, size);
        if self.text.is_empty() {
            if w <= max_w {
                self.text.push_str(word);
                self.w = w;
                return;
            }
        } else if self.w + self.space_w + w <= max_w {
            self.text.push(' ');
            self.text.push_str(word);
            self.w += self.space_w + w;
            return;
        } else if w <= max_w {
            out.push(std::mem::replace(&mut self.text, word.to_string()));
            self.w = w;
            return;
        }
        // A token wider than a whole line: break it, starting on this line if enough room is left.
        let mut rest = word;
        if !self.text.is_empty() {
            let avail = max_w - self.w - self.space_w;
            if avail >= max_w * 0.3 {
                if let Some(at) = cut(m, rest, size, avail, false).filter(|&c| c > 0) {
                    self.text.push(' ');
                    self.text.push_str(&rest[..at]);
                    rest = &rest[at..];
                }
            }
            out.push(std::mem::take(&mut self.text));
        }
        loop {
            match cut(m, rest, size, max_w, true) {
                Some(at) if at < rest.len() => {
                    out.push(rest[..at].to_string());
                    rest = &rest[at..];
                }
                _ => {
                    self.text.push_str(rest);
                    self.w = m.width(rest, size);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character 500/1000 em wide: at size 10, 5 points a character.
    struct Fixed;

    impl Measure for Fixed {
        fn advance(&self, _: char) -> u32 {
            500
        }
    }

    fn lines(text: &str, chars_per_line: usize) -> Vec<String> {
        wrap(&Fixed, text, 10.0, chars_per_line as f32 * 5.0)
    }

    #[test]
    fn words_fill_lines_and_whitespace_collapses() {
        assert_eq!(
            lines("the  quick brown\tfox jumps", 10),
            ["the quick", "brown fox", "jumps"]
        );
        assert_eq!(lines("exactly10c", 10), ["exactly10c"]);
        assert_eq!(lines("a\nb\n\nc\n\n", 10), ["a", "b", "", "c"]);
        assert_eq!(lines("", 10), [""]);
        assert_eq!(lines("   ", 10), [""]);
    }

    #[test]
    fn long_tokens_break_at_separators_first() {
        // After a colon (quality 2) rather than before the hyphen (quality 1).
        assert_eq!(
            lines("arn:aws:kms:us-east-1:key", 14),
            ["arn:aws:kms:", "us-east-1:key"]
        );
        // Before a hyphen, never after one.
        assert_eq!(lines("aaaaaa-bbbbbbbbb", 10), ["aaaaaa", "-bbbbbbbbb"]);
        // Before a slash.
        assert_eq!(lines("trail/abcdefgh", 10), ["trail", "/abcdefgh"]);
        // No opportunity: as many characters as fit.
        assert_eq!(lines("0123456789abcdef", 10), ["0123456789", "abcdef"]);
        // A token that fits on its own line moves there whole.
        assert_eq!(lines("ab 0123456789", 10), ["ab", "0123456789"]);
    }

    #[test]
    fn a_long_token_starts_on_the_current_line_when_a_third_is_free() {
        // 4 of 10 characters free after "ab ": the token starts there.
        assert_eq!(lines("abcde 0123456789xy", 10), ["abcde 0123", "456789xy"]);
        // Only 1 free: it starts on the next line.
        assert_eq!(
            lines("abcdefgh 0123456789xy", 10),
            ["abcdefgh", "0123456789", "xy"]
        );
    }

    #[test]
    fn wrapping_always_progresses_and_shows_live_characters() {
        assert_eq!(lines("abc", 0), ["a", "b", "c"]);
        assert_eq!(wrap(&Fixed, "x", 10.0, -5.0), ["x"]);
        assert_eq!(lines("a\u{1b}[2Jb\rc", 40), ["a\\u{1b}[2Jb\\u{d}c"]);
    }

    #[test]
    fn break_quality_prefers_separators() {
        assert_eq!(break_quality(':', 'a'), 2);
        assert_eq!(break_quality('a', '/'), 2);
        assert_eq!(break_quality('/', '/'), 0);
        assert_eq!(break_quality('a', '-'), 1);
        assert_eq!(break_quality('a', 'B'), 1);
        assert_eq!(break_quality('a', 'b'), 0);
        assert_eq!(break_quality('-', '-'), 0);
    }

    #[test]
    fn real_text_stays_within_width_and_loses_nothing() {
        let fonts = super::super::fonts::fonts().unwrap();
        let face = fonts.face(false);
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main";
        for max_w in [20.0f32, 60.0, 90.0, 150.0, 400.0] {
            let text = format!("Key {sha} and {arn} with Überwachung – ✓ café 日本 words");
            let lines = wrap(face, &text, 7.5, max_w);
            for line in &lines {
                assert!(
                    face.width(line, 7.5) <= max_w + 0.01 || line.chars().count() == 1,
                    "{line:?} wider than {max_w}"
                );
            }
            let joined: String = lines.concat().chars().filter(|c| *c != ' ').collect();
            let expected: String = text.chars().filter(|c| *c != ' ').collect();
            assert_eq!(joined, expected);
        }
        let lines = wrap(face, arn, 7.5, 90.0);
        assert!(lines.len() > 1);
        assert!(lines[0].ends_with(':'), "{lines:?}");
        assert!(lines.iter().all(|l| !l.ends_with('-')), "{lines:?}");
    }
}
