//! The AWS operations auditpack records, named once. Collection records each call under its
//! [`Op`], and the checks look records up by the same [`Op`], so a misspelt operation is a compile
//! error instead of a check that silently finds no evidence and says UNKNOWN.

/// One AWS operation, with its service as the pack names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    GetCallerIdentity,
    AssumeRole,
    ListAccounts,
    ListRegions,
    GetRegionOptStatus,
    DescribeTrails,
    ListTrails,
    GetTrailStatus,
    GetEventSelectors,
    LookupEvents,
    DescribeKey,
    GetKeyRotationStatus,
    GetKeyPolicy,
    ListAliases,
    ListBuckets,
    HeadBucket,
    GetBucketLocation,
    GetBucketEncryption,
    GetBucketVersioning,
    GetBucketLogging,
    GetPublicAccessBlock,
    GetObjectLockConfiguration,
    GetBucketPolicyStatus,
}

impl Op {
    /// Every operation, for lookups by name.
    pub const ALL: [Op; 23] = [
        Op::GetCallerIdentity,
        Op::AssumeRole,
        Op::ListAccounts,
        Op::ListRegions,
        Op::GetRegionOptStatus,
        Op::DescribeTrails,
        Op::ListTrails,
        Op::GetTrailStatus,
        Op::GetEventSelectors,
        Op::LookupEvents,
        Op::DescribeKey,
        Op::GetKeyRotationStatus,
        Op::GetKeyPolicy,
        Op::ListAliases,
        Op::ListBuckets,
        Op::HeadBucket,
        Op::GetBucketLocation,
        Op::GetBucketEncryption,
        Op::GetBucketVersioning,
        Op::GetBucketLogging,
        Op::GetPublicAccessBlock,
        Op::GetObjectLockConfiguration,
        Op::GetBucketPolicyStatus,
    ];

    /// The service, as the pack's `service` field names it (the SDK crate's name).
    pub const fn service(self) -> &'static str {
        match self {
            Op::GetCallerIdentity | Op::AssumeRole => "sts",
            Op::ListAccounts => "organizations",
            Op::ListRegions | Op::GetRegionOptStatus => "account",
            Op::DescribeTrails
            | Op::ListTrails
            | Op::GetTrailStatus
            | Op::GetEventSelectors
            | Op::LookupEvents => "cloudtrail",
            Op::DescribeKey | Op::GetKeyRotationStatus | Op::GetKeyPolicy | Op::ListAliases => {
                "kms"
            }
            _ => "s3",
        }
    }

    /// The operation's name in the API reference, as the pack's `operation` field holds it.
    pub const fn name(self) -> &'static str {
        match self {
            Op::GetCallerIdentity => "GetCallerIdentity",
            Op::AssumeRole => "AssumeRole",
            Op::ListAccounts => "ListAccounts",
            Op::ListRegions => "ListRegions",
            Op::GetRegionOptStatus => "GetRegionOptStatus",
            Op::DescribeTrails => "DescribeTrails",
            Op::ListTrails => "ListTrails",
            Op::GetTrailStatus => "GetTrailStatus",
            Op::GetEventSelectors => "GetEventSelectors",
            Op::LookupEvents => "LookupEvents",
            Op::DescribeKey => "DescribeKey",
            Op::GetKeyRotationStatus => "GetKeyRotationStatus",
            Op::GetKeyPolicy => "GetKeyPolicy",
            Op::ListAliases => "ListAliases",
            Op::ListBuckets => "ListBuckets",
            Op::HeadBucket => "HeadBucket",
            Op::GetBucketLocation => "GetBucketLocation",
            Op::GetBucketEncryption => "GetBucketEncryption",
            Op::GetBucketVersioning => "GetBucketVersioning",
            Op::GetBucketLogging => "GetBucketLogging",
            Op::GetPublicAccessBlock => "GetPublicAccessBlock",
            Op::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            Op::GetBucketPolicyStatus => "GetBucketPolicyStatus",
        }
    }

    /// The operation a record names, if auditpack knows it (older packs hold `ec2:DescribeRegions`).
    pub fn find(service: &str, operation: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|op| op.service() == service && op.name() == operation)
    }

    /// Whether an index entry or gap with these fields records this operation.
    pub fn is(self, service: &str, operation: &str) -> bool {
        self.service() == service && self.name() == operation
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Op;

    #[test]
    fn every_operation_is_found_by_its_names_and_only_by_them() {
        for op in Op::ALL {
            assert_eq!(Op::find(op.service(), op.name()), Some(op));
        }
        assert_eq!(Op::find("ec2", "DescribeRegions"), None);
        assert_eq!(Op::find("s3", "DescribeKey"), None);
        assert_eq!(Op::DescribeKey.to_string(), "kms:DescribeKey");
    }
}
