//! The comparison on the single-account sample against edited copies of its own assessment and
//! recorded state: each kind of change is found, named and cited, and nothing else is.

use super::*;
use crate::assess::{assess, Status};
use std::path::Path;

struct Sample {
    assessment: Assessment,
    trails: Vec<TrailAssessment>,
    state: RecordedState,
}

fn sample() -> Sample {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4");
    let pack = Pack::open(&dir).unwrap();
    let assessment = assess(&pack).unwrap();
    let trails = assessment.trails.to_vec().unwrap();
    let state = RecordedState::of(&pack).unwrap();
    Sample {
        assessment,
        trails,
        state,
    }
}

fn side(id: &str) -> Side {
    Side {
        pack_id: id.into(),
        account_id: "111122223333".into(),
        collected_at: "2026-11-30T00:00:00Z".into(),
        tool_version: "auditpack test".into(),
        signer: "ed25519:SHA256:test".into(),
        signer_checked: "verified".into(),
    }
}

fn diff(old: &Sample, new: &Sample) -> PackDiff {
    compare(
        Input {
            side: side("old"),
            assessment: &old.assessment,
            trails: &old.trails,
            state: &old.state,
        },
        Input {
            side: side("new"),
            assessment: &new.assessment,
            trails: &new.trails,
            state: &new.state,
        },
    )
}

/// The first trail whose `check` has `status`, and the finding's index.
fn find(s: &Sample, check: &str, status: Status) -> (usize, usize) {
    s.trails
        .iter()
        .enumerate()
        .find_map(|(t, trail)| {
            let f = trail
                .findings
                .iter()
                .position(|f| &*f.check_id == check && f.status == status)?;
            Some((t, f))
        })
        .unwrap_or_else(|| panic!("the sample has a trail whose {check} is {status:?}"))
}

#[test]
fn a_pack_compared_with_itself_has_no_changes() {
    let (a, b) = (sample(), sample());
    let d = diff(&a, &b);
    assert!(d.summary.is_empty(), "{:?}", d.summary);
    assert!(d.verdicts.is_empty() && d.resources.is_empty() && d.trails_changed.is_empty());
}

#[test]
fn each_verdict_move_is_named_with_both_reasons_and_both_records() {
    let old = sample();
    let mut new = sample();
    let (t_fail, f_fail) = find(&old, "cloudtrail-kms-encryption", Status::Fail);
    let (t_pass, f_pass) = find(&old, "kms-key-rotation", Status::Pass);
    let (t_log, f_log) = find(&old, "cloudtrail-logging", Status::Pass);
    new.trails[t_fail].findings[f_fail].status = Status::Pass;
    new.trails[t_fail].findings[f_fail].reason = "now encrypted".into();
    new.trails[t_pass].findings[f_pass].status = Status::Fail;
    new.trails[t_log].findings[f_log].status = Status::Unknown;
    let d = diff(&old, &new);
    let kinds: Vec<(Change, &str)> = d
        .verdicts
        .iter()
        .map(|v| (v.change, v.check_id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Change::NewlyFailing, "kms-key-rotation"),
            (Change::NewlyUnknown, "cloudtrail-logging"),
            (Change::Fixed, "cloudtrail-kms-encryption"),
        ]
    );
    let fixed = &d.verdicts[2];
    assert_eq!(fixed.id, old.trails[t_fail].trail_arn);
    assert_eq!(fixed.to_reason, "now encrypted");
    assert_eq!(
        fixed.from_reason,
        old.trails[t_fail].findings[f_fail].reason
    );
    assert!(!fixed.from_evidence.is_empty() && fixed.from_evidence[0].sha256.is_some());
    assert_eq!(
        (
            d.summary.newly_failing,
            d.summary.newly_unknown,
            d.summary.fixed
        ),
        (1, 1, 1)
    );
}

