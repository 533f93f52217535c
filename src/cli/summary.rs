//! What `collect` prints when it has written a pack: short at any scale. Accounts, refusals and gaps
//! are counted and grouped by cause, with a few examples and what to do once per cause; the full
//! lists are in `pack.json` (and the reports). `--quiet` prints one line.

use crate::evidence::PackHeader;
use std::path::Path;

/// Up to this many items of a list are shown one per line; past it, a count and examples.
const SHOWN: usize = 8;
/// Examples shown for each kind of gap when there are more than [`SHOWN`] gaps in all.
const EXAMPLES: usize = 2;
/// The longest message shown for one gap (the whole one is in pack.json).
const MESSAGE_CHARS: usize = 160;

/// The summary's lines (printed through `say!`, which makes live characters visible).
pub(crate) fn collect_summary(path: &Path, header: &PackHeader, quiet: bool) -> Vec<String> {
    let c = &header.counts;
    let verdict = if header.complete {
        "complete".to_string()
    } else {
        format!(
            "INCOMPLETE (exit {}): {} evidence gap(s)",
            super::exit::INCOMPLETE,
            header.gaps.len()
        )
    };
    if quiet {
        return vec![format!(
            "Evidence pack written to {}: {} trails, {} KMS keys, {} buckets; {verdict}; details in {}",
            path.display(),
            c.trails,
            c.keys,
            c.buckets,
            path.join(crate::evidence::HEADER_FILE).display()
        )];
    }
    let mut out = vec![
        format!("Evidence pack written to {}", path.display()),
        format!("  pack id   {}", header.pack_id),
        format!(
            "  account   {} (collected as {})",
            header.account_id, header.caller_arn
        ),
    ];
    accounts(header, &mut out);
    out.push(format!(
        "  regions   {} ({})",
        header.regions.len(),
        header.regions.join(", ")
    ));
    out.push(format!(
        "  found     {} trails, {} KMS keys, {} buckets",
        c.trails, c.keys, c.buckets
    ));
    out.push(match &header.history {
        Some(h) => format!(
            "  period    {} to {} ({}): the changes in it read from CloudTrail Event history",
            h.start, h.end, h.source
        ),
        None => "  period    the collection day only (--no-history)".to_string(),
    });
    out.push(format!(
        "  recorded  {} API calls, {} responses",
        c.calls, c.records
    ));
    let blocked: Vec<String> = header
        .blocked_by_policy
        .iter()
        .map(|b| {
            format!(
                "{}:{} in {}{}",
                b.service,
                b.operation,
                b.region,
                in_account(&b.account)
            )
        })
        .collect();
    listed(
        &mut out,
        "blocked",
        "blocked by policy, and the evidence was had another way (not gaps)",
        &blocked,
    );
    let outside: Vec<String> = header
        .outside_scope
        .iter()
        .map(|o| {
            format!(
                "{} {} belongs to {}: {}",
                o.kind,
                o.resource,
                o.owner
                    .as_deref()
                    .map(|o| format!("account {o}, outside this run's scope"))
                    .unwrap_or_else(|| "an account outside this run's scope".into()),
                o.advice()
            )
        })
        .collect();
    listed(
        &mut out,
        "outside",
        "keys and buckets of accounts outside the scope; nothing was asked about them",
        &outside,
    );
    if header.gaps.is_empty() {
        out.push(if header.complete {
            "  gaps      none: the pack is complete".to_string()
        } else {
            format!(
                "  gaps      none, but the pack is INCOMPLETE (exit {}): resources above are outside the scope",
                super::exit::INCOMPLETE
            )
        });
        return out;
    }
    gaps(path, header, &mut out);
    out.push(format!(
        "The pack is INCOMPLETE (exit {}): checks that depend on the missing evidence will be UNKNOWN, \
         and trails in regions that could not be listed are missing. Collect again into a new directory \
         once the causes above are fixed.",
        super::exit::INCOMPLETE
    ));
    out
}

fn in_account(account: &Option<String>) -> String {
    account
        .as_deref()
        .map(|a| format!(" (account {a})"))
        .unwrap_or_default()
}

/// `items` one per line under `label` when few; else their count, the first few and where the rest are.
fn listed(out: &mut Vec<String>, label: &str, what: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    if items.len() <= SHOWN {
        for item in items {
            out.push(format!("  {label:<9} {item}"));
        }
        return;
    }
    out.push(format!("  {label:<9} {} {what}, e.g.:", items.len()));
    for item in items.iter().take(EXAMPLES) {
        out.push(format!("    - {item}"));
    }
    out.push(format!(
        "    ... and {} more (pack.json lists them all)",
        items.len() - EXAMPLES
    ));
}

