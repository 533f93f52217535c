//! A synthetic pack of N trails for the report benchmark (`benches/report.rs`) and the report's
//! scale tests (`tests/scale.rs`): 3 regions, half the trails encrypted, one key per 50 encrypted
//! trails, one bucket per 10 trails, with response bodies shaped like real ones.
#![allow(dead_code, clippy::too_many_arguments)]

use auditpack::evidence::{
    genesis_hash, CallSpec, Capture, ChainState, Counts, PackHeader, PackWriter, RuleRef, ToolInfo,
    PACK_FORMAT,
};
use serde_json::json;
use std::sync::Arc;

pub const ACCOUNT: &str = "111122223333";
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "us-west-2"];

struct Synth {
    sink: auditpack::evidence::RecordSink,
    call: u64,
}

impl Synth {
    fn record(
        &mut self,
        service: &str,
        operation: &str,
        region: &str,
        resource: &str,
        status: u16,
        body: Vec<u8>,
        error: Option<&str>,
    ) {
        self.call += 1;
        self.sink.record(Capture {
            call: self.call,
            attempt: 1,
            spec: Arc::new(CallSpec {
                account: Some(ACCOUNT.into()),
                service: service.into(),
                operation: operation.into(),
                region: region.into(),
                resource: resource.into(),
                params: json!({}),
            }),
            http_status: Some(status),
            request_id: Some(format!("req-{}", self.call)),
            server_date: Some("Sat, 28 Nov 2026 11:00:00 GMT".into()),
            received_at: "2026-11-28T11:00:00.000000000Z".into(),
            content_type: Some("application/json".into()),
            body: Some(body),
            error_code: error.map(str::to_owned),
            error_message: error.map(|e| format!("{e} (synthetic)")),
            sdk_error: None,
            redacted: None,
        });
    }
}

fn key_arn(region: &str, n: usize) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/00000000-0000-4000-8000-{n:012}")
}