#[test]
fn trails_added_removed_and_reconfigured_are_named() {
    let old = sample();
    let mut new = sample();
    let removed = new.trails.remove(0);
    let mut added = removed.clone();
    added.trail_arn.push_str("-new");
    added.trail_name.push_str("-new");
    new.trails.push(added.clone());
    new.trails[0].bucket = Some("another-bucket".into());
    let d = diff(&old, &new);
    assert_eq!(d.trails_removed.len(), 1);
    assert_eq!(d.trails_removed[0].arn, removed.trail_arn);
    assert_eq!(d.trails_added.len(), 1);
    assert_eq!(d.trails_added[0].arn, added.trail_arn);
    assert_eq!(d.trails_changed.len(), 1);
    let change = &d.trails_changed[0];
    assert_eq!(change.trail.arn, new.trails[0].trail_arn);
    assert_eq!(change.fields.len(), 1);
    assert_eq!(change.fields[0].field, "bucket");
    assert_eq!(change.fields[0].to, "another-bucket");
    assert_eq!(change.from_evidence.len(), 1);
}

#[test]
fn a_key_or_bucket_whose_answer_changed_is_named_and_an_s3_error_with_a_new_request_id_is_not() {
    let old = sample();
    let mut new = sample();
    let key = new
        .state
        .0
        .iter_mut()
        .find(|((kind, _, _), ops)| *kind == "kms-key" && ops.contains_key("GetKeyRotationStatus"))
        .expect("the sample asks for a key's rotation");
    let key_name = key.0 .2.clone();
    let rotation = &mut key.1.get_mut("GetKeyRotationStatus").unwrap()[0];
    rotation.sha256 = Some("0".repeat(64));
    rotation.seq += 1000;
    // An error answer's body differs on every request (S3's RequestId, HostId): only its status and
    // code are its state.
    for ((kind, _, _), ops) in new.state.0.iter_mut() {
        for record in ops.values_mut().flatten() {
            if *kind == "s3-bucket" && record.http_status.is_some_and(|s| s >= 300) {
                record.sha256 = Some("f".repeat(64));
            }
        }
    }
    let d = diff(&old, &new);
    assert_eq!(d.resources.len(), 1, "{:#?}", d.resources);
    let r = &d.resources[0];
    assert_eq!(
        (r.kind, r.resource.as_str()),
        ("kms-key", key_name.as_str())
    );
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].operation, "GetKeyRotationStatus");
    assert_eq!(r.answers[0].to[0].sha256.as_deref(), Some(&*"0".repeat(64)));
    assert_ne!(r.answers[0].from[0].sha256, r.answers[0].to[0].sha256);
}

#[test]
fn the_diff_renders_to_every_format_with_hostile_names_neutralised() {
    let old = sample();
    let mut new = sample();
    new.trails[0].trail_arn = "=HYPERLINK(\"http://x\")<script>".into();
    let d = diff(&old, &new);
    for format in [
        crate::report::diff::DiffFormat::Html,
        crate::report::diff::DiffFormat::Csv,
        crate::report::diff::DiffFormat::Json,
        crate::report::diff::DiffFormat::Pdf,
    ] {
        let mut out = Vec::new();
        crate::report::diff::render_to(&d, format, &mut out).unwrap();
        assert!(!out.is_empty());
        let text = String::from_utf8_lossy(&out);
        match format {
            crate::report::diff::DiffFormat::Html => {
                assert!(!text.contains("<script>"));
                assert!(text.contains("&lt;script&gt;"));
            }
            crate::report::diff::DiffFormat::Csv => {
                assert!(text.contains("'=HYPERLINK"));
                assert!(text.starts_with(&crate::report::diff::COLUMNS.join(",")));
            }
            _ => {}
        }
    }
}

#[test]
fn period_failures_that_appear_and_disappear_are_counted_apart() {
    let old = sample();
    let mut new = sample();
    // The sample has no Event history: its period checks do not apply. One trail's period now
    // fails, and the account's.
    let (t, f) = find(
        &old,
        "cloudtrail-kms-encryption-period",
        Status::NotApplicable,
    );
    new.trails[t].findings[f].status = Status::Fail;
    new.trails[t].findings[f].reason = "the rule did not hold for 1 stretch".into();
    let d = diff(&old, &new);
    assert_eq!(d.summary.newly_failing, 1);
    assert_eq!(d.summary.period_failures_appeared, 1);
    assert_eq!(d.summary.period_failures_disappeared, 0);
    // And back: the failure disappears.
    let d = diff(&new, &old);
    assert_eq!(d.summary.fixed, 1);
    assert_eq!(d.summary.period_failures_disappeared, 1);
    assert_eq!(d.verdicts[0].check_id, "cloudtrail-kms-encryption-period");
}