fn accounts(header: &PackHeader, out: &mut Vec<String>) {
    if header.accounts.len() <= 1 && header.accounts.iter().all(|a| a.collected) {
        return;
    }
    let missed: Vec<_> = header.accounts.iter().filter(|a| !a.collected).collect();
    out.push(format!(
        "  accounts  {} in scope, {} collected{}",
        header.accounts.len(),
        header.accounts.len() - missed.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!(", {} NOT collected (their gaps say why)", missed.len())
        }
    ));
    let name = |a: &crate::evidence::AccountRecord| {
        format!(
            "{}{}",
            a.account_id,
            a.name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        )
    };
    if header.accounts.len() <= SHOWN {
        for a in &header.accounts {
            let state = if a.collected {
                format!("collected in {} regions", a.regions.len())
            } else {
                "NOT collected (see the gaps below)".to_string()
            };
            out.push(format!("    - {}: {state}", name(a)));
        }
    } else if !missed.is_empty() {
        let shown: Vec<String> = missed.iter().take(SHOWN).map(|a| name(a)).collect();
        let more = missed.len().saturating_sub(SHOWN);
        out.push(format!(
            "    not collected: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
}

/// A gap's message, short: its first line, at most [`MESSAGE_CHARS`] characters.
fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= MESSAGE_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(MESSAGE_CHARS).collect();
    format!("{}...", cut.trim_end())
}

fn gaps(path: &Path, header: &PackHeader, out: &mut Vec<String>) {
    let kinds = crate::evidence::gap_kinds(&header.gaps);
    let all = header.gaps.len() <= SHOWN;
    out.push(format!(
        "  gaps      {} (evidence that could not be collected), {} kind(s){}:",
        header.gaps.len(),
        kinds.len(),
        if all {
            String::new()
        } else {
            format!(
                "; every one is in {} (\"gaps\")",
                path.join(crate::evidence::HEADER_FILE).display()
            )
        }
    ));
    for kind in &kinds {
        let gaps = &kind.gaps;
        out.push(format!(
            "    {} x {}:{} {}, in {} account(s) and {} region(s)",
            gaps.len(),
            kind.service,
            kind.operation,
            kind.error_code,
            kind.accounts(),
            kind.regions()
        ));
        let shown = if all { gaps.len() } else { EXAMPLES };
        for gap in gaps.iter().take(shown) {
            out.push(format!(
                "      - {} in {}{}: {}",
                gap.resource,
                gap.region,
                in_account(&gap.account),
                short(&gap.message)
            ));
        }
        if gaps.len() > shown {
            out.push(format!("      ... and {} more", gaps.len() - shown));
        }
        out.push(format!(
            "      what to do: {}",
            crate::evidence::gap_advice(gaps[0], header.endpoint_url.as_deref())
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{AccountRecord, Gap};

    fn header(accounts: usize, gaps_per_account: usize) -> PackHeader {
        let sample =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/acme-2026-Q4/pack.json");
        let mut h: PackHeader = serde_json::from_slice(&std::fs::read(sample).unwrap()).unwrap();
        h.accounts = (0..accounts)
            .map(|i| AccountRecord {
                account_id: format!("{:012}", 100_000_000_000u64 + i as u64),
                name: Some(format!("member {i}")),
                source: "organizations:ListAccounts".into(),
                role_arn: None,
                collected: i % 10 != 0,
                regions: vec!["us-east-1".into()],
            })
            .collect();
        h.gaps = h
            .accounts
            .iter()
            .flat_map(|a| {
                (0..gaps_per_account).map(move |i| Gap {
                    account: Some(a.account_id.clone()),
                    service: "s3".into(),
                    operation: if i % 2 == 0 {
                        "GetBucketVersioning"
                    } else {
                        "GetBucketPolicyStatus"
                    }
                    .into(),
                    region: ["us-east-1", "eu-west-1"][i % 2].into(),
                    resource: format!("logs-{}-{i}", a.account_id),
                    call: 0,
                    error_code: "UnparseableResponse".into(),
                    message: "x".repeat(400),
                })
            })
            .collect();
        h.complete = h.gaps.is_empty();
        h
    }

    #[test]
    fn a_hundred_accounts_with_four_hundred_gaps_fit_on_one_screen() {
        let h = header(101, 4);
        let lines = collect_summary(Path::new("packs/q4"), &h, false);
        assert!(
            lines.len() <= 30,
            "{} lines:\n{}",
            lines.len(),
            lines.join("\n")
        );
        assert!(
            lines.iter().all(|l| l.chars().count() <= 260),
            "{}",
            lines.join("\n")
        );
        let text = lines.join("\n");
        assert!(
            text.contains("101 in scope, 90 collected, 11 NOT collected"),
            "{text}"
        );
        assert!(
            text.contains("404 (evidence that could not be collected), 2 kind(s)"),
            "{text}"
        );
        assert!(text.contains("202 x s3:GetBucketVersioning UnparseableResponse, in 101 account(s) and 1 region(s)"), "{text}");
        assert!(text.contains("... and 200 more"), "{text}");
        assert!(text.contains("packs/q4/pack.json"), "{text}");
        // What to do is said once per kind.
        assert_eq!(text.matches("what to do:").count(), 2, "{text}");
    }

    #[test]
    fn a_small_run_lists_every_gap_and_quiet_is_one_line() {
        let h = header(1, 3);
        let text = collect_summary(Path::new("p"), &h, false).join("\n");
        assert_eq!(text.matches("      - logs-").count(), 3, "{text}");
        assert!(!text.contains("... and"), "{text}");
        let quiet = collect_summary(Path::new("p"), &h, true);
        assert_eq!(quiet.len(), 1);
        assert!(
            quiet[0].contains("INCOMPLETE (exit 3): 3 evidence gap(s)"),
            "{quiet:?}"
        );
    }
}
