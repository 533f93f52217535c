//! Multi-account collection against moto: `--accounts`, `--accounts-file` and `--org` with
//! `--role-name`, one pack for all accounts, per-account reports, and credentials never stored.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const REGIONS: &str = "us-east-1,eu-west-1,us-west-2";

/// The account in an ARN.
fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// Every file of a pack, as bytes, by path.
fn pack_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(pack_files(&path));
        } else {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    files
}

/// No file holds any of `secrets`, and every credential element in the pack says REDACTED.
fn assert_no_credentials(pack: &Path, secrets: &[String]) {
    for (path, bytes) in pack_files(pack) {
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "{path} holds a credential");
        }
        for element in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
            let open = format!("<{element}>");
            for (at, _) in text.match_indices(&open) {
                let value = &text[at + open.len()..];
                assert!(
                    value.starts_with("REDACTED<"),
                    "{path}: {element} is stored unredacted"
                );
            }
        }
    }
}

fn findings(report_dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(report_dir.join("findings.json")).unwrap()).unwrap()
}

fn csv_rows(report_dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(report_dir.join("findings.csv")).unwrap();
    reader.deserialize().map(|r| r.unwrap()).collect()
}

fn report(pack: &Path, out: &Path) {
    let output = run(auditpack().args([
        "report",
        "--pack",
        pack.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn listed_accounts_go_into_one_pack_with_each_record_naming_its_account() {
    let home = seed("standard", &[]);
    let member = seed("standard", &[]);
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let accounts = format!("{},{}", home.account, member.account);
    let output = run(auditpack_as(&home).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        REGIONS,
        "--accounts",
        &accounts,
        "--role-name",
        "audit/AuditpackReader",
        "--external-id",
        "acme-audit-2026",
    ]));
    // moto's two unparseable S3 answers make every moto pack incomplete.
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout(&output).contains("2 in scope, 2 collected"));

    let header = header(&pack);
    let listed: Vec<(&str, bool, Option<&str>)> = header["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["source"], "--accounts");
            (
                a["account_id"].as_str().unwrap(),
                a["collected"].as_bool().unwrap(),
                a["role_arn"].as_str(),
            )
        })
        .collect();
    let role_arn = format!("arn:aws:iam::{}:role/audit/AuditpackReader", member.account);
    assert_eq!(
        listed,
        [
            (home.account.as_str(), true, None),
            (member.account.as_str(), true, Some(role_arn.as_str())),
        ]
    );

    let entries = index_entries(&pack);
    // Trails whose status each account asked (a multi-region trail's in every region it lists it).
    let mut trails_by_account: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &entries {
        if e["operation"] == "GetCallerIdentity" {
            // The first call is the one that finds out which account the caller is in.
            assert!(e["account"].is_null());
            continue;
        }
        let account = e["account"]
            .as_str()
            .expect("every record names its account");
        assert!(account == home.account || account == member.account);
        if e["operation"] == "GetTrailStatus" {
            let arn = e["resource"].as_str().unwrap();
            assert_eq!(
                arn_account(arn),
                account,
                "{arn} fetched from another account"
            );
            (trails_by_account.entry(account.to_string()).or_default()).insert(arn.to_string());
        }
    }
    assert_eq!(
        trails_by_account.get(&home.account).map(BTreeSet::len),
        Some(7)
    );
    assert_eq!(
        trails_by_account.get(&member.account).map(BTreeSet::len),
        Some(7)
    );

    // The member account was entered once, as a session that says auditpack, with the external id.
    let assumed: Vec<&Value> = entries
        .iter()
        .filter(|e| e["operation"] == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 1);
    assert_eq!(assumed[0]["resource"], role_arn.as_str());
    assert!(assumed[0]["params"]["RoleSessionName"]
        .as_str()
        .unwrap()
        .starts_with("auditpack-"));
    assert_eq!(assumed[0]["params"]["ExternalId"], "(set)");
    assert_eq!(
        assumed[0]["redacted"],
        serde_json::json!(["AccessKeyId", "SecretAccessKey", "SessionToken"])
    );
    let secrets: Vec<String> = home.credentials().into_iter().map(|(_, v)| v).collect();
    assert_no_credentials(&pack, &secrets);

    // Reports: every row has its account, and the summary has a row per account.
    let out = dir.path().join("reports");
    report(&pack, &out);
    let rows = csv_rows(&out);
    let csv_accounts: BTreeSet<&str> = rows.iter().map(|r| r["account_id"].as_str()).collect();
    assert_eq!(
        csv_accounts,
        BTreeSet::from([home.account.as_str(), member.account.as_str()])
    );
    let a = findings(&out);
    let summary_rows: Vec<(String, u64, u64, u64)> = a["summary"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account_id"].as_str().unwrap().to_string(),
                r["trails"].as_u64().unwrap(),
                r["rule"]["pass"].as_u64().unwrap(),
                r["rule"]["fail"].as_u64().unwrap(),
            )
        })
        .collect();
    // standard: 5 of 7 trails name a key, but only 2 name a usable customer managed key (one is
    // disabled, one pending deletion, one does not exist): the rule passes for 2 and fails for 5.
    assert_eq!(
        summary_rows,
        [
            (home.account.clone(), 7, 2, 5),
            (member.account.clone(), 7, 2, 5)
        ]
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let by_account = &html[html.find("id=\"accounts\"").expect("accounts table")..];
    let by_account = &by_account[..by_account.find("</table>").unwrap()];
    assert!(by_account.contains(&home.account) && by_account.contains(&member.account));
    let pdf = Command::new("pdftotext")
        .args(["-layout", out.join("report.pdf").to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&pdf.stdout);
    let table = &text[text.find("By account").expect("PDF account table")..];
    assert!(table.contains(&member.account));

    // The assessment of the pack agrees, account by account, and fails on the FAIL trails.
    let assessed = run(auditpack().args(["assess", "--pack", pack.to_str().unwrap()]));
    assert_eq!(assessed.status.code(), Some(5));
    assert!(stdout(&assessed).contains(&format!(
        "{}  collected; 7 trails: 2 PASS, 5 FAIL",
        member.account
    )));
}

#[test]
fn an_accounts_file_names_the_accounts_in_the_reports() {
    let home = seed("standard", &[]);
    let member = seed("standard", &[]);
    let dir = tempdir();
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        format!(
            "account_id,name\n# the audit scope for Q4\n{},Security tooling\n\n{},\"Payments, EU\"\n",
            home.account, member.account
        ),
    )
    .unwrap();
    let pack = dir.path().join("pack");
    let output = run(auditpack_as(&home).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        "us-east-1",
        "--accounts-file",
        file.to_str().unwrap(),
        "--role-name",
        "AuditpackReader",
    ]));
    assert_eq!(output.status.code(), Some(3));
    let header = header(&pack);
    let names: Vec<(&str, &str, &str)> = header["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap(),
                a["name"].as_str().unwrap(),
                a["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (home.account.as_str(), "Security tooling", "--accounts-file"),
            (member.account.as_str(), "Payments, EU", "--accounts-file")
        ]
    );
    let out = dir.path().join("reports");
    report(&pack, &out);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Payments, EU"));
}

