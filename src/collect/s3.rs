//! S3: for each distinct trail bucket, its location and then the settings an assessor asks about.

use super::{Collector, Outcome};
use serde_json::json;

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
    ($c:expr, $client:expr, $region:expr, $bucket:expr, $op:literal, $method:ident) => {
        $c.call("s3", $op, $region, $bucket, json!({"Bucket": $bucket}), |rec| {
            $client.$method().bucket($bucket).customize().interceptor(rec).send()
        })
    };
}

pub(crate) async fn bucket_evidence(c: &Collector, bucket: &str, trail_region: &str) {
    let client = c.clients.s3(trail_region);
    let location = bucket_call!(
        c,
        client,
        trail_region,
        bucket,
        "GetBucketLocation",
        get_bucket_location
    )
    .await;
    let region = match location {
        Outcome::Ok(out) => bucket_region(out.location_constraint.as_ref().map(|l| l.as_str())),
        // A bucket that does not exist has no further evidence to give.
        Outcome::Gap(code) if code == "NoSuchBucket" => return,
        _ => trail_region.to_string(),
    };
    let client = c.clients.s3(&region);
    let region = region.as_str();
    tokio::join!(
        bucket_call!(
            c,
            client,
            region,
            bucket,
            "GetBucketEncryption",
            get_bucket_encryption
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            "GetBucketVersioning",
            get_bucket_versioning
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            "GetBucketLogging",
            get_bucket_logging
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            "GetPublicAccessBlock",
            get_public_access_block
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            "GetObjectLockConfiguration",
            get_object_lock_configuration
        ),
        bucket_call!(
            c,
            client,
            region,
            bucket,
            "GetBucketPolicyStatus",
            get_bucket_policy_status
        ),
    );
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
