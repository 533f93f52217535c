//! The period's judgement of one trail, from events written as Event history holds them.

use super::coverage::{Blind, Lookup, Shown};
use super::trail::{Decision, KeyNow, Phase, TrailNow};
use super::{Event, Known, Period};
use crate::assess::EvidenceLink;
use crate::evidence::history::{KEY_EVENTS, TRAIL_EVENTS};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1e7b4c2a-6d3f-4a8e-9b15-2c0f7d9e3a41";
const DAY: i64 = 86_400;

/// An event of `name` at day `day` of a 90-day period.
fn event(name: &str, day: i64, request: Value, response: Value) -> Event {
    let key_event = KEY_EVENTS.contains(&name);
    Event {
        id: format!("{name}-{day}"),
        name: name.to_string(),
        at: day * DAY,
        account: ACCOUNT.into(),
        region: REGION.into(),
        who: "arn:aws:iam::111122223333:user/mallory".into(),
        refused: None,
        request,
        response,
        resources: if key_event { vec![KEY.into()] } else { vec![] },
        record: EvidenceLink {
            seq: day as u64,
            sha256: None,
        },
    }
}

/// UpdateTrail's answer: the trail's whole configuration, `kmsKeyId` only when it has a key.
fn config(key: Option<&str>) -> Value {
    let mut c = json!({"name": "main", "trailARN": TRAIL, "isMultiRegionTrail": true,
                       "isOrganizationTrail": false, "s3BucketName": "logs"});
    if let Some(key) = key {
        c["kmsKeyId"] = json!(key);
    }
    c
}

/// A period of 90 days whose lookups show everything, holding `events`.
fn period(events: Vec<Event>) -> Period {
    let mut p = Period {
        start: 0,
        end: 90 * DAY,
        collected: 90 * DAY,
        source: "default".into(),
        unreadable: None,
        events,
        shown: BTreeMap::new(),
        partition: "aws".into(),
        trails: BTreeMap::new(),
        keys: BTreeMap::new(),
    };
    for name in TRAIL_EVENTS.iter().chain(KEY_EVENTS) {
        let lookup = Lookup {
            account: ACCOUNT.into(),
            region: REGION.into(),
            name: name.to_string(),
        };
        let shown = Shown {
            from_to: Some((0, 90 * DAY)),
            blind: vec![],
            first: None,
            from_retention: true,
        };
        p.shown.insert(lookup, shown);
    }
    p.events.sort_by_key(|e| e.at);
    p.index();
    p
}

fn now(logging: bool) -> TrailNow<'static> {
    TrailNow {
        arn: TRAIL,
        exists: true,
        key: Known::Is(Some(KEY.into())),
        logging: Known::Is(logging),
        multi_region: Known::Is(true),
    }
}

fn enabled() -> Result<KeyNow, crate::evidence::EvidenceError> {
    Ok(KeyNow {
        state: Known::Is("Enabled".into()),
        policy: Known::Is(Decision::Allows),
    })
}

/// (from day, to day, phase, why) of each stretch.
fn judged(p: &Period, now: &TrailNow<'_>) -> Vec<(i64, i64, Phase, String)> {
    let t = p.trail(now, |_| enabled()).unwrap();
    t.stretches
        .iter()
        .map(|s| {
            (
                s.from / DAY,
                s.to / DAY,
                s.verdict.phase,
                s.verdict.why.clone(),
            )
        })
        .collect()
}

#[test]
fn a_period_without_changes_holds_what_was_collected() {
    let p = period(vec![]);
    assert_eq!(
        judged(&p, &now(true)),
        [(0, 90, Phase::Pass, String::new())]
    );
    assert_eq!(
        judged(&p, &now(false)),
        [(0, 90, Phase::Fail, "the trail was not logging".into())]
    );
}

#[test]
fn a_removed_key_fails_until_it_is_restored_and_the_time_before_is_not_known() {
    let p = period(vec![
        event(
            "UpdateTrail",
            50,
            json!({"name": TRAIL, "kmsKeyId": ""}),
            config(None),
        ),
        event(
            "UpdateTrail",
            59,
            json!({"name": "main", "kmsKeyId": KEY}),
            config(Some(KEY)),
        ),
    ]);
    let s = judged(&p, &now(true));
    assert_eq!(s.len(), 3);
    assert_eq!((s[0].0, s[0].1, s[0].2), (0, 50, Phase::Unknown));
    assert!(s[0].3.contains("before its first change"), "{}", s[0].3);
    assert_eq!(
        s[1],
        (50, 59, Phase::Fail, "the trail named no KMS key".into())
    );
    assert_eq!((s[2].0, s[2].1, s[2].2), (59, 90, Phase::Pass));
    let t = p.trail(&now(true), |_| enabled()).unwrap();
    assert_eq!(
        t.stretches[1].verdict.cause,
        Some(0),
        "the removal began it"
    );
}

