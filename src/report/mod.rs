//! Reports: HTML, PDF, CSV and JSON, and the exchange formats OCSF, OSCAL and ASFF, all rendered
//! from one `Assessment`, byte for byte reproducibly (no clock, no randomness, no hash-map order).

pub mod asff;
mod csv;
pub mod document;
mod exchange;
mod html;
pub mod ocsf;
pub mod oscal;
mod pdf;
mod pdf_doc;

use crate::assess::Assessment;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The version of what the renderers write for a given assessment and integrity section: raised
/// whenever any format's bytes change (templates, layout, fonts, texts, the findings format).
/// `verify` byte-compares a signed pack's reports only when they were rendered by this version;
/// `tests/golden/versions.json` fails the build when the output changes and this does not.
/// Version 1 was every auditpack before signature format 2; version 2 had no account findings;
/// version 3 had no OCSF, OSCAL or ASFF.
pub const RENDERER_VERSION: u32 = 4;

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

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Html,
    Pdf,
    Csv,
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

    /// Parses a format's name (see [`Format::name`]).
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

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

// Texts the HTML and the PDF both show.

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
        Format::Html => html::render_to(assessment, integrity, out),
        Format::Pdf => {
            pdf::render_to(&pdf_doc::build(assessment, integrity), out).map_err(|e| match e {
                pdf::PdfError::Findings(e) => ReportError::Findings(e),
                e => ReportError::Render {
                    format: "pdf",
                    message: e.to_string(),
                },
            })
        }
    }
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

/// Renders the formats and writes each file atomically (temporary file, then rename) into `dir`,
/// one after the other: rendering them on parallel threads saved a tenth of a second at 1,000
/// trails, but each thread's malloc arena made the peak memory of large reports vary by half.
pub fn write(
    assessment: &Assessment,
    integrity: Option<&Integrity>,
    formats: &[Format],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        op: "create report directory",
        source,
    })?;
    let mut written = Vec::new();
    for format in formats {
        let path = dir.join(format.file_name());
        write_atomic(&path, |out| render_to(assessment, integrity, *format, out))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes a file through `fill` into a temporary file beside it, then renames it into place.
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
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.tmp"));
    let file = std::fs::File::create(&temp).map_err(io("create"))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let filled = fill(&mut out).and_then(|()| out.flush().map_err(io("write")));
    if let Err(e) = filled {
        drop(out);
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    drop(out);
    std::fs::rename(&temp, path).map_err(io("rename into place"))
}
