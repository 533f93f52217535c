//! Event history in a pack: which management events auditpack looks up for each kind of resource,
//! in the account and Region that record them, and the window the pack's period covers (`pack.json`'s
//! `history`).

use serde::{Deserialize, Serialize};

/// Event history keeps the last 90 days of management events in every account and Region
/// (CloudTrail User Guide, "Working with CloudTrail Event history").
pub const RETENTION_DAYS: i64 = 90;

/// The most events one LookupEvents page holds (API reference: MaxResults 1 through 50).
pub const EVENTS_PER_PAGE: i32 = 50;

/// Changes to a trail, recorded in the trail's home Region of the account that owns it (UpdateTrail,
/// StartLogging, StopLogging, DeleteTrail and PutEventSelectors must be called there: API
/// reference). `DeleteTrail` comes first: it is the one asked in every Region, to find trails
/// deleted during the window. Advanced event selectors are set with PutEventSelectors too.
pub const TRAIL_EVENTS: &[&str] = &[
    "DeleteTrail",
    "CreateTrail",
    "UpdateTrail",
    "StopLogging",
    "StartLogging",
    "PutEventSelectors",
];

/// The trail event looked up in every Region of every account in scope: a trail deleted during the
/// window is listed nowhere else.
pub const DELETED_TRAIL_EVENT: &str = "DeleteTrail";

/// Changes to a KMS key, recorded in the key's Region of the account that owns it. `DeleteKey` and
/// `DeleteExpiredKeyMaterial` are KMS's own events (the end of a deletion's waiting period, key
/// material expiring); `CancelKeyDeletion` leaves a key Disabled (KMS Developer Guide).
pub const KEY_EVENTS: &[&str] = &[
    "DisableKey",
    "EnableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DeleteKey",
    "PutKeyPolicy",
    "DeleteImportedKeyMaterial",
    "DeleteExpiredKeyMaterial",
    "ImportKeyMaterial",
    "DisableKeyRotation",
    "EnableKeyRotation",
];

/// Changes to an S3 bucket, recorded in the bucket's Region of the account that owns it (a bucket's
/// requests are served only in its Region).
pub const BUCKET_EVENTS: &[&str] = &[
    "DeleteBucket",
    "CreateBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
];

/// The gap code of the part of a window older than Event history keeps.
pub const BEYOND_HISTORY: &str = "BeyondEventHistory";
/// The gap code of an event whose `CloudTrailEvent` is not a JSON object: what it changed is unknown.
pub const UNREADABLE_EVENT: &str = "UnreadableEvent";
/// The gap code of a listing whose pages did not end: its NextToken repeated, or the page bound was
/// reached.
pub const ENDLESS_LISTING: &str = "EndlessListing";

/// `pack.json`'s `history`: the period the pack's changes cover, and what was asked of Event history.
/// Absent when the pack was collected with `--no-history` (or by an auditpack before it read history).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HistoryWindow {
    /// The period judged, from `start` to `end` (RFC 3339, UTC, to the second).
    pub start: String,
    pub end: String,
    /// How it was chosen: `default` (the 90 days before collection), `--since <DATE>` or
    /// `--period <YYYY-Qn>`.
    pub source: String,
    /// What each LookupEvents asked for: events from `lookup_start` (never earlier than 90 days
    /// before the lookups) to `lookup_end` (when the collection started, which may be after `end`:
    /// the changes after the period show how the state at its end became today's).
    pub lookup_start: String,
    pub lookup_end: String,
}
