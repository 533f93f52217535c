//! Reports: HTML, PDF, CSV and JSON, and the exchange formats OCSF, OSCAL and ASFF, all rendered
//! from one `Assessment`, byte for byte reproducibly (no clock, no randomness, no hash-map order).
//! The HTML and the PDF render the same report [`document::Document`], which [`content`] writes
//! once.

pub mod asff;
mod content;

pub(crate) use content::period::period_line;
mod csv;
pub mod diff;
pub mod document;
mod exchange;
mod html;
pub mod ocsf;
pub mod oscal;
mod pdf;

use crate::assess::Assessment;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The version of what the renderers write for a given assessment and integrity section: raised
/// whenever any format's bytes change (templates, layout, fonts, texts, the findings format).
/// `verify` byte-compares a signed pack's reports only when they were rendered by this version;
/// `tests/golden/versions.json` fails the build when the output changes and this does not.
/// Version 1 was every auditpack before signature format 2; version 2 had no account findings;
/// version 3 had no OCSF, OSCAL or ASFF, and wrote the HTML and the PDF from two copies of the
/// report's text; version 4's HTML had no filter; version 5 had no accepted exceptions (findings
/// format 3, 21 CSV columns), and could not render a pack's `exceptions.toml`; version 6's HTML and
/// PDF detailed every check of every trail (issue 19: they now detail only FAILs and UNKNOWNs, each
/// distinct problem once); version 7 had no period (issue 23: the period proven on the cover, the
/// changes in it, findings format 5); version 8 showed an account's rule as its coverage alone
/// (issue 24: the worst of its coverage and of the trails it owns).
pub const RENDERER_VERSION: u32 = 9;

/// Why a report could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("rendering the {format} report failed: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
    /// The findings of a very large pack could not be read back from their temporary file.
    #[error(transparent)]
    Findings(#[from] crate::assess::SpoolError),
    /// A report would have been written through a link or over something that is not a file.
    #[error("{path}: {reason}; reports are never written through links or over directories")]
    Refused { path: PathBuf, reason: &'static str },
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Who signed the pack and when, shown in the HTML and PDF integrity sections.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Integrity {
    /// Label/value rows, e.g. ("Signer", "ed25519:SHA256:..."), in display order.
    pub rows: Vec<(String, String)>,
}

/// A report format. Its `--format` name is [`Format::name`] (clap's kebab-case of the variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Format {
    /// The report as a web page.
    Html,
    /// The report as a printable document.
    Pdf,
    /// One row per check of every trail and account.
    Csv,
    /// The assessment as data.
    Json,
    /// OCSF Compliance Findings, JSON Lines.
    Ocsf,
    /// An OSCAL Assessment Results document.
    Oscal,
    /// AWS Security Finding Format, one BatchImportFindings request per line.
    Asff,
}

impl Format {
    /// Every format: what `sign` renders and seals.
    pub const ALL: [Format; 7] = [
        Format::Html,
        Format::Pdf,
        Format::Csv,
        Format::Json,
        Format::Ocsf,
        Format::Oscal,
        Format::Asff,
    ];

    /// The formats `report` writes unless told otherwise, and the ones every pack signed before
    /// signing format 2 (which lists its reports) sealed.
    pub const DEFAULT: [Format; 4] = [Format::Html, Format::Pdf, Format::Csv, Format::Json];

    /// The file each format is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Html => "report.html",
            Format::Pdf => "report.pdf",
            Format::Csv => "findings.csv",
            Format::Json => "findings.json",
            Format::Ocsf => "findings.ocsf.jsonl",
            Format::Oscal => "assessment-results.oscal.json",
            Format::Asff => "findings.asff.jsonl",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ocsf => "ocsf",
            Format::Oscal => "oscal",
            Format::Asff => "asff",
        }
    }
}

/// `text` with every character that could act on a terminal, a spreadsheet or a browser instead of
/// being shown, written visibly as `\u{..}`: C0 and C1 controls (ESC, BEL, CR, ...) other than line
/// feed and tab, DEL, and the bidirectional overrides and isolates that reorder what is displayed. Strings from AWS (trail names,
/// ARNs, bucket names, error messages) pass through this wherever they reach a terminal, the CSV or the
/// HTML.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    fn live(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(live) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if live(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

// Texts the reports and the command line share.

/// What the per-account table says about an account's evidence.
pub(crate) fn account_evidence(row: &crate::assess::AccountSummary) -> String {
    match (row.in_scope, row.collected) {
        (_, false) => "NOT COLLECTED".to_string(),
        _ if !row.regions_not_listed.is_empty() => format!(
            "INCOMPLETE: trails not listed in {}",
            row.regions_not_listed.join(", ")
        ),
        (false, true) => "outside scope".to_string(),
        (true, true) => "collected".to_string(),
    }
}

/// What the report covers, for titles and footers: "account 111122223333", or "4 accounts" when the
/// pack spans several.
pub(crate) fn scope_label(a: &Assessment) -> String {
    let in_scope = a.summary.accounts.iter().filter(|r| r.in_scope).count();
    if in_scope > 1 {
        format!("{in_scope} accounts")
    } else {
        format!("account {}", a.pack.account_id)
    }
}

/// The warning the reports give when some regions could not be listed, if any.
pub(crate) fn unlisted_warning(a: &Assessment) -> Option<String> {
    let unlisted = &a.summary.regions_not_listed;
    if unlisted.is_empty() {
        return None;
    }
    let places: Vec<String> = unlisted
        .iter()
        .map(|u| format!("{} in account {}", u.region, u.account_id))
        .collect();
    Some(format!(
        "The trails of {} region(s) could not be listed ({}): any trail there is missing from this \
         report, so the rule is not established for those regions. See Evidence gaps.",
        unlisted.len(),
        places.join("; ")
    ))
}

