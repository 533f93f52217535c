//! The regions auditpack knows of each partition, for when an account's own list cannot be read:
//! `account:ListRegions` is not in AWS's SecurityAudit policy, while `account:GetRegionOptStatus`
//! is, so a role with only SecurityAudit asks each known region's status instead. A region launched
//! after this list was written is missed on that path, which the pack says (`regions_source`).
//!
//! As of 2026-11, from the AWS General Reference ("AWS Regions") and the partitions of the SDK's
//! endpoint rules.

/// The regions of the `aws` partition.
const AWS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];
const AWS_CN: &[&str] = &["cn-north-1", "cn-northwest-1"];
const AWS_US_GOV: &[&str] = &["us-gov-east-1", "us-gov-west-1"];

/// The known regions of `partition` (`aws`, `aws-cn`, `aws-us-gov`); empty for another partition.
pub fn known_regions(partition: &str) -> &'static [&'static str] {
    match partition {
        "aws" => AWS,
        "aws-cn" => AWS_CN,
        "aws-us-gov" => AWS_US_GOV,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_are_sorted_unique_region_names() {
        for partition in ["aws", "aws-cn", "aws-us-gov"] {
            let regions = super::known_regions(partition);
            assert!(regions.windows(2).all(|w| w[0] < w[1]), "{partition}");
            assert!(
                regions.iter().all(|r| r.split('-').count() >= 3),
                "{partition}"
            );
        }
        assert!(super::known_regions("aws").contains(&"us-east-1"));
        assert!(super::known_regions("aws-iso").is_empty());
    }
}
