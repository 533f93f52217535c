//! The HTML report in a real browser (issue 18): headless Chromium opens the organisation sample's
//! `report.html`, a reader clicks a status, chooses an account, a region and a check, types in the
//! search box, prints, and shows all again; the findings rows shown each time are exactly those the
//! JSON report lists for that choice. With JavaScript disabled every row shows and the controls do
//! not. Chromium is driven by `tests/fixtures/browser.py` over the DevTools protocol (a pipe, no
//! port); `scripts/test.sh` installs Chromium. Without it these tests fail, unless
//! `AUDITPACK_SKIP_BROWSER=1` says to skip them.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Chromium to drive: `AUDITPACK_CHROMIUM`, else `chromium` on the PATH; `None` (skip) only when
/// `AUDITPACK_SKIP_BROWSER` is set and there is none (said on stderr, as cargo shows it).
#[allow(clippy::disallowed_macros)]
fn chromium() -> Option<PathBuf> {
    let candidate = std::env::var_os("AUDITPACK_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join("chromium"))
                .find(|p| p.is_file())
        });
    match candidate {
        Some(path) if path.is_file() => Some(path),
        _ if std::env::var_os("AUDITPACK_SKIP_BROWSER").is_some() => {
            eprintln!("SKIPPED: no Chromium (AUDITPACK_SKIP_BROWSER is set)");
            None
        }
        _ => panic!(
            "no Chromium: install Debian's `chromium` (scripts/test.sh does), point \
             AUDITPACK_CHROMIUM at one, or set AUDITPACK_SKIP_BROWSER=1 to skip these tests"
        ),
    }
}

/// The organisation sample rendered by the binary: the directory holding report.html and
/// findings.json.
fn rendered() -> tempfile::TempDir {
    let dir = tempdir();
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4");
    let output = run(auditpack().args([
        "report",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--format",
        "html,json",
    ]));
    assert_eq!(output.status.code(), Some(0));
    dir
}

/// Opens `page` in Chromium, runs `steps` (see tests/fixtures/browser.py) and gives one result per
/// step; the page must log no error (a script the policy refused, an exception).
fn browse(chromium: &Path, page: &Path, javascript: bool, steps: &Value) -> Vec<Value> {
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/browser.py");
    let mut command = Command::new("python3");
    command.arg(helper).arg("--chromium").arg(chromium);
    if !javascript {
        command.arg("--no-javascript");
    }
    let mut child = command
        .arg(page)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    serde_json::to_writer(child.stdin.take().unwrap(), steps).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "browser.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["errors"], json!([]), "the page logged errors");
    answer["results"].as_array().unwrap().clone()
}

/// What the page shows, as a reader sees it (laid-out boxes, not attributes): the findings rows,
/// each as the anchor of its trail or account and its check; the headings of trails and accounts;
/// the remediation rows' status and account; the count; the status buttons; whether the controls and the notice that
/// a filter is active show, and the notice.
const SHOWN: &str = r##"(() => {
  const shown = (e) => e !== null && e.getClientRects().length > 0;
  const anchor = (row) => {
    for (let e = row.closest("table").previousElementSibling; e; e = e.previousElementSibling) {
      if (e.tagName === "H3") return e.id;
    }
    return null;
  };
  const rows = (section) =>
    Array.from(document.querySelectorAll("#" + section + " tr[data-status]")).filter(shown);
  const notice = document.getElementById("filter-active");
  return {
    findings: rows("account-findings").concat(rows("findings")).map((r) => [anchor(r), r.dataset.check]),
    headings: Array.from(document.querySelectorAll("#account-findings h3, #findings h3"))
      .filter(shown).map((h) => h.id),
    remediation: rows("remediation").map((r) => [r.dataset.status, r.dataset.account]),
    count: document.getElementById("filter-count").textContent,
    statuses: Array.from(document.querySelectorAll("#filter button[data-status]"), (b) => b.textContent),
    controls: shown(document.getElementById("filter")),
    notice: shown(notice) ? notice.textContent : null,
  };
})()"##;

/// A finding as the JSON report lists it, with what the page shows of it.
#[derive(Debug, Clone)]
struct Finding {
    /// `trail-N` or `account-ID`: the anchor of the heading its table is under.
    anchor: String,
    check: String,
    title: String,
    status: String,
    account: String,
    region: Option<String>,
    /// The row's text, lower-cased, as the search box searches it.
    text: String,
}