#[test]
fn an_update_that_names_no_key_shows_the_key_before_it() {
    let p = period(vec![event(
        "UpdateTrail",
        30,
        json!({"name": "main", "enableLogFileValidation": true}),
        config(Some(KEY)),
    )]);
    assert_eq!(
        judged(&p, &now(true)),
        [(0, 90, Phase::Pass, String::new())]
    );
}

#[test]
fn a_refused_call_changes_nothing() {
    let mut stop = event("StopLogging", 40, json!({"name": "main"}), Value::Null);
    stop.refused = Some("AccessDenied: no".into());
    let p = period(vec![stop]);
    assert_eq!(
        judged(&p, &now(true)),
        [(0, 90, Phase::Pass, String::new())]
    );
}

#[test]
fn a_disabled_key_fails_while_disabled_and_a_cancelled_deletion_leaves_it_disabled() {
    let p = period(vec![
        event(
            "ScheduleKeyDeletion",
            20,
            json!({"keyId": KEY}),
            json!({"keyState": "PendingDeletion"}),
        ),
        event(
            "CancelKeyDeletion",
            22,
            json!({"keyId": KEY}),
            json!({"keyId": KEY}),
        ),
        event("EnableKey", 25, json!({"keyId": KEY}), Value::Null),
    ]);
    let s = judged(&p, &now(true));
    let fails: Vec<(i64, i64, String)> = (s.iter())
        .filter(|x| x.2 == Phase::Fail)
        .map(|x| (x.0, x.1, x.3.clone()))
        .collect();
    assert_eq!(
        fails,
        [
            (20, 22, format!("its KMS key {KEY} was PendingDeletion")),
            (22, 25, format!("its KMS key {KEY} was Disabled")),
        ]
    );
    assert_eq!(s.last().unwrap().2, Phase::Pass);
}

#[test]
fn a_policy_that_refuses_cloudtrail_fails_but_an_unknown_earlier_policy_does_not() {
    let allows = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                        "Action": "kms:GenerateDataKey*", "Resource": "*"}]});
    let refuses = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                         "Action": "kms:*", "Resource": "*"}]});
    let put = |day, policy: &Value| {
        event(
            "PutKeyPolicy",
            day,
            json!({"keyId": KEY, "policyName": "default", "policy": policy.to_string()}),
            Value::Null,
        )
    };
    let p = period(vec![put(30, &refuses), put(40, &allows)]);
    let s = judged(&p, &now(true));
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(
        (s[0].0, s[0].1, s[0].2),
        (0, 30, Phase::Pass),
        "the policy before any change is not judged"
    );
    assert_eq!((s[1].0, s[1].1, s[1].2), (30, 40, Phase::Fail));
    assert!(
        s[1].3.contains("did not let CloudTrail use it"),
        "{}",
        s[1].3
    );
    assert_eq!(s[2].2, Phase::Pass);
}

#[test]
fn a_trail_created_in_the_period_is_judged_from_when_it_first_logs() {
    let p = period(vec![
        event(
            "CreateTrail",
            10,
            json!({"name": "main", "kmsKeyId": KEY}),
            config(Some(KEY)),
        ),
        event("StartLogging", 11, json!({"name": "main"}), Value::Null),
    ]);
    let s = judged(&p, &now(true));
    assert_eq!(
        s.iter().map(|x| (x.0, x.1, x.2)).collect::<Vec<_>>(),
        [
            (0, 10, Phase::Absent),
            (10, 11, Phase::Absent),
            (11, 90, Phase::Pass)
        ]
    );
}

#[test]
fn a_stretch_a_lookup_does_not_show_is_unknown_and_hides_what_came_before_it() {
    // The StopLogging lookup shows nothing from day 60: whether logging stopped then is not known,
    // and the trail's logging at collection says nothing about the time before day 60 either.
    let mut p = period(vec![]);
    let lookup = Lookup {
        account: ACCOUNT.into(),
        region: REGION.into(),
        name: "StopLogging".into(),
    };
    let blind = Blind {
        from: 60 * DAY,
        to: 90 * DAY,
        why: "event e1 cannot be read".into(),
    };
    p.shown.insert(
        lookup,
        Shown {
            from_to: Some((0, 90 * DAY)),
            blind: vec![blind],
            first: None,
            from_retention: true,
        },
    );
    let s = judged(&p, &now(false));
    assert!(s.iter().all(|x| x.2 == Phase::Unknown), "{s:?}");
    assert!(s.iter().all(|x| x.3.contains("cannot be read")), "{s:?}");
}
