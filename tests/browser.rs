//! The HTML report in a real browser (issue 18): headless Chromium opens the organisation sample's
//! `report.html`, a reader clicks a status, chooses an account, a region and a check, types in the
//! search box, prints, and shows all again; the rows of trails and accounts shown each time are
//! exactly those the JSON report lists for that choice (issue 19: a row per trail or account, not
//! per finding). With JavaScript disabled every row shows and the controls do
//! not. Chromium is driven by `tests/fixtures/browser.py` over the DevTools protocol (a pipe, no
//! port); `scripts/test.sh` installs Chromium. Without it these tests fail, unless
//! `AUDITPACK_SKIP_BROWSER=1` says to skip them.

mod common;

use common::*;
use serde_json::{json, Value};
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

/// What the page shows, as a reader sees it (laid-out boxes, not attributes): the rows of trails
/// and accounts, each as its anchor; the count; the status buttons; whether the controls and the
/// notice that a filter is active show, and the notice.
const SHOWN: &str = r##"(() => {
  const shown = (e) => e !== null && e.getClientRects().length > 0;
  const notice = document.getElementById("filter-active");
  return {
    rows: Array.from(document.querySelectorAll("tr[data-findings]")).filter(shown).map((r) => r.id),
    count: document.getElementById("filter-count").textContent,
    statuses: Array.from(document.querySelectorAll("#filter button[data-status]"), (b) => b.textContent),
    controls: shown(document.getElementById("filter")),
    notice: shown(notice) ? notice.textContent : null,
  };
})()"##;

/// A trail or an account as the JSON report lists it, with what the page's row shows of it.
#[derive(Debug, Clone)]
struct Subject {
    /// `trail-N` or `account-ID`: the row's anchor.
    anchor: String,
    account: String,
    region: Option<String>,
    /// Each finding's check and status.
    findings: Vec<(String, String)>,
    /// A trail's name, or an account's id and name: what a search for them finds.
    text: String,
}

impl Subject {
    /// Whether the report details it: one of its findings is a FAIL or an UNKNOWN.
    fn failing(&self) -> bool {
        (self.findings.iter()).any(|(_, status)| status == "FAIL" || status == "UNKNOWN")
    }
}

/// Every trail and account of `findings.json` with findings, in the page's order: those that fail
/// or are undecided (trails, then accounts), then the others (trails, then accounts).
fn subjects(json: &Value) -> Vec<Subject> {
    let findings = |f: &Value| -> Vec<(String, String)> {
        (f.as_array().unwrap().iter())
            .map(|f| {
                let s = |name: &str| f[name].as_str().unwrap().to_string();
                (s("check_id"), s("status"))
            })
            .collect()
    };
    let mut trails = Vec::new();
    for (i, t) in json["trails"].as_array().unwrap().iter().enumerate() {
        let account = t["account_id"].as_str().unwrap();
        trails.push(Subject {
            anchor: format!("trail-{}", i + 1),
            account: account.to_string(),
            region: t["region"].as_str().map(str::to_string),
            findings: findings(&t["findings"]),
            text: folded(t["trail_name"].as_str().unwrap()),
        });
    }
    let mut accounts = Vec::new();
    for a in json["accounts"].as_array().unwrap() {
        let id = a["account_id"].as_str().unwrap();
        let subject = Subject {
            anchor: format!("account-{id}"),
            account: id.to_string(),
            region: None,
            findings: findings(&a["findings"]),
            text: folded(&format!("{id} {}", a["name"].as_str().unwrap_or_default())),
        };
        if !subject.findings.is_empty() {
            accounts.push(subject);
        }
    }
    let (failing_trails, other_trails): (Vec<_>, Vec<_>) =
        trails.into_iter().partition(Subject::failing);
    let (failing_accounts, other_accounts): (Vec<_>, Vec<_>) =
        accounts.into_iter().partition(Subject::failing);
    [
        failing_trails,
        failing_accounts,
        other_trails,
        other_accounts,
    ]
    .concat()
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
    fn admits(&self, s: &Subject) -> bool {
        let is = |chosen: &Option<String>, value: Option<&String>| {
            chosen.as_ref().is_none_or(|c| Some(c) == value)
        };
        is(&self.account, Some(&s.account))
            && is(&self.region, s.region.as_ref())
            && s.findings.iter().any(|(check, status)| {
                self.status.is_none_or(|c| c == status) && is(&self.check, Some(check))
            })
            && (self.search.as_ref()).is_none_or(|needle| s.text.contains(&folded(needle)))
    }
}

/// What the page must show for `choice`: each admitted trail or account's anchor, in page order.
fn expected(all: &[Subject], choice: &Choice) -> Vec<String> {
    (all.iter().filter(|s| choice.admits(s)))
        .map(|s| s.anchor.clone())
        .collect()
}

/// Checks that `shown` (a result of [`SHOWN`]) is exactly what `choice` admits, in page order.
fn assert_shows(shown: &Value, all: &[Subject], choice: &Choice) -> usize {
    let rows = expected(all, choice);
    let shown_rows: Vec<String> = serde_json::from_value(shown["rows"].clone()).unwrap();
    assert_eq!(shown_rows, rows, "rows shown for {choice:?}");
    assert_eq!(
        shown["count"],
        format!(
            "Showing {} of {} trails and accounts",
            rows.len(),
            all.len()
        )
    );
    rows.len()
}

#[test]
fn the_html_filter_shows_exactly_the_chosen_trails_and_accounts() {
    let Some(chromium) = chromium() else { return };
    let dir = rendered();
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    let all = subjects(&json);

    // The account with the most failing rows, its first region with a failing trail, a failing
    // check there, and the name of one of its failing trails (typed in capitals with its spaces
    // doubled: the search ignores case and how much white space).
    let fail = Choice {
        status: Some("FAIL"),
        ..Default::default()
    };
    let fails = |account: &str| -> Vec<&Subject> {
        (all.iter())
            .filter(|s| s.account == account && fail.admits(s))
            .collect()
    };
    let account = (all.iter().map(|s| s.account.clone()))
        .max_by_key(|a| (fails(a).len(), std::cmp::Reverse(a.clone())))
        .unwrap();
    let failing = fails(&account);
    let trail = (failing.iter().find(|s| s.region.is_some())).expect("a trail fails");
    let region = trail.region.clone().unwrap();
    let search = trail.text.to_uppercase().replace(' ', "  ");
    let check = (trail.findings.iter())
        .find(|(_, status)| status == "FAIL")
        .unwrap()
        .0
        .clone();

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
                expected(&all, &searched).len())},
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

    // At first every trail and account shows, with the controls, and no notice; each status
    // button counts the trails and accounts with a finding of its status.
    assert_eq!(
        assert_shows(everything, &all, &Choice::default()),
        all.len()
    );
    let statuses = ["PASS", "FAIL", "UNKNOWN", "NOT_APPLICABLE"].map(|status| {
        let n = (all.iter())
            .filter(|s| s.findings.iter().any(|(_, st)| st == status))
            .count();
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

    // "Show all" shows every row again; a region and a check filter too.
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
    let all = subjects(&json);
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
    let rows = expected(&all, &Choice::default());
    let shown_rows: Vec<String> = serde_json::from_value(shown[0]["rows"].clone()).unwrap();
    assert_eq!(shown_rows, rows);
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
    let rows = results[2]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "the account's own row");
    let notice = results[2]["notice"].as_str().unwrap();
    assert!(notice.contains(&format!("account {shown}")), "{notice}");
    assert_eq!(results[3], 0, "no element made from a value");
}