/// Every finding of `findings.json`, trails' and accounts'.
fn findings(json: &Value) -> Vec<Finding> {
    let finding = |anchor: String, account: &str, region: Option<&str>, f: &Value| {
        let s = |name: &str| f[name].as_str().unwrap_or_default().to_string();
        let mut reason = s("reason");
        if !f["remediation"].is_null() {
            reason.push_str(&format!("\nRemediation: {}", s("remediation")));
        }
        let evidence: Vec<String> = (f["evidence"].as_array().unwrap().iter())
            .map(|e| format!("#{}", e["seq"]))
            .collect();
        let cells = [
            format!("{}\n{}\n{}", s("check_id"), s("check_title"), s("role")),
            s("status"),
            reason,
            format!("{}\nCIS v7 {}", s("cis_aws_control"), s("cis_v7_control")),
            evidence.join(" "),
        ];
        Finding {
            anchor,
            check: s("check_id"),
            title: s("check_title"),
            status: s("status"),
            account: account.to_string(),
            region: region.map(str::to_string),
            text: folded(&cells.join("\n")),
        }
    };
    let mut all = Vec::new();
    for a in json["accounts"].as_array().unwrap() {
        let id = a["account_id"].as_str().unwrap();
        for f in a["findings"].as_array().unwrap() {
            all.push(finding(format!("account-{id}"), id, None, f));
        }
    }
    for (i, t) in json["trails"].as_array().unwrap().iter().enumerate() {
        let (account, region) = (t["account_id"].as_str().unwrap(), t["region"].as_str());
        for f in t["findings"].as_array().unwrap() {
            all.push(finding(format!("trail-{}", i + 1), account, region, f));
        }
    }
    all
}

