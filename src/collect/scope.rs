//! Who is collecting and where: STS GetCallerIdentity and EC2 DescribeRegions.

use super::{CollectError, Collector, Outcome};
use serde_json::json;

/// The identity the evidence was collected as.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

pub(crate) async fn caller_identity(c: &Collector) -> Result<Identity, CollectError> {
    let region = c.clients.home_region();
    let conf = aws_sdk_sts::config::Builder::from(&c.clients.sdk).build();
    let client = aws_sdk_sts::Client::from_conf(conf);
    let outcome = c
        .call(
            "sts",
            "GetCallerIdentity",
            &region,
            "caller",
            json!({}),
            |rec| {
                client
                    .get_caller_identity()
                    .customize()
                    .interceptor(rec)
                    .send()
            },
        )
        .await;
    let failure = |message: String| CollectError::NoIdentity {
        region: region.clone(),
        message,
    };
    match outcome {
        Outcome::Ok(out) => match (out.account, out.arn) {
            (Some(account), Some(arn)) => Ok(Identity {
                account,
                arn,
                user_id: out.user_id.unwrap_or_default(),
            }),
            _ => Err(failure("the response named no account or ARN".into())),
        },
        _ => Err(failure(last_gap_message(c))),
    }
}

/// Every region enabled for the account (opted-in or enabled by default), sorted.
pub(crate) async fn enabled_regions(c: &Collector) -> Result<Vec<String>, CollectError> {
    let region = c.clients.home_region();
    let conf = aws_sdk_ec2::config::Builder::from(&c.clients.sdk).build();
    let client = aws_sdk_ec2::Client::from_conf(conf);
    let outcome = c
        .call(
            "ec2",
            "DescribeRegions",
            &region,
            "regions",
            json!({"AllRegions": false}),
            |rec| {
                client
                    .describe_regions()
                    .all_regions(false)
                    .customize()
                    .interceptor(rec)
                    .send()
            },
        )
        .await;
    match outcome {
        Outcome::Ok(out) => {
            let mut regions: Vec<String> = out
                .regions
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.opt_in_status.as_deref() != Some("not-opted-in"))
                .filter_map(|r| r.region_name)
                .collect();
            regions.sort();
            regions.dedup();
            if regions.is_empty() {
                Err(CollectError::NoRegions {
                    region,
                    message: "the response listed no enabled region".into(),
                })
            } else {
                Ok(regions)
            }
        }
        _ => Err(CollectError::NoRegions {
            region,
            message: last_gap_message(c),
        }),
    }
}

fn last_gap_message(c: &Collector) -> String {
    let gaps = c.gaps.lock().unwrap_or_else(|p| p.into_inner());
    gaps.last()
        .map(|g| format!("{}: {}", g.error_code, g.message))
        .unwrap_or_else(|| "no answer".into())
}
