//! Reports an assessor can read at organisation scale (issue 19): the benchmark's synthetic pack of
//! 1,000 trails (half of them unencrypted, most with a supporting FAIL) renders a PDF within about
//! 60 pages and an HTML page within about 2 KB a trail, and still names every trail, every reason of
//! a FAIL or an UNKNOWN, and every record those cite with its SHA-256.

mod common;
#[path = "common/synth.rs"]
mod synth;

use auditpack::assess::{assess, Status};
use auditpack::evidence::Pack;
use auditpack::report::document::Block;
use auditpack::report::{self, Format};
use common::*;
use std::collections::BTreeSet;
use std::process::Command;

const TRAILS: usize = 1000;
/// Issue 19's budget: about 60 pages for 1,000 trails of which half fail.
const PAGES: usize = 60;
/// Issue 19's budget: at most about 2 KB a trail.
const HTML_BYTES_A_TRAIL: u64 = 2048;

#[test]
fn a_thousand_trails_fit_the_budget_and_every_trail_and_problem_is_named() {
    // (AUDITPACK_SCALE_OUT=DIR keeps the pack in DIR/pack and the reports in DIR/reports.)
    let kept = std::env::var_os("AUDITPACK_SCALE_OUT").map(std::path::PathBuf::from);
    let dir = tempdir();
    let dir = kept.as_deref().unwrap_or(dir.path());
    let pack = synth::synthesise(dir, TRAILS);
    let a = assess(&Pack::open(&pack).unwrap()).unwrap();
    let out = dir.join("reports");
    report::write(&a, None, &[Format::Pdf, Format::Html], &out).unwrap();

    let pdf = out.join("report.pdf");
    let pages = lopdf::Document::load(&pdf).unwrap().get_pages().len();
    assert!(pages <= PAGES, "{pages} pages for {TRAILS} trails");
    let html = std::fs::metadata(out.join("report.html")).unwrap().len();
    assert!(
        html <= HTML_BYTES_A_TRAIL * TRAILS as u64,
        "{html} bytes of HTML for {TRAILS} trails"
    );

    // What the document says, which both formats show (tests/report.rs checks that they do), and
    // its evidence index: each record's number and SHA-256.
    let (mut said, mut index) = (String::new(), std::collections::BTreeMap::new());
    let mut section = "";
    report::document(&a, None)
        .blocks
        .for_each(&mut |block| {
            for text in block.texts() {
                said.push_str(&text);
                said.push('\n');
            }
            let rows = match block {
                Block::Section { id, .. } => {
                    section = id;
                    return;
                }
                Block::Table { rows, .. } | Block::MoreRows { rows } => rows,
                _ => return,
            };
            if section == "evidence" {
                for row in rows {
                    let cell = |i: usize| row.cells[i].text.as_plain().into_owned();
                    index.insert(cell(0).parse::<u64>().unwrap(), cell(row.cells.len() - 1));
                }
            }
        })
        .unwrap();
    let (mut names, mut reasons, mut cited) = (Vec::new(), BTreeSet::new(), BTreeSet::new());
    let mut failing = 0;
    for t in a.trails.iter() {
        let t = t.unwrap();
        names.push(t.trail_name.clone());
        let detailed: Vec<_> = (t.findings.iter())
            .filter(|f| matches!(f.status, Status::Fail | Status::Unknown))
            .collect();
        failing += usize::from(!detailed.is_empty());
        for f in detailed {
            reasons.insert(f.reason.clone());
            cited.extend(
                f.evidence
                    .iter()
                    .map(|e| (e.seq, e.sha256.clone().unwrap())),
            );
        }
    }
    assert!(
        failing >= TRAILS / 2,
        "{failing} failing trails: the budget's case"
    );
    assert!(reasons.len() > 10 && cited.len() > TRAILS / 2);
    for reason in &reasons {
        assert!(
            said.contains(reason.as_str()),
            "the report lacks the reason {reason:?}"
        );
    }
    // Each record a FAIL or an UNKNOWN cites is in the evidence index, with its SHA-256.
    for (seq, sha256) in &cited {
        assert_eq!(
            index.get(seq).map(String::as_str),
            Some(&**sha256),
            "record #{seq}"
        );
    }
    // A reason is said once, however many trails have it.
    let most = reasons
        .iter()
        .map(|r| said.matches(r.as_str()).count())
        .max();
    assert_eq!(most, Some(1));

    // Every trail is named in the PDF itself.
    let text = Command::new("pdftotext")
        .args([pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext is installed (scripts/test.sh installs poppler-utils)");
    let text = String::from_utf8(text.stdout).unwrap();
    for name in &names {
        assert!(
            text.contains(name.as_str()),
            "the PDF lacks the trail {name}"
        );
    }
}
