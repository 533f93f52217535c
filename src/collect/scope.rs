//! Who is collecting and where: STS GetCallerIdentity, Organizations ListAccounts, STS AssumeRole into
//! member accounts.

use super::{lock, Call, CollectError, Collector, Outcome};
use crate::config::{AccountId, AccountTarget, RoleSettings};
use crate::evidence::Op;
use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
use aws_types::sdk_config::SharedCredentialsProvider;
use aws_types::SdkConfig;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Bound on ListAccounts pages (20 accounts each at most): far beyond the largest organisations.
const MAX_ACCOUNT_PAGES: usize = 5_000;
/// The most accounts ListAccounts returns per page.
const ACCOUNTS_PER_PAGE: i32 = 20;
/// Lifetime asked for the member-account sessions: one hour, the most STS grants when the caller is
/// itself a role session (role chaining). A run that outlasts it renews the session (see
/// [`MemberSession`]).
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
            Call::new(Op::GetCallerIdentity, &region, "caller", json!({})),
            |rec| {
                client
                    .get_caller_identity()
                    .customize()
                    .interceptor(rec)
                    .send()
            },
        )
        .await;
    let failure = |message: String, hint| CollectError::NoIdentity {
        region: region.clone(),
        message,
        hint,
    };
    match outcome {
        Outcome::Ok(out) => match (out.account, out.arn) {
            (Some(account), Some(arn)) => Ok(Identity {
                account,
                arn,
                user_id: out.user_id.unwrap_or_default(),
            }),
            _ => Err(failure(
                "the response named no account or ARN".into(),
                identity_hint(super::INCOMPLETE, ""),
            )),
        },
        Outcome::Gap(gap) => Err(failure(
            gap.to_string(),
            identity_hint(&gap.code, &gap.message),
        )),
        Outcome::Absent => Err(failure(
            "STS answered that the caller does not exist".into(),
            identity_hint("", ""),
        )),
    }
}

/// What to do when the caller cannot be identified, by what went wrong: refused credentials, no
/// credentials, no connection, a failing service, or an answer that is not STS's.
pub(crate) fn identity_hint(code: &str, message: &str) -> &'static str {
    const CREDENTIALS: &str = "Give auditpack working credentials: --profile NAME (after `aws sso \
        login` for SSO profiles), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role; for an \
        emulator also pass --endpoint-url";
    let refused = [
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "IncompleteSignature",
        "RequestNotSent",
    ];
    let lower = message.to_ascii_lowercase();
    if refused.contains(&code) || lower.contains("credential") || lower.contains("token") {
        CREDENTIALS
    } else if code == "NoResponse" {
        "STS could not be reached: check the network path to it (proxy, firewall, VPC endpoint) and, \
         with an emulator, the --endpoint-url address and port"
    } else if code.starts_with("HttpStatus5")
        || code.starts_with("Internal")
        || code.starts_with("Throttl")
        || code == "ServiceUnavailable"
    {
        "STS did not answer usably after every retry: try again in a few minutes"
    } else if [super::UNPARSEABLE, super::INCOMPLETE, super::TOO_LARGE].contains(&code) {
        "the answer was not an STS answer: check --endpoint-url (or AWS_ENDPOINT_URL) and any proxy \
         between you and AWS"
    } else {
        CREDENTIALS
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
                Call::new(
                    Op::ListAccounts,
                    &region,
                    "organization",
                    json!({"MaxResults": ACCOUNTS_PER_PAGE, "NextToken": token}),
                )
                .requiring("Accounts", |page: &ListAccountsOutput| {
                    page.accounts.is_some()
                }),
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
        let page = match outcome {
            Outcome::Ok(page) => page,
            other => {
                return Err(CollectError::NoOrganization {
                    message: other.failure_text("the organisation does not exist"),
                    region,
                })
            }
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
/// redacted. `None` when the role could not be assumed: the call's gap says why. The configuration
/// returned renews the session when it nears its end.
pub(crate) async fn assume_role(
    c: &Arc<Collector>,
    account: &AccountId,
    role: &RoleSettings,
    session_name: &str,
) -> Option<SdkConfig> {
    let first = request_session(c, account, role, session_name, false).await?;
    let session = MemberSession {
        caller: c.clone(),
        account: account.clone(),
        role: role.clone(),
        session_name: session_name.to_string(),
        first: Mutex::new(Some(first)),
    };
    // A cache of its own for the account's session: the SDK's shared cache keeps at most 64
    // credential sources, so with more accounts than that it dropped sessions still valid, and every
    // client that next asked for one renewed it with another AssumeRole (2,700 for 100 accounts).
    Some(
        c.clients
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(session))
            .identity_cache(aws_config::identity::IdentityCache::lazy().build())
            .build(),
    )
}

/// One recorded `sts:AssumeRole` call into `account`; a renewal runs outside the concurrency bounds
/// (the calls waiting for it hold permits).
async fn request_session(
    c: &Collector,
    account: &AccountId,
    role: &RoleSettings,
    session_name: &str,
    renewal: bool,
) -> Option<Credentials> {
    let region = c.clients.home_region();
    let role_arn = role.role_name.arn_in(&c.partition(), account);
    let conf = aws_sdk_sts::config::Builder::from(&c.clients.sdk).build();
    let client = aws_sdk_sts::Client::from_conf(conf);
    let params = json!({
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": SESSION_SECONDS,
        "ExternalId": role.external_id.as_ref().map(|_| "(set)"),
    });
    let send = |rec| {
        client
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(session_name)
            .duration_seconds(SESSION_SECONDS)
            .set_external_id(role.external_id.clone())
            .customize()
            .interceptor(rec)
            .send()
    };
    let outcome = c
        .call(
            session_call(
                Call::new(Op::AssumeRole, &region, &role_arn, params),
                renewal,
            ),
            send,
        )
        .await;
    let credentials = outcome.ok()?.credentials?;
    let expiry = std::time::SystemTime::try_from(credentials.expiration).ok();
    Some(Credentials::new(
        credentials.access_key_id,
        credentials.secret_access_key,
        Some(credentials.session_token),
        expiry,
        "auditpack-assume-role",
    ))
}

/// A member account's credentials: the session AssumeRole gave on entering the account, then a new
/// one, from another recorded AssumeRole, each time the SDK's credentials cache finds the current one
/// about to expire. So a run longer than a session keeps its access to every account.
struct MemberSession {
    caller: Arc<Collector>,
    account: AccountId,
    role: RoleSettings,
    session_name: String,
    /// The session from entering the account, handed out once.
    first: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for MemberSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberSession")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for MemberSession {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            if let Some(first) = lock(&self.first).take() {
                return Ok(first);
            }
            tracing::info!(account = %self.account, "the session is ending; assuming the role again");
            request_session(
                &self.caller,
                &self.account,
                &self.role,
                &self.session_name,
                true,
            )
            .await
            .ok_or_else(|| {
                CredentialsError::provider_error(format!(
                    "sts:AssumeRole into account {} failed while renewing its session; the \
                         pack's gaps say why",
                    self.account
                ))
            })
        })
    }
}

/// A renewal's AssumeRole runs outside the concurrency bounds: the calls waiting for the renewed
/// session hold permits it would otherwise wait for.
fn session_call<O>(call: Call<'_, O>, renewal: bool) -> Call<'_, O> {
    if renewal {
        call.unbounded()
    } else {
        call
    }
}