/// Renders one format into memory.
pub fn render(
    assessment: &Assessment,
    integrity: Option<&Integrity>,
    format: Format,
) -> Result<Vec<u8>, ReportError> {
    let mut bytes = Vec::new();
    render_to(assessment, integrity, format, &mut bytes)?;
    Ok(bytes)
}

/// Renders one format into `out`, as it is produced (the reports of large packs are never held
/// whole in memory).
pub fn render_to(
    assessment: &Assessment,
    integrity: Option<&Integrity>,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    match format {
        Format::Json => render_json(assessment, out),
        Format::Csv => csv::render_to(assessment, out),
        Format::Ocsf => ocsf::render_to(assessment, out),
        Format::Oscal => oscal::render_to(assessment, out),
        Format::Asff => asff::render_to(assessment, out),
        Format::Html => html::render_to(&document(assessment, integrity), out),
        Format::Pdf => pdf::render_to(&document(assessment, integrity), out).map_err(|e| match e {
            pdf::PdfError::Findings(e) => ReportError::Findings(e),
            e => ReportError::Render {
                format: "pdf",
                message: e.to_string(),
            },
        }),
    }
}

/// The report document the HTML and the PDF render: every section, table and text of the report,
/// made block by block from the assessment as it is read.
pub fn document<'a>(
    assessment: &'a Assessment,
    integrity: Option<&'a Integrity>,
) -> document::Document<'a> {
    content::build(assessment, integrity)
}

/// `findings.json`: the assessment itself, pretty-printed (see docs/findings-json.md).
fn render_json(assessment: &Assessment, out: &mut dyn Write) -> Result<(), ReportError> {
    let fail = |message: String| ReportError::Render {
        format: "json",
        message,
    };
    serde_json::to_writer_pretty(&mut *out, assessment).map_err(|e| fail(e.to_string()))?;
    out.write_all(b"\n").map_err(|e| fail(e.to_string()))
}

/// Renders the formats and writes each file atomically (a new temporary file beside it, then a
/// rename) into `dir`, one after the other: rendering them on parallel threads saved a tenth of a
/// second at 1,000 trails, but each thread's malloc arena made the peak memory of large reports vary
/// by half. Nothing is written through a symbolic link: `dir` must be a real directory, and every
/// target is checked before the first is written, so a target that is a link or a directory refuses
/// the whole set instead of leaving half of it.
pub fn write(
    assessment: &Assessment,
    integrity: Option<&Integrity>,
    formats: &[Format],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    write_each(dir, formats, Format::file_name, |format, out| {
        render_to(assessment, integrity, format, out)
    })
}

/// Writes `auditpack diff`'s outputs into `dir`, as [`write`] writes reports.
pub fn write_diff(
    diff: &crate::compare::PackDiff,
    formats: &[diff::DiffFormat],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    write_each(dir, formats, diff::DiffFormat::file_name, |format, out| {
        diff::render_to(diff, format, out)
    })
}

/// Writes each of `formats` into its file in `dir` (named by `name`), atomically, after checking that
/// none of them can be written through a link; gives the files' paths.
fn write_each<F: Copy>(
    dir: &Path,
    formats: &[F],
    name: fn(F) -> &'static str,
    render: impl Fn(F, &mut dyn Write) -> Result<(), ReportError>,
) -> Result<Vec<PathBuf>, ReportError> {
    let names: Vec<&str> = formats.iter().map(|f| name(*f)).collect();
    writable_dir(dir, &names)?;
    let mut written = Vec::new();
    for format in formats {
        let path = dir.join(name(*format));
        write_atomic(&path, |out| render(*format, out))?;
        written.push(path);
    }
    Ok(written)
}

/// Makes sure `dir` is a directory (creating it if missing) and that none of `names` in it is a link
/// or anything but a regular file, before anything is written.
fn writable_dir(dir: &Path, names: &[&str]) -> Result<(), ReportError> {
    let refuse = |path: &Path, reason: &'static str| ReportError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(refuse(dir, "the report directory is a symbolic link"))
        }
        Ok(meta) if !meta.is_dir() => return Err(refuse(dir, "this is not a directory")),
        Ok(_) => {}
        Err(_) => std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
            path: dir.to_path_buf(),
            op: "create report directory",
            source,
        })?,
    }
    for name in names {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refuse(&path, "it is a symbolic link"))
            }
            Ok(meta) if !meta.is_file() => return Err(refuse(&path, "it is not a regular file")),
            _ => {}
        }
    }
    Ok(())
}

/// Writes a file through `fill` into a new temporary file beside it (random name, created
/// exclusively, so a planted file or link is never written through), then renames it into place.
fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let io = |op: &'static str| {
        move |source| ReportError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io("create"))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, temp);
    fill(&mut out)?;
    let temp = out.into_inner().map_err(|e| ReportError::Io {
        path: path.to_path_buf(),
        op: "write",
        source: e.into_error(),
    })?;
    temp.persist(path)
        .map_err(|e| ReportError::Io {
            path: path.to_path_buf(),
            op: "rename into place",
            source: e.error,
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn live_characters_are_written_visibly() {
        assert_eq!(super::visible("trail-1"), "trail-1");
        assert_eq!(
            super::visible("a\u{1b}]8;;x\u{7}b\r\nc\u{202e}d\te"),
            "a\\u{1b}]8;;x\\u{7}b\\u{d}\nc\\u{202e}d\te"
        );
    }
}
