//! CloudTrail: every trail in every region (shadow trails included), then each trail's status and
//! event selectors in its home region.

use super::{Collector, Outcome};
use futures::future::join_all;
use serde_json::json;
use std::collections::BTreeMap;

/// What the collector needs to know about a trail to fetch what it depends on.
#[derive(Debug, Clone)]
pub(crate) struct TrailSummary {
    pub arn: String,
    pub home_region: String,
    pub kms_key_id: Option<String>,
    pub bucket: Option<String>,
}

/// Describes the trails of every region concurrently and deduplicates them by ARN.
pub(crate) async fn describe_all(
    c: &Collector,
    regions: &[String],
) -> BTreeMap<String, TrailSummary> {
    let lists = join_all(regions.iter().map(|region| describe_region(c, region))).await;
    let mut trails = BTreeMap::new();
    for (region, trail_list) in regions.iter().zip(lists) {
        for trail in trail_list {
            let Some(arn) = trail.trail_arn else { continue };
            let home_region = trail.home_region.unwrap_or_else(|| region.clone());
            trails.entry(arn.clone()).or_insert(TrailSummary {
                arn,
                home_region,
                kms_key_id: trail.kms_key_id.filter(|k| !k.is_empty()),
                bucket: trail.s3_bucket_name.filter(|b| !b.is_empty()),
            });
        }
    }
    trails
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
pub(crate) async fn trail_details(c: &Collector, trail: &TrailSummary) {
    let client = c.clients.cloudtrail(&trail.home_region);
    let status = c.call(
        "cloudtrail",
        "GetTrailStatus",
        &trail.home_region,
        &trail.arn,
        json!({"Name": trail.arn}),
        |rec| {
            client
                .get_trail_status()
                .name(&trail.arn)
                .customize()
                .interceptor(rec)
                .send()
        },
    );
    let selectors = c.call(
        "cloudtrail",
        "GetEventSelectors",
        &trail.home_region,
        &trail.arn,
        json!({"TrailName": trail.arn}),
        |rec| {
            client
                .get_event_selectors()
                .trail_name(&trail.arn)
                .customize()
                .interceptor(rec)
                .send()
        },
    );
    // Both outcomes are in the pack; nothing further depends on them during collection.
    let _: (Outcome<_>, Outcome<_>) = tokio::join!(status, selectors);
}
