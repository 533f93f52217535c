//! Report-stage benchmark: synthesises a pack of N trails (3 regions, half encrypted, one key per 50
//! encrypted trails, one bucket per 10 trails) with response bodies shaped like real ones, then times
//! assessment and each format. Run one size per process so peak memory is that size's own:
//!
//!     cargo bench --bench report -- 1000
//!     cargo bench --bench report -- 10000
//!
//! or `scripts/bench_report.sh`, which runs both and prints the ratio.
#![allow(clippy::disallowed_macros)]

use auditpack::assess::assess;
use auditpack::evidence::Pack;
use auditpack::report::{write, Format};
use std::time::Instant;

#[path = "../tests/common/synth.rs"]
mod synth;
use synth::synthesise;

/// Starts a phase: Linux resets the peak RSS (`VmHWM`) to the current RSS.
fn phase_start() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let trails: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let path = synthesise(dir.path(), trails);
    let synth = start.elapsed();
    let start = Instant::now();
    let base = rss_mib();
    phase_start();
    let pack = Pack::open(&path).unwrap();
    let opened = (peak_rss_mib(), rss_mib());
    let assessment = assess(&pack).unwrap();
    let assessed = start.elapsed();
    let after_assess = (peak_rss_mib(), rss_mib());
    // As `auditpack report` does: the pack's index is not needed once assessed.
    drop(pack);
    assert_eq!(assessment.trails.len(), trails);
    let mut total = assessed;
    let mut line = format!(
        "trails {trails}: synthesise {:.2}s, open+assess {:.3}s",
        synth.as_secs_f64(),
        assessed.as_secs_f64()
    );
    let out = dir.path().join("reports");
    // RSS by phase (peaks reset at each phase's start): where a report's memory goes.
    let mut phases = format!(
        "trails {trails}: RSS MiB before open {base:.1}; open peak {:.1} now {:.1}; \
         assess peak {:.1} now {:.1}",
        opened.0, opened.1, after_assess.0, after_assess.1
    );
    let mut report_peak = opened.0.max(after_assess.0);
    let mut pdf_pages = 0;
    for format in Format::ALL {
        phase_start();
        let start = Instant::now();
        // As `auditpack report` does: each format streamed into its file.
        let written = write(&assessment, None, &[format], &out).unwrap();
        let took = start.elapsed();
        total += took;
        let size = std::fs::metadata(&written[0]).unwrap().len();
        report_peak = report_peak.max(peak_rss_mib());
        phases.push_str(&format!("; {} peak {:.1}", format.name(), peak_rss_mib()));
        line.push_str(&format!(
            ", {} {:.3}s ({} KiB",
            format.name(),
            took.as_secs_f64(),
            size / 1024
        ));
        // What a reader gets (issue 19): the PDF's pages, the page's bytes per trail.
        match format {
            Format::Pdf => {
                let pages = lopdf::Document::load(&written[0])
                    .unwrap()
                    .get_pages()
                    .len();
                line.push_str(&format!(", {pages} pages"));
                pdf_pages = pages;
            }
            Format::Html => line.push_str(&format!(", {} bytes a trail", size / trails as u64)),
            _ => {}
        }
        line.push(')');
    }
    println!("{line}");
    println!("{phases}");
    println!(
        "trails {trails}: report stage total {:.3}s, peak RSS {:.1} MiB, PDF {pdf_pages} pages",
        total.as_secs_f64(),
        report_peak
    );
}
