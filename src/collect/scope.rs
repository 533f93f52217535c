//! Who is collecting and where: STS GetCallerIdentity, Organizations ListAccounts, STS AssumeRole into
//! member accounts and EC2 DescribeRegions.

use super::{CollectError, Collector, Outcome};
use crate::config::{AccountId, AccountTarget, RoleSettings};
use aws_types::sdk_config::SharedCredentialsProvider;
use aws_types::SdkConfig;
use serde_json::json;

/// Bound on ListAccounts pages (20 accounts each at most): far beyond the largest organisations.
const MAX_ACCOUNT_PAGES: usize = 5_000;
/// The most accounts ListAccounts returns per page.
const ACCOUNTS_PER_PAGE: i32 = 20;
/// Lifetime asked for the member-account sessions. Every call in an account is made soon after entering
/// it, so the shortest session STS allows is enough and leaves the least behind.
const SESSION_SECONDS: i32 = 3_600;

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

/// Every active account of the caller's organisation, in the order ListAccounts gives them. Each page is
/// recorded. Fails (nothing to collect) when the organisation cannot be listed.
pub(crate) async fn organization_accounts(
    c: &Collector,
) -> Result<Vec<AccountTarget>, CollectError> {
    let region = c.clients.home_region();
    let conf = aws_sdk_organizations::config::Builder::from(&c.clients.sdk).build();
    let client = aws_sdk_organizations::Client::from_conf(conf);
    let mut accounts = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_ACCOUNT_PAGES {
        let token = next_token.take();
        let outcome = c
            .call(
                "organizations",
                "ListAccounts",
                &region,
                "organization",
                json!({"MaxResults": ACCOUNTS_PER_PAGE, "NextToken": token}),
                |rec| {
                    client
                        .list_accounts()
                        .max_results(ACCOUNTS_PER_PAGE)
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(rec)
                        .send()
                },
            )
            .await;
        let Outcome::Ok(page) = outcome else {
            return Err(CollectError::NoOrganization {
                region,
                message: last_gap_message(c),
            });
        };
        for account in page.accounts() {
            let active = match (account.state(), account.status()) {
                (Some(state), _) => *state == aws_sdk_organizations::types::AccountState::Active,
                (None, Some(status)) => {
                    *status == aws_sdk_organizations::types::AccountStatus::Active
                }
                (None, None) => true,
            };
            let Some(id) = account.id() else { continue };
            if !active {
                tracing::info!(account = id, "skipping an account that is not active");
                continue;
            }
            match AccountId::parse("organizations:ListAccounts", id) {
                Ok(id) => accounts.push(AccountTarget {
                    id,
                    name: account.name().map(str::to_owned),
                }),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => return Ok(accounts),
        }
    }
    Err(CollectError::NoOrganization {
        region,
        message: format!("ListAccounts returned more than {MAX_ACCOUNT_PAGES} pages"),
    })
}

/// Enters a member account with `sts:AssumeRole`. The answer is recorded with its credentials
/// redacted. `None` when the role could not be assumed: the call's gap says why.
pub(crate) async fn assume_role(
    c: &Collector,
    account: &AccountId,
    role: &RoleSettings,
    session_name: &str,
) -> Option<SdkConfig> {
    let region = c.clients.home_region();
    let role_arn = role.role_name.arn_in(&c.partition(), account);
    let conf = aws_sdk_sts::config::Builder::from(&c.clients.sdk).build();
    let client = aws_sdk_sts::Client::from_conf(conf);
    let outcome = c
        .call(
            "sts",
            "AssumeRole",
            &region,
            &role_arn,
            json!({
                "RoleArn": role_arn,
                "RoleSessionName": session_name,
                "DurationSeconds": SESSION_SECONDS,
                "ExternalId": role.external_id.as_ref().map(|_| "(set)"),
            }),
            |rec| {
                client
                    .assume_role()
                    .role_arn(&role_arn)
                    .role_session_name(session_name)
                    .duration_seconds(SESSION_SECONDS)
                    .set_external_id(role.external_id.clone())
                    .customize()
                    .interceptor(rec)
                    .send()
            },
        )
        .await;
    let credentials = outcome.ok()?.credentials?;
    let expiry = std::time::SystemTime::try_from(credentials.expiration).ok();
    let credentials = aws_sdk_sts::config::Credentials::new(
        credentials.access_key_id,
        credentials.secret_access_key,
        Some(credentials.session_token),
        expiry,
        "auditpack-assume-role",
    );
    Some(
        c.clients
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build(),
    )
}

pub(crate) fn last_gap_message(c: &Collector) -> String {
    let gaps = super::lock(&c.run.gaps);
    gaps.last()
        .map(|g| format!("{}: {}", g.error_code, g.message))
        .unwrap_or_else(|| "no answer".into())
}
