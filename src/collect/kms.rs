//! KMS: each key a trail names is asked about by the account that owns it (GetKeyPolicy and ListAliases
//! are never allowed across accounts): DescribeKey resolves the reference (ARN, key id or alias), then
//! each distinct key gets GetKeyRotationStatus (where rotation applies), GetKeyPolicy and ListAliases.

use super::{Call, Collector};
use crate::evidence::{key_region, Op};
use aws_sdk_kms::operation::{
    describe_key::DescribeKeyOutput, get_key_policy::GetKeyPolicyOutput,
    list_aliases::ListAliasesOutput,
};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Bound on ListAliases pages for one key; a key with more aliases than this is unheard of.
const MAX_ALIAS_PAGES: usize = 100;

/// Which keys each account already fetched, so a key named by many trails (or by alias and ARN) is
/// fetched once per account.
#[derive(Debug, Default)]
pub(crate) struct KeyTracker {
    /// (account, key ARN)
    pub arns: BTreeSet<(String, String)>,
    pub resolved_refs: usize,
}

pub(crate) async fn key_evidence(
    c: &Collector,
    region: &str,
    key_ref: &str,
    tracker: &Mutex<KeyTracker>,
) {
    let client = c.clients.kms(region);
    let described = c
        .call(
            Call::new(Op::DescribeKey, region, key_ref, json!({"KeyId": key_ref}))
                .requiring("KeyMetadata", |out: &DescribeKeyOutput| {
                    out.key_metadata.is_some()
                }),
            |rec| {
                client
                    .describe_key()
                    .key_id(key_ref)
                    .customize()
                    .interceptor(rec)
                    .send()
            },
        )
        .await;
    let Some(meta) = described.ok().and_then(|out| out.key_metadata) else {
        return;
    };
    let rotates = rotation_applies(&meta);
    let arn = meta.arn.clone().unwrap_or_else(|| meta.key_id.clone());
    let first = {
        let mut tracker = super::lock(tracker);
        tracker.resolved_refs += 1;
        tracker
            .arns
            .insert((c.account.clone().unwrap_or_default(), arn.clone()))
    };
    if !first {
        return;
    }
    let region = key_region(&arn, region);
    let client = c.clients.kms(&region);
    let rotation = async {
        if !rotates {
            return;
        }
        c.call(
            Call::new(
                Op::GetKeyRotationStatus,
                &region,
                &arn,
                json!({"KeyId": arn}),
            ),
            |rec| {
                client
                    .get_key_rotation_status()
                    .key_id(&arn)
                    .customize()
                    .interceptor(rec)
                    .send()
            },
        )
        .await;
    };
    let policy = c.call(
        Call::new(
            Op::GetKeyPolicy,
            &region,
            &arn,
            json!({"KeyId": arn, "PolicyName": "default"}),
        )
        .requiring("Policy", |out: &GetKeyPolicyOutput| out.policy.is_some()),
        |rec| {
            client
                .get_key_policy()
                .key_id(&arn)
                .policy_name("default")
                .customize()
                .interceptor(rec)
                .send()
        },
    );
    let aliases = list_aliases(c, &client, &region, &arn, &meta.key_id);
    tokio::join!(rotation, policy, aliases);
}

/// Whether AWS KMS rotates the key automatically at all: only symmetric encryption keys whose key
/// material KMS generated (`Origin` `AWS_KMS`). Imported material (`EXTERNAL`) and keys in custom key
/// stores (`AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`) cannot have automatic rotation, and
/// GetKeyRotationStatus refuses them (KMS developer guide, "Rotating AWS KMS keys"); the assessment
/// decides their rotation check from DescribeKey alone.
pub(crate) fn rotation_applies(meta: &aws_sdk_kms::types::KeyMetadata) -> bool {
    use aws_sdk_kms::types::{KeySpec, OriginType};
    meta.origin() == Some(&OriginType::AwsKms)
        && meta.key_spec() == Some(&KeySpec::SymmetricDefault)
}

async fn list_aliases(
    c: &Collector,
    client: &aws_sdk_kms::Client,
    region: &str,
    arn: &str,
    key_id: &str,
) {
    let mut marker: Option<String> = None;
    for _ in 0..MAX_ALIAS_PAGES {
        let params = match &marker {
            Some(m) => json!({"KeyId": key_id, "Marker": m}),
            None => json!({"KeyId": key_id}),
        };
        let page = c
            .call(
                Call::new(Op::ListAliases, region, arn, params)
                    .requiring("Aliases", |out: &ListAliasesOutput| out.aliases.is_some()),
                |rec| {
                    client
                        .list_aliases()
                        .key_id(key_id)
                        .set_marker(marker.clone())
                        .customize()
                        .interceptor(rec)
                        .send()
                },
            )
            .await;
        match page.ok() {
            Some(out) if out.truncated && out.next_marker.is_some() => marker = out.next_marker,
            _ => return,
        }
    }
}
