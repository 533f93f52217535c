//! CloudTrail: every trail in every region (shadow trails included), each account's ListTrails (which
//! names every trail of the account with its home region, whatever region answers), then each
//! trail's status and event selectors in its home region, or, when a policy blocks the home region,
//! in a region it is shadowed in (the API reference: a shadow trail's status is asked for by ARN); and
//! a multi-region trail's status in every region its owner lists it in ("This operation returns
//! trail status from a single Region").

use super::{Call, Collector, Outcome};
use crate::evidence::Op;
use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::list_trails::ListTrailsOutput;
use serde_json::json;

/// Bound on ListTrails pages for one account.
const MAX_TRAIL_PAGES: usize = 1_000;

/// What the collector needs to know about a trail to fetch what it depends on.
#[derive(Debug, Clone)]
pub(crate) struct TrailSummary {
    pub arn: String,
    pub home_region: String,
    /// The region whose DescribeTrails listed it (its home region, or a region it is shadowed in).
    pub listed_in: String,
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
                listed_in: region.to_string(),
                kms_key_id: trail.kms_key_id.filter(|k| !k.is_empty()),
                bucket: trail.s3_bucket_name.filter(|b| !b.is_empty()),
            })
        })
        .collect()
}

async fn describe_region(c: &Collector, region: &str) -> Vec<aws_sdk_cloudtrail::types::Trail> {
    let client = c.clients.cloudtrail(region);
    let call = Call::new(
        Op::DescribeTrails,
        region,
        region,
        json!({"includeShadowTrails": true}),
    )
    .requiring("trailList", |out: &DescribeTrailsOutput| {
        out.trail_list.is_some()
    });
    c.call(call, |rec| {
        client
            .describe_trails()
            .include_shadow_trails(true)
            .customize()
            .interceptor(rec)
            .send()
    })
    .await
    .ok()
    .and_then(|out| out.trail_list)
    .unwrap_or_default()
}

/// Every trail of the account with its home region, from ListTrails in the first of `regions` that
/// answers (every page recorded). `None` when none did.
pub(crate) async fn list_trails(
    c: &Collector,
    regions: &[String],
) -> Option<Vec<(String, String)>> {
    'regions: for region in regions.iter().take(3) {
        let client = c.clients.cloudtrail(region);
        let mut trails = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_TRAIL_PAGES {
            let params = json!({"NextToken": token});
            let call = Call::new(Op::ListTrails, region, "trails", params)
                .requiring("Trails", |out: &ListTrailsOutput| out.trails.is_some());
            let page = c
                .call(call, |rec| {
                    client
                        .list_trails()
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(rec)
                        .send()
                })
                .await;
            let Outcome::Ok(page) = page else {
                continue 'regions;
            };
            trails.extend(
                page.trails().iter().filter_map(|t| {
                    Some((t.trail_arn()?.to_string(), t.home_region()?.to_string()))
                }),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Some(trails),
            }
        }
        return Some(trails);
    }
    None
}

/// GetTrailStatus and GetEventSelectors for one trail by ARN, in its home region; when access to the
/// home region is refused, again in `listed_in`, where the trail is shadowed.
pub(crate) async fn trail_details(c: &Collector, arn: &str, home_region: &str, listed_in: &str) {
    let (status, selectors) = tokio::join!(
        trail_status(c, arn, home_region),
        event_selectors(c, arn, home_region)
    );
    if listed_in == home_region {
        return;
    }
    let denied = |outcome: &Outcome<()>| matches!(outcome, Outcome::Gap(f) if f.code.starts_with("AccessDenied"));
    if denied(&status) && trail_status(c, arn, listed_in).await.is_ok() {
        c.supersede_blocked(Op::GetTrailStatus, arn);
    }
    if denied(&selectors) && event_selectors(c, arn, listed_in).await.is_ok() {
        c.supersede_blocked(Op::GetEventSelectors, arn);
    }
}

/// A multi-region trail's status in a region it is shadowed in (by ARN, as the API reference asks
/// for a shadow trail). Asked for every such region: delivery can fail in one and not another.
pub(crate) async fn shadow_status(c: &Collector, arn: &str, region: &str) {
    let _ = trail_status(c, arn, region).await;
}

async fn trail_status(c: &Collector, arn: &str, region: &str) -> Outcome<()> {
    let client = c.clients.cloudtrail(region);
    let call = Call::new(Op::GetTrailStatus, region, arn, json!({"Name": arn}))
        .requiring("IsLogging", |out: &GetTrailStatusOutput| {
            out.is_logging.is_some()
        });
    c.call(call, |rec| {
        client
            .get_trail_status()
            .name(arn)
            .customize()
            .interceptor(rec)
            .send()
    })
    .await
    .map(|_| ())
}

async fn event_selectors(c: &Collector, arn: &str, region: &str) -> Outcome<()> {
    let client = c.clients.cloudtrail(region);
    let call = Call::new(
        Op::GetEventSelectors,
        region,
        arn,
        json!({"TrailName": arn}),
    );
    c.call(call, |rec| {
        client
            .get_event_selectors()
            .trail_name(arn)
            .customize()
            .interceptor(rec)
            .send()
    })
    .await
    .map(|_| ())
}