/// Text as the search box compares it: lower case, each run of white space one space.
fn folded(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A choice of filters, as a reader makes it in the page.
#[derive(Debug, Default, Clone)]
struct Choice {
    status: Option<&'static str>,
    account: Option<String>,
    region: Option<String>,
    check: Option<String>,
    search: Option<String>,
}

impl Choice {
    fn admits(&self, f: &Finding) -> bool {
        let is = |chosen: &Option<String>, value: Option<&String>| {
            chosen.as_ref().is_none_or(|c| Some(c) == value)
        };
        self.status.is_none_or(|s| s == f.status)
            && is(&self.account, Some(&f.account))
            && is(&self.region, f.region.as_ref())
            && is(&self.check, Some(&f.check))
            && (self.search.as_ref()).is_none_or(|s| f.text.contains(&folded(s)))
    }
}

/// What the page must show for `choice`: each admitted finding as (anchor, check), and the headings
/// of the trails and accounts with at least one.
fn expected(all: &[Finding], choice: &Choice) -> (Vec<(String, String)>, BTreeSet<String>) {
    let admitted: Vec<&Finding> = all.iter().filter(|f| choice.admits(f)).collect();
    (
        admitted
            .iter()
            .map(|f| (f.anchor.clone(), f.check.clone()))
            .collect(),
        admitted.iter().map(|f| f.anchor.clone()).collect(),
    )
}

/// Checks that `shown` (a result of [`SHOWN`]) is exactly what `choice` admits, in page order.
fn assert_shows(shown: &Value, all: &[Finding], choice: &Choice) -> usize {
    let (rows, headings) = expected(all, choice);
    let shown_rows: Vec<(String, String)> =
        serde_json::from_value(shown["findings"].clone()).unwrap();
    assert_eq!(shown_rows, rows, "findings rows shown for {choice:?}");
    let shown_headings: BTreeSet<String> =
        serde_json::from_value(shown["headings"].clone()).unwrap();
    assert_eq!(shown_headings, headings, "headings shown for {choice:?}");
    assert_eq!(
        shown["count"],
        format!("Showing {} of {} findings", rows.len(), all.len())
    );
    // The remediation table lists the failures the choice admits (trails first; its text differs
    // from the findings rows', so it is not compared under a search).
    if choice.search.is_none() {
        let mut failures: Vec<(String, String)> = (all.iter())
            .filter(|f| f.status == "FAIL" && choice.admits(f))
            .map(|f| (f.status.clone(), f.account.clone()))
            .collect();
        let mut listed: Vec<(String, String)> =
            serde_json::from_value(shown["remediation"].clone()).unwrap();
        failures.sort();
        listed.sort();
        assert_eq!(listed, failures, "remediation rows shown for {choice:?}");
    }
    rows.len()
}

#[test]
fn the_html_filter_shows_exactly_the_chosen_findings() {
    let Some(chromium) = chromium() else { return };
    let dir = rendered();
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let all = findings(&json);

    // The account with the most failures, its first region with one, and a text some of those
    // failures contain and some do not (one check's title, typed in capitals with its spaces
    // doubled: the search ignores case and how much white space).
    let fails = |account: &str| -> Vec<&Finding> {
        (all.iter())
            .filter(|f| f.status == "FAIL" && f.account == account)
            .collect()
    };
    let account = (all.iter().map(|f| f.account.clone()))
        .max_by_key(|a| (fails(a).len(), std::cmp::Reverse(a.clone())))
        .unwrap();
    let failing = fails(&account);
    let region = (failing.iter().find_map(|f| f.region.clone())).expect("a trail fails");
    let search = (failing.iter().map(|f| &f.title))
        .find(|t| failing.iter().any(|f| !f.text.contains(&folded(t))))
        .expect("two failing checks")
        .to_uppercase()
        .replace(' ', "  ");
    let check = failing[0].check.clone();

    let fail = Choice {
        status: Some("FAIL"),
        ..Default::default()
    };
    let fail_in_account = Choice {
        account: Some(account.clone()),
        ..fail.clone()
    };
    let searched = Choice {
        search: Some(search.clone()),
        ..fail_in_account.clone()
    };
    let region_and_check = Choice {
        region: Some(region.clone()),
        check: Some(check.clone()),
        ..Default::default()
    };
    let page = dir.path().join("report.html");
    let printout = dir.path().join("printed.pdf");
    let shown = browse(
        &chromium,
        &page,
        true,
        &json!([
            {"eval": SHOWN},
            {"click": "#filter button[data-status=FAIL]"},
            {"eval": SHOWN},
            {"select": "#filter-account", "value": account},
            {"eval": SHOWN},
            {"type": "#filter-search", "text": search},
            {"wait": format!("document.getElementById('filter-count').textContent.startsWith('Showing {} ')",
                expected(&all, &searched).0.len())},
            {"eval": SHOWN},
            {"media": "print"},
            {"eval": SHOWN},
            {"media": ""},
            {"pdf": printout},
            {"click": "#filter-reset"},
            {"eval": SHOWN},
            {"select": "#filter-region", "value": region},
            {"select": "#filter-check", "value": check},
            {"eval": SHOWN},
        ]),
    );
    let shown: Vec<&Value> = shown.iter().filter(|r| !r.is_null()).collect();
    let [everything, failures, in_account, found, printed, reset, by_region_and_check] = shown[..]
    else {
        panic!("{shown:?}")
    };

    // At first every finding shows, with the controls, and no notice; each status button counts
    // its findings.
    assert_eq!(
        assert_shows(everything, &all, &Choice::default()),
        all.len()
    );
    let statuses = ["PASS", "FAIL", "UNKNOWN", "NOT_APPLICABLE"].map(|status| {
        let n = all.iter().filter(|f| f.status == status).count();
        format!("{status} {n}")
    });
    assert_eq!(everything["statuses"], json!(statuses));
    assert_eq!(everything["controls"], true);
    assert_eq!(everything["notice"], Value::Null);

    // Each choice narrows what shows, to exactly what the JSON report lists for it.
    let n_fail = assert_shows(failures, &all, &fail);
    let n_account = assert_shows(in_account, &all, &fail_in_account);
    let n_found = assert_shows(found, &all, &searched);
    assert!(
        all.len() > n_fail && n_fail > n_account && n_account > n_found && n_found > 0,
        "{} > {n_fail} > {n_account} > {n_found} > 0: each step filters something",
        all.len()
    );
    let notice = found["notice"].as_str().expect("the notice shows");
    for part in [
        "status FAIL".to_string(),
        format!("account {account}"),
        format!("text “{}”", search.trim()),
        format!("showing {n_found} of {}", all.len()),
    ] {
        assert!(notice.contains(&part), "{notice:?} names {part:?}");
    }

    // Printed: the controls do not show, the notice does, and only the rows shown on screen.
    assert_shows(printed, &all, &searched);
    assert_eq!(printed["controls"], false);
    assert_eq!(printed["notice"], found["notice"]);
    // And on paper: Chromium's printout has the notice and every section to the footer (the parts
    // not in view are laid out for print too), and no controls.
    let paper = Command::new("pdftotext")
        .args([printout.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext is installed (scripts/test.sh installs poppler-utils)");
    let squeezed = |text: &str| text.split_whitespace().collect::<String>();
    let paper = squeezed(&String::from_utf8_lossy(&paper.stdout));
    assert!(paper.contains(&squeezed(notice)), "{paper}");
    assert!(
        !paper.contains("Showall") && !paper.contains("Search"),
        "{paper}"
    );
    let footer = json["pack"]["pack_id"].as_str().unwrap();
    assert!(paper.contains("Evidenceindex") && paper.contains(footer));

    // "Show all" shows every finding again; a region and a check filter too.
    assert_eq!(assert_shows(reset, &all, &Choice::default()), all.len());
    assert_eq!(reset["notice"], Value::Null);
    let n = assert_shows(by_region_and_check, &all, &region_and_check);
    assert!(n > 0 && n < all.len());
}

#[test]
fn without_javascript_every_row_shows_and_the_controls_do_not() {
    let Some(chromium) = chromium() else { return };
    let dir = rendered();
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let all = findings(&json);
    let page = dir.path().join("report.html");
    let shown = browse(
        &chromium,
        &page,
        false,
        &json!([
            {"eval": SHOWN},
            {"eval": "document.querySelectorAll('tr').length"},
            {"eval": "Array.from(document.querySelectorAll('tr')).filter((r) => r.getClientRects().length > 0).length"},
            {"eval": "document.getElementById('filter-account').options.length"},
        ]),
    );
    let (rows, headings) = expected(&all, &Choice::default());
    let shown_rows: Vec<(String, String)> =
        serde_json::from_value(shown[0]["findings"].clone()).unwrap();
    assert_eq!(shown_rows, rows);
    let shown_headings: BTreeSet<String> =
        serde_json::from_value(shown[0]["headings"].clone()).unwrap();
    assert_eq!(shown_headings, headings);
    assert_eq!(shown[0]["controls"], false);
    assert_eq!(shown[0]["notice"], Value::Null);
    assert_eq!(shown[0]["count"], "", "the script did not run");
    assert_eq!(shown[1], shown[2], "every row of every table shows");
    assert_eq!(shown[3], 1, "the options are the script's to add");
}

/// Values from AWS reach the filter only as text: an account id that is markup, with a bidi
/// override and quotes, is listed among the accounts as the page shows it (`\u{..}` for the
/// override), chosen, named in the notice, and never becomes an element.
#[test]
fn hostile_values_stay_text_in_the_filter() {
    use auditpack::report::{self, Format};
    let Some(chromium) = chromium() else { return };
    let hostile = "<img src=x id=injected>\u{202e}\"'&";
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-org-2026-Q4");
    let mut assessment =
        auditpack::assess::assess(&auditpack::evidence::Pack::open(&pack).unwrap()).unwrap();
    assessment.accounts[0].account_id = hostile.into();
    let findings = assessment.accounts[0].findings.len();
    let dir = tempdir();
    let page = dir.path().join("report.html");
    std::fs::write(
        &page,
        report::render(&assessment, None, Format::Html).unwrap(),
    )
    .unwrap();
    let shown = report::visible(hostile).into_owned();
    let results = browse(
        &chromium,
        &page,
        true,
        &json!([
            {"eval": "Array.from(document.getElementById('filter-account').options, (o) => o.text)"},
            {"select": "#filter-account", "value": shown},
            {"eval": SHOWN},
            {"eval": "document.querySelectorAll('#injected, img').length"},
        ]),
    );
    assert!(
        results[0].as_array().unwrap().contains(&json!(shown)),
        "{:?}",
        results[0]
    );
    let rows = results[2]["findings"].as_array().unwrap();
    assert_eq!(rows.len(), findings);
    let notice = results[2]["notice"].as_str().unwrap();
    assert!(notice.contains(&format!("account {shown}")), "{notice}");
    assert_eq!(results[3], 0, "no element made from a value");
}
