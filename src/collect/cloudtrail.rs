//! CloudTrail: every trail in every region (shadow trails included), then each trail's status and
//! event selectors in its home region.

use super::{Collector, Outcome};
use serde_json::json;

/// What the collector needs to know about a trail to fetch what it depends on.
#[derive(Debug, Clone)]
pub(crate) struct TrailSummary {
    pub arn: String,
    pub home_region: String,
    pub kms_key_id: Option<String>,
    pub bucket: Option<String>,
}

/// The trails DescribeTrails lists in one region (shadow trails of multi-region trails included),
/// as soon as that region answers.
pub(crate) async fn list_region(c: &Collector, region: &str) -> Vec<TrailSummary> {
    describe_region(c, region)
        .await
        .into_iter()
        .filter_map(|trail| {
            Some(TrailSummary {
                arn: trail.trail_arn?,
                home_region: trail.home_region.unwrap_or_else(|| region.to_string()),
                kms_key_id: trail.kms_key_id.filter(|k| !k.is_empty()),
                bucket: trail.s3_bucket_name.filter(|b| !b.is_empty()),
            })
        })
        .collect()
}

async fn describe_region(c: &Collector, region: &str) -> Vec<aws_sdk_cloudtrail::types::Trail> {
    let client = c.clients.cloudtrail(region);
    c.call(
        "cloudtrail",
        "DescribeTrails",
        region,
        region,
        json!({"includeShadowTrails": true}),
        |rec| {
            client
                .describe_trails()
                .include_shadow_trails(true)
                .customize()
                .interceptor(rec)
                .send()
        },
    )
    .await
    .ok()
    .and_then(|out| out.trail_list)
    .unwrap_or_default()
}

/// GetTrailStatus and GetEventSelectors for one trail, in its home region.
pub(crate) async fn trail_details(c: &Collector, arn: &str, home_region: &str) {
    let client = c.clients.cloudtrail(home_region);
    let status = c.call(
        "cloudtrail",
        "GetTrailStatus",
        home_region,
        arn,
        json!({"Name": arn}),
        |rec| {
            client
                .get_trail_status()
                .name(arn)
                .customize()
                .interceptor(rec)
                .send()
        },
    );
    let selectors = c.call(
        "cloudtrail",
        "GetEventSelectors",
        home_region,
        arn,
        json!({"TrailName": arn}),
        |rec| {
            client
                .get_event_selectors()
                .trail_name(arn)
                .customize()
                .interceptor(rec)
                .send()
        },
    );
    // Both outcomes are in the pack; nothing further depends on them during collection.
    let _: (Outcome<_>, Outcome<_>) = tokio::join!(status, selectors);
}