#[test]
fn org_covers_every_active_account_over_several_pages_and_the_management_account() {
    let (management, prefix) = unique_account();
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed_org.py"))
        .args(["--endpoint", &endpoint(), "--management", &management])
        .args(["--members", "22", "--close", "1", "--name-prefix", &prefix])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let org: Value = serde_json::from_slice(&output.stdout).unwrap();
    let members = org["members"].as_array().unwrap();
    let closed = org["closed"][0].as_str().unwrap();
    // Trails in the management account and in one member account.
    seed_in(&management, &prefix, "standard", &[]);
    let active_member = members[1]["id"].as_str().unwrap();
    seed_in(active_member, &format!("{prefix}m"), "standard", &[]);

    let dir = tempdir();
    let pack = dir.path().join("pack");
    let mut cmd = auditpack();
    for (k, v) in org["credentials"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    let output = run(cmd.env("AWS_ENDPOINT_URL", endpoint()).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        REGIONS,
        "--org",
        "--role-name",
        "AuditpackReader",
    ]));
    assert_eq!(output.status.code(), Some(3));
    let header = header(&pack);
    let listed: BTreeMap<&str, &Value> = header["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["account_id"].as_str().unwrap(), a))
        .collect();
    // The management account and the 21 active members; the closed one is left out.
    assert_eq!(listed.len(), 22, "{listed:?}");
    assert!(listed[management.as_str()]["role_arn"].is_null());
    assert!(!listed.contains_key(closed));
    for m in &members[1..] {
        let row = listed[m["id"].as_str().unwrap()];
        assert_eq!(row["name"], m["name"]);
        assert_eq!(row["source"], "organizations:ListAccounts");
        assert_eq!(row["collected"], true);
    }
    let pages = index_entries(&pack)
        .iter()
        .filter(|e| e["operation"] == "ListAccounts")
        .count();
    assert_eq!(pages, 2, "23 accounts at 20 a page");

    let out = dir.path().join("reports");
    report(&pack, &out);
    let a = findings(&out);
    let with_trails: BTreeMap<&str, u64> = a["summary"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["trails"].as_u64().unwrap() > 0)
        .map(|r| {
            (
                r["account_id"].as_str().unwrap(),
                r["trails"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        with_trails,
        BTreeMap::from([(management.as_str(), 7), (active_member, 7)])
    );
}

#[test]
fn other_accounts_without_a_role_name_are_a_usage_error() {
    let home = seed("standard", &[]);
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let output = run(auditpack_as(&home).args([
        "collect",
        "--out",
        pack.to_str().unwrap(),
        "--regions",
        "us-east-1",
        "--accounts",
        &format!("{},999999999999", home.account),
    ]));
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("999999999999") && err.contains("--role-name"),
        "{err}"
    );
    assert!(!pack.exists());
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn bad_account_flags_are_usage_errors_naming_the_value() {
    let dir = tempdir();
    let out = dir.path().join("p");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let bad_line = file("bad.csv", "111111111111,Prod\n22222222222x,Dev\n");
    let repeated = file("repeated.csv", "111111111111\n111111111111\n");
    let empty = file("empty.csv", "# nothing here\n\n");
    let missing = dir.path().join("missing.csv").display().to_string();
    let long_name = "r".repeat(65);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--accounts", "12345"], "12-digit"),
        (
            vec!["--accounts", "111111111111,1111111111112"],
            "\"1111111111112\" for --accounts",
        ),
        (vec!["--accounts", "111111111111,111111111111"], "repeated"),
        (vec!["--accounts", ""], "--accounts"),
        (vec!["--accounts-file", &bad_line], "line 2: 22222222222x"),
        (vec!["--accounts-file", &repeated], "listed earlier"),
        (vec!["--accounts-file", &empty], "at least one account id"),
        (vec!["--accounts-file", &missing], "readable"),
        (
            vec![
                "--accounts",
                "111111111111",
                "--role-name",
                "arn:aws:iam::111111111111:role/R",
            ],
            "not a full ARN",
        ),
        (
            vec!["--accounts", "111111111111", "--role-name", "bad name"],
            "--role-name",
        ),
        (
            vec!["--accounts", "111111111111", "--role-name", &long_name],
            "1-64",
        ),
        (
            vec![
                "--accounts",
                "111111111111",
                "--role-name",
                "R",
                "--external-id",
                "x",
            ],
            "--external-id",
        ),
        (vec!["--org"], "--role-name"),
        (
            vec!["--org", "--accounts", "111111111111", "--role-name", "R"],
            "cannot be used with",
        ),
        (vec!["--external-id", "abc"], "--role-name"),
        (vec!["--retry-mode", "aggressive"], "standard, adaptive"),
        (vec!["--concurrency", "257"], "1 to 256"),
        (vec!["--regions", "us-east-1,us-east-1"], "repeated"),
    ];
    for (args, needle) in cases {
        let args = [&["collect", "--out", out.to_str().unwrap()][..], &args].concat();
        assert_usage_error(&args, needle, &out);
    }
}

#[test]
fn an_account_whose_role_cannot_be_assumed_is_a_gap_not_a_failed_run() {
    let home = seed("standard", &[]);
    let member = seed("standard", &[]);
    let (refused, _) = unique_account();
    let proxy = FaultProxy::start(&["--deny-assume-role", &refused]);
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let accounts = format!("{},{refused},{}", home.account, member.account);
    let output = run(auditpack_as(&home)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args([
            "collect",
            "--out",
            pack.to_str().unwrap(),
            "--regions",
            "us-east-1",
        ])
        .args(["--accounts", &accounts, "--role-name", "AuditpackReader"]));
    assert_eq!(output.status.code(), Some(3), "a pack, incomplete");
    let summary = stdout(&output);
    assert!(
        summary.contains(&format!("{refused}: NOT collected")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "arn:aws:iam::{refused}:role/AuditpackReader exists in it and trusts the caller"
        )),
        "the summary says what to do: {summary}"
    );

    let header = header(&pack);
    let refused_row = header["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == refused.as_str())
        .unwrap();
    assert_eq!(refused_row["collected"], false);
    let gap = header["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["operation"] == "AssumeRole")
        .expect("the refused role is a gap");
    assert_eq!(gap["error_code"], "AccessDenied");
    assert_eq!(
        gap["resource"],
        format!("arn:aws:iam::{refused}:role/AuditpackReader").as_str()
    );
    // The refusal itself is evidence, recorded like any answer; the other accounts are complete.
    let entries = index_entries(&pack);
    assert!(entries
        .iter()
        .any(|e| e["operation"] == "AssumeRole" && e["http_status"] == 403));
    assert!(entries.iter().all(|e| e["account"] != refused.as_str()));
    let status_calls = entries
        .iter()
        .filter(|e| e["operation"] == "GetTrailStatus" && e["account"] == member.account.as_str())
        .count();
    assert_eq!(status_calls, 2, "the member's two us-east-1 trails");

    let out = dir.path().join("reports");
    report(&pack, &out);
    let a = findings(&out);
    assert_eq!(a["summary"]["accounts_not_collected"], 1);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("NOT COLLECTED"));
    let assessed = run(auditpack().args(["assess", "--pack", pack.to_str().unwrap()]));
    assert!(stdout(&assessed).contains(&format!("{refused}  NOT COLLECTED")));
}

#[test]
fn a_member_session_that_runs_out_is_renewed_and_each_renewal_is_recorded() {
    let home = seed("standard", &[]);
    let member = seed("standard", &[]);
    // Sessions said to end 5 s after they are issued: the SDK renews credentials 5-10 s before they
    // end, so every call in the member account finds its session ending and needs a new one.
    let proxy = FaultProxy::start(&["--session-seconds", "5"]);
    let dir = tempdir();
    let pack = dir.path().join("pack");
    let accounts = format!("{},{}", home.account, member.account);
    let output = run(auditpack_as(&home)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(["collect", "--out", pack.to_str().unwrap()])
        .args(["--regions", "us-east-1", "--concurrency", "4"])
        .args(["--accounts", &accounts, "--role-name", "AuditpackReader"]));
    // 3: moto answers GetBucketPolicyStatus in a shape the SDK cannot read (a gap in every run).
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let header = header(&pack);
    let gaps = header["gaps"].as_array().unwrap();
    assert!(
        gaps.iter().all(|g| g["operation"] != "AssumeRole"),
        "{gaps:?}"
    );
    let entries = index_entries(&pack);
    let role = format!("arn:aws:iam::{}:role/AuditpackReader", member.account);
    let sessions: Vec<&Value> = entries
        .iter()
        .filter(|e| e["operation"] == "AssumeRole" && e["resource"] == role.as_str())
        .collect();
    assert!(
        sessions.len() >= 2,
        "the member's session was renewed: {} AssumeRole",
        sessions.len()
    );
    assert!(sessions.iter().all(|e| e["http_status"] == 200));
    // Everything the member owns was still collected, under its own account.
    let member_calls = |op: &str| {
        entries
            .iter()
            .filter(|e| e["operation"] == op && e["account"] == member.account.as_str())
            .count()
    };
    assert_eq!(
        member_calls("GetTrailStatus"),
        2,
        "the member's two us-east-1 trails"
    );
    assert!(member_calls("GetBucketEncryption") >= 1);
    // The member's gaps are the home account's (the same scenario, so the same moto quirks): none
    // comes from its sessions.
    let gaps_of = |account: &str| {
        let mut ops: Vec<String> = gaps
            .iter()
            .filter(|g| g["account"] == account)
            .map(|g| format!("{} {}", g["operation"], g["error_code"]))
            .collect();
        ops.sort();
        ops
    };
    assert_eq!(gaps_of(&member.account), gaps_of(&home.account));
}
