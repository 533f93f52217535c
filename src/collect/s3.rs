//! S3: each account's bucket list (which says who owns a bucket), a probe of buckets no account in
//! scope owns, and for each trail bucket, from its owner, its location and the settings an assessor
//! asks about.

use super::{Call, Collector, Outcome};
use crate::evidence::{Op, OutsideScope};
use serde_json::json;

/// Bound on ListBuckets pages (10,000 buckets each at most).
const MAX_BUCKET_PAGES: usize = 1_000;
/// Buckets per ListBuckets page. Asking for a page size also makes S3 give each bucket's region
/// (`BucketRegion`), which plain ListBuckets leaves out.
const BUCKETS_PER_PAGE: i32 = 10_000;

/// The buckets the account owns, with their regions where S3 gives them, every page recorded.
/// `None` when the account's buckets could not be listed.
pub(crate) async fn list_buckets(c: &Collector) -> Option<Vec<(String, Option<String>)>> {
    let region = c.clients.home_region();
    let client = c.clients.s3(&region);
    let mut buckets = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_BUCKET_PAGES {
        let params = json!({"MaxBuckets": BUCKETS_PER_PAGE, "ContinuationToken": token});
        let page = c
            .call(
                Call::new(Op::ListBuckets, &region, "buckets", params),
                |rec| {
                    client
                        .list_buckets()
                        .max_buckets(BUCKETS_PER_PAGE)
                        .set_continuation_token(token.clone())
                        .customize()
                        .interceptor(rec)
                        .send()
                },
            )
            .await
            .ok()?;
        buckets.extend(
            page.buckets().iter().filter_map(|b| {
                Some((b.name()?.to_string(), b.bucket_region().map(str::to_owned)))
            }),
        );
        match page.continuation_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Some(buckets)
}

/// What probing a bucket no account in scope lists found.
pub(crate) enum Probed {
    /// It exists and belongs to an account outside the scope (HeadBucket 403).
    Outside(OutsideScope),
    /// S3 says it does not exist (HeadBucket 404).
    Gone,
    /// The trail's account can read it: its settings were collected from there.
    Readable,
    /// No usable answer (the gap says why).
    Unknown,
}

/// A bucket no account in scope lists, asked about with `HeadBucket` from the account of a trail that
/// names it: 404 is recorded as evidence that it does not exist; 403 means it exists and belongs to
/// someone else (S3 still names its region), which is returned as outside the scope; 200 means this
/// account can read it, so its settings are collected from here.
pub(crate) async fn probe_bucket(c: &Collector, bucket: &str, trail_region: &str) -> Probed {
    let client = c.clients.s3(trail_region);
    let answered: std::sync::Mutex<(Option<u16>, Option<String>)> = Default::default();
    let outcome = c
        .call(
            Call::new(
                Op::HeadBucket,
                trail_region,
                bucket,
                json!({"Bucket": bucket}),
            ),
            |rec| async {
                let result = client
                    .head_bucket()
                    .bucket(bucket)
                    .customize()
                    .interceptor(rec)
                    .send()
                    .await;
                if let Err(e) = &result {
                    if let Some(raw) = e.raw_response() {
                        let region = raw.headers().get("x-amz-bucket-region").map(str::to_owned);
                        *super::lock(&answered) = (Some(raw.status().as_u16()), region);
                    }
                }
                result
            },
        )
        .await;
    match outcome {
        Outcome::Ok(out) => {
            let region = out.bucket_region().unwrap_or(trail_region).to_string();
            bucket_evidence(c, bucket, &region).await;
            Probed::Readable
        }
        Outcome::Gap(_) => match super::lock(&answered).clone() {
            (Some(403), region) => {
                c.withdraw_gap(Op::HeadBucket, bucket);
                Probed::Outside(OutsideScope {
                    kind: OutsideScope::S3_BUCKET.into(),
                    resource: bucket.to_string(),
                    owner: None,
                    region,
                })
            }
            _ => Probed::Unknown,
        },
        Outcome::Absent => Probed::Gone,
    }
}

/// The region S3 reports for a bucket: an empty constraint means us-east-1, the legacy `EU` eu-west-1.
pub(crate) fn bucket_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    }
}

/// Runs one S3 bucket operation through the collector with the standard parameters.
macro_rules! bucket_call {
    ($c:expr, $client:expr, $region:expr, $bucket:expr, $op:ident, $method:ident) => {
        $c.call(Call::new(Op::$op, $region, $bucket, json!({"Bucket": $bucket})), |rec| {
            $client.$method().bucket($bucket).customize().interceptor(rec).send()
        })
    };
}

/// The bucket's location and settings, asked in `region_hint` (the region its owner's ListBuckets
/// gave, or a trail's home region).
/// Returns the bucket's region (the hint when its location could not be read), or `None` when S3
/// said the bucket does not exist.
pub(crate) async fn bucket_evidence(
    c: &Collector,
    bucket: &str,
    region_hint: &str,
) -> Option<String> {
    let client = c.clients.s3(region_hint);
    let location = bucket_call!(
        c,
        client,
        region_hint,
        bucket,
        GetBucketLocation,
        get_bucket_location
    )
    .await;
    let region = match location {
        Outcome::Ok(out) => bucket_region(out.location_constraint.as_ref().map(|l| l.as_str())),
        // A bucket that does not exist has no further evidence to give.
        Outcome::Absent => return None,
        Outcome::Gap(_) => region_hint.to_string(),
    };
    let client = c.clients.s3(&region);
    let region = region.as_str();
    tokio::join!(
        bucket_call!(
            c,
            client,
            region,
            bucket,
            GetBucketEncryption,
            get_bucket_encryption
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            GetBucketVersioning,
            get_bucket_versioning
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            GetBucketLogging,
            get_bucket_logging
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            GetPublicAccessBlock,
            get_public_access_block
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            GetObjectLockConfiguration,
            get_object_lock_configuration
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            GetBucketPolicyStatus,
            get_bucket_policy_status
        ),
    );
    Some(region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_location_means_us_east_1() {
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("ap-south-1")), "ap-south-1");
    }
}