/// Writes the pack of `trails` trails under `dir` and gives its path.
pub fn synthesise(dir: &std::path::Path, trails: usize) -> std::path::PathBuf {
    let pack_id = "01900000-0000-7000-8000-000000000000";
    let writer = PackWriter::create(&dir.join("pack"), pack_id).unwrap();
    let mut s = Synth {
        sink: writer.sink(),
        call: 0,
    };
    let mut keys = std::collections::BTreeSet::new();
    let mut buckets = std::collections::BTreeSet::new();
    for (r, region) in REGIONS.iter().enumerate() {
        let list: Vec<_> = (0..trails)
            .filter(|i| i % REGIONS.len() == r)
            .map(|i| {
                let mut t = json!({
                    "Name": format!("trail-{i:05}"),
                    "S3BucketName": format!("logs-{region}-{}", i / 30),
                    "IncludeGlobalServiceEvents": true,
                    "IsMultiRegionTrail": i % 5 == 0,
                    "HomeRegion": region,
                    "TrailARN": format!("arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/trail-{i:05}"),
                    "LogFileValidationEnabled": i % 3 == 0,
                    "HasCustomEventSelectors": false,
                    "IsOrganizationTrail": false,
                });
                if i % 2 == 0 {
                    t["KmsKeyId"] = json!(key_arn(region, i / 150));
                }
                t
            })
            .collect();
        s.record(
            "cloudtrail",
            "DescribeTrails",
            region,
            region,
            200,
            serde_json::to_vec(&json!({"trailList": list})).unwrap(),
            None,
        );
        for t in &list {
            let arn = t["TrailARN"].as_str().unwrap();
            let status = json!({"IsLogging": t["Name"].as_str().unwrap().ends_with('1'), "LatestDeliveryTime": 1764327600.0});
            s.record(
                "cloudtrail",
                "GetTrailStatus",
                region,
                arn,
                200,
                serde_json::to_vec(&status).unwrap(),
                None,
            );
            s.record(
                "cloudtrail",
                "GetEventSelectors",
                region,
                arn,
                200,
                serde_json::to_vec(&json!({"TrailARN": arn, "EventSelectors": []})).unwrap(),
                None,
            );
            if let Some(key) = t["KmsKeyId"].as_str() {
                if keys.insert(key.to_string()) {
                    let n = keys.len();
                    let meta = json!({"KeyMetadata": {"AWSAccountId": ACCOUNT, "KeyId": key.rsplit('/').next(), "Arn": key,
                        "Enabled": n % 7 != 0, "KeyState": if n % 7 == 0 { "Disabled" } else { "Enabled" }, "KeyManager": "CUSTOMER",
                        "Description": format!("trail key {n}"), "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT"}});
                    s.record(
                        "kms",
                        "DescribeKey",
                        region,
                        key,
                        200,
                        serde_json::to_vec(&meta).unwrap(),
                        None,
                    );
                    s.record(
                        "kms",
                        "GetKeyRotationStatus",
                        region,
                        key,
                        200,
                        serde_json::to_vec(&json!({"KeyRotationEnabled": n % 2 == 0})).unwrap(),
                        None,
                    );
                    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*"}]});
                    s.record(
                        "kms",
                        "GetKeyPolicy",
                        region,
                        key,
                        200,
                        serde_json::to_vec(
                            &json!({"Policy": policy.to_string(), "PolicyName": "default"}),
                        )
                        .unwrap(),
                        None,
                    );
                    s.record(
                        "kms",
                        "ListAliases",
                        region,
                        key,
                        200,
                        br#"{"Aliases": [], "Truncated": false}"#.to_vec(),
                        None,
                    );
                }
            }
            let bucket = t["S3BucketName"].as_str().unwrap();
            if buckets.insert(bucket.to_string()) {
                let n = buckets.len();
                s.record(
                    "s3",
                    "GetBucketLocation",
                    region,
                    bucket,
                    200,
                    format!("<LocationConstraint>{region}</LocationConstraint>").into_bytes(),
                    None,
                );
                if n % 4 == 0 {
                    s.record("s3", "GetBucketEncryption", region, bucket, 404, b"<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code></Error>".to_vec(), Some("ServerSideEncryptionConfigurationNotFoundError"));
                } else {
                    let algorithm = if n % 2 == 0 { "aws:kms" } else { "AES256" };
                    s.record("s3", "GetBucketEncryption", region, bucket, 200, format!("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>").into_bytes(), None);
                }
            }
        }
    }
    let (key_count, bucket_count, calls) = (keys.len() as u64, buckets.len() as u64, s.call);
    drop(s);
    writer
        .finish(|chain: &ChainState| PackHeader {
            format: PACK_FORMAT.into(),
            pack_id: pack_id.into(),
            tool: ToolInfo {
                name: "auditpack".into(),
                version: "bench".into(),
            },
            account_id: ACCOUNT.into(),
            caller_arn: format!("arn:aws:iam::{ACCOUNT}:user/bench"),
            caller_user_id: "AIDABENCH".into(),
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
            regions_source: "--regions".into(),
            endpoint_url: None,
            profile: None,
            started_at: "2026-11-28T11:00:00.000000000Z".into(),
            finished_at: "2026-11-28T11:05:00.000000000Z".into(),
            rule: RuleRef {
                id: "yg4-3in-tkd".into(),
                title: "bench".into(),
                cis_aws: vec![],
                cce: "CCE-78919-8".into(),
                cis_controls_v7: "6".into(),
                references: vec![],
            },
            counts: Counts {
                trails: trails as u64,
                keys: key_count,
                buckets: bucket_count,
                calls,
                records: chain.records,
                gaps: 0,
            },
            chain_genesis: genesis_hash(pack_id),
            chain_head: chain.head.clone(),
            complete: true,
            gaps: vec![],
            accounts: vec![],
            blocked_by_policy: vec![],
            outside_scope: vec![],
            history: None,
        })
        .unwrap()
        .0
}
