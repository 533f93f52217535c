//! Each account's regions, from the Account Management API: `account:ListRegions`, or, when that is
//! refused, `account:GetRegionOptStatus` for each region auditpack knows.

use super::{Call, CollectError, Collector, Outcome};
use crate::evidence::Op;
use aws_sdk_account::operation::list_regions::ListRegionsOutput;
use serde_json::json;

/// Most ListRegions pages read for one account (50 regions a page; AWS has about 40 regions).
const MAX_REGION_PAGES: usize = 20;

/// How an account's regions were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegionSource {
    /// `account:ListRegions`: the account's own list.
    Listed,
    /// `account:GetRegionOptStatus` for each region auditpack knows ([`crate::aws::regions`]),
    /// because ListRegions was refused.
    Probed,
}

/// Whether a region's opt status means it accepts calls: `ENABLED`, `ENABLED_BY_DEFAULT` and
/// `DISABLING` (usable until the change completes); not `ENABLING` or `DISABLED`.
fn usable(status: Option<&aws_sdk_account::types::RegionOptStatus>) -> bool {
    use aws_sdk_account::types::RegionOptStatus;
    matches!(
        status,
        Some(
            RegionOptStatus::Enabled
                | RegionOptStatus::EnabledByDefault
                | RegionOptStatus::Disabling
        )
    )
}

/// Every region the account can use, sorted. From `account:ListRegions` (Account Management API,
/// global endpoint; `account:*` is exempt from Control Tower's region-deny control), every page
/// recorded: it lists every region of the partition with its opt status, so the pack shows which
/// regions were left out and why. When ListRegions is refused (it is not in AWS's SecurityAudit
/// policy), each region auditpack knows is asked with `account:GetRegionOptStatus` (which is); the
/// refusal is then no gap, since the regions were found.
pub(crate) async fn enabled_regions(
    c: &Collector,
) -> Result<(Vec<String>, RegionSource), CollectError> {
    let region = c.clients.home_region();
    let conf = aws_sdk_account::config::Builder::from(&c.clients.sdk).build();
    let client = aws_sdk_account::Client::from_conf(conf);
    let mut regions = Vec::new();
    let mut token: Option<String> = None;
    let mut source = RegionSource::Listed;
    for _ in 0..MAX_REGION_PAGES {
        let outcome = c
            .call(
                Call::new(
                    Op::ListRegions,
                    &region,
                    "regions",
                    json!({"MaxResults": 50, "NextToken": token}),
                )
                .requiring("Regions", |out: &ListRegionsOutput| out.regions.is_some()),
                |rec| {
                    client
                        .list_regions()
                        .max_results(50)
                        .set_next_token(token.clone())
                        .customize()
                        .interceptor(rec)
                        .send()
                },
            )
            .await;
        let page = match outcome {
            Outcome::Ok(page) => page,
            Outcome::Gap(listed) if regions.is_empty() && refused(&listed.code) => {
                regions = probe_regions(c, &client, &region)
                    .await
                    .map_err(|message| CollectError::NoRegions {
                        region: region.clone(),
                        message: format!("{listed}; then {message}"),
                    })?;
                c.withdraw_gap(Op::ListRegions, "regions");
                source = RegionSource::Probed;
                break;
            }
            other => {
                return Err(CollectError::NoRegions {
                    region,
                    message: other.failure_text("the account answered that it has no regions"),
                })
            }
        };
        regions.extend(
            page.regions()
                .iter()
                .filter(|r| usable(r.region_opt_status()))
                .filter_map(|r| r.region_name().map(str::to_owned)),
        );
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        Err(CollectError::NoRegions {
            region,
            message: "the answers listed no enabled region".into(),
        })
    } else {
        Ok((regions, source))
    }
}

/// Whether a failed ListRegions is a refusal (or an endpoint that does not know the call) that the
/// per-region question may get past.
fn refused(code: &str) -> bool {
    code.starts_with("AccessDenied")
        || code == "UnauthorizedOperation"
        || code.starts_with("HttpStatus40")
        || code == "UnknownOperationException"
        || code == "InvalidAction"
}

/// `account:GetRegionOptStatus` for each region auditpack knows of the caller's partition, at once.
/// A region whose status could not be read is kept (its gap stays): collecting there costs a few
/// failed calls, leaving it out could hide a trail.
async fn probe_regions(
    c: &Collector,
    client: &aws_sdk_account::Client,
    region: &str,
) -> Result<Vec<String>, String> {
    let known = crate::aws::regions::known_regions(&c.partition());
    if known.is_empty() {
        return Err(format!(
            "auditpack knows no regions of partition {}",
            c.partition()
        ));
    }
    let answers = futures::future::join_all(known.iter().map(|name| async move {
        let outcome = c
            .call(
                Call::new(
                    Op::GetRegionOptStatus,
                    region,
                    name,
                    json!({"RegionName": name}),
                ),
                |rec| {
                    client
                        .get_region_opt_status()
                        .region_name(*name)
                        .customize()
                        .interceptor(rec)
                        .send()
                },
            )
            .await;
        (name, outcome)
    }))
    .await;
    let mut unreadable = Vec::new();
    let mut regions = Vec::new();
    for (name, outcome) in answers {
        match outcome {
            Outcome::Ok(answer) if usable(answer.region_opt_status()) => {
                regions.push(name.to_string())
            }
            Outcome::Ok(_) => {}
            other => {
                unreadable.push(other.failure_text("no such region"));
                regions.push(name.to_string());
            }
        }
    }
    if unreadable.len() == known.len() {
        return Err(format!(
            "account:GetRegionOptStatus failed for every region ({})",
            unreadable[0]
        ));
    }
    Ok(regions)
}
