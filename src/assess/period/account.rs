//! An account over the period: at every moment, whether each of its Regions was recorded by a trail
//! that existed, was logging and was encrypted with a usable KMS key CloudTrail could use: its own
//! trails, the organisation trails it lists, and the trails deleted during the period.

use super::timeline::{stretches, Instant, Stretch};
use super::trail::{Moment, Phase, TrailPeriod};
use std::collections::BTreeMap;

/// A trail that may record the account's Regions.
pub struct Coverer<'a> {
    /// How reasons name it.
    pub name: String,
    pub home_region: String,
    pub period: &'a TrailPeriod,
}

/// The account at one stretch of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub phase: Phase,
    /// Regions no trail recorded (for a FAIL), or whose recording cannot be told (UNKNOWN).
    pub regions: Vec<String>,
    /// Why, in words: what the trails that could have recorded them were.
    pub why: String,
    /// The latest change that brought it about.
    pub cause: Option<usize>,
}

/// The account's coverage over the period.
pub type AccountPeriod = Vec<Stretch<Cover>>;

impl TrailPeriod {
    /// The trail at `t` (the stretch that holds it).
    pub fn moment_at(&self, t: Instant) -> Option<&Moment> {
        let i = self.stretches.partition_point(|s| s.from <= t);
        i.checked_sub(1).map(|i| &self.stretches[i].verdict)
    }
}

/// How one trail stands for one Region at one moment.
enum Records {
    Yes,
    Maybe(String),
    No(String, Option<usize>),
}

fn records(c: &Coverer<'_>, region: &str, t: Instant) -> Records {
    let Some(m) = c.period.moment_at(t) else {
        return Records::Maybe(format!("{} has no verdict at that time", c.name));
    };
    let reaches = match m.multi_region {
        _ if c.home_region == region => Some(true),
        Some(multi) => Some(multi),
        None => None,
    };
    match (m.phase, reaches) {
        (Phase::Absent, _) => Records::No(String::new(), m.cause),
        (_, Some(false)) => Records::No(String::new(), None),
        (Phase::Fail, _) => Records::No(format!("{}: {}", c.name, m.why), m.cause),
        (Phase::Pass, Some(true)) => Records::Yes,
        (Phase::Pass, None) => Records::Maybe(format!(
            "whether {} recorded every Region is not known",
            c.name
        )),
        (Phase::Unknown, _) => Records::Maybe(format!("{}: {}", c.name, m.why)),
    }
}

/// The account at `t`; `unlisted` holds the regions whose trails could not be listed, and why.
fn cover_at(
    regions: &[String],
    unlisted: &BTreeMap<String, String>,
    coverers: &[Coverer<'_>],
    t: Instant,
) -> Cover {
    let mut failing: Vec<String> = Vec::new();
    let mut undecided: Vec<String> = Vec::new();
    let mut whys: Vec<String> = Vec::new();
    let mut maybes: Vec<String> = Vec::new();
    let mut cause = None;
    for region in regions {
        let mut best: Option<Records> = None;
        for c in coverers {
            match records(c, region, t) {
                Records::Yes => {
                    best = Some(Records::Yes);
                    break;
                }
                Records::Maybe(why) => {
                    if !maybes.contains(&why) {
                        maybes.push(why.clone());
                    }
                    if !matches!(best, Some(Records::Maybe(_))) {
                        best = Some(Records::Maybe(why));
                    }
                }
                Records::No(why, c) => {
                    cause = cause.max(c);
                    if !why.is_empty() && !whys.contains(&why) {
                        whys.push(why);
                    }
                    best.get_or_insert(Records::No(String::new(), None));
                }
            }
        }
        match (best, unlisted.get(region)) {
            (Some(Records::Yes), _) => {}
            (Some(Records::Maybe(_)), _) => undecided.push(region.clone()),
            // A trail homed there may be missing from the evidence.
            (_, Some(why)) => {
                let why = format!("the trails of {region} could not be listed: {why}");
                if !maybes.contains(&why) {
                    maybes.push(why);
                }
                undecided.push(region.clone());
            }
            _ => failing.push(region.clone()),
        }
    }
    if !failing.is_empty() {
        let why = if whys.is_empty() {
            "no trail existed to record them".to_string()
        } else {
            whys.join("; ")
        };
        return Cover {
            phase: Phase::Fail,
            regions: failing,
            why,
            cause,
        };
    }
    if !undecided.is_empty() {
        return Cover {
            phase: Phase::Unknown,
            regions: undecided,
            why: maybes.join("; "),
            cause: None,
        };
    }
    Cover {
        phase: Phase::Pass,
        regions: Vec::new(),
        why: String::new(),
        cause: None,
    }
}

/// The account's Regions over `[start, end]`, recorded by `coverers`; `unlisted` holds the regions
/// whose trails could not be listed, and why.
pub fn account_coverage(
    start: Instant,
    end: Instant,
    regions: &[String],
    unlisted: &BTreeMap<String, String>,
    coverers: &[Coverer<'_>],
) -> AccountPeriod {
    let cuts: Vec<Instant> = coverers
        .iter()
        .flat_map(|c| c.period.stretches.iter().map(|s| s.from))
        .collect();
    let mut merged: AccountPeriod = Vec::new();
    // Neighbours that fail the same Regions for the same reason are one stretch, begun by the
    // first's change (a deletion, then a re-creation not yet logging).
    for s in stretches(start, end, cuts, |t| {
        cover_at(regions, unlisted, coverers, t)
    }) {
        match merged.last_mut() {
            Some(last)
                if (last.verdict.phase, &last.verdict.regions, &last.verdict.why)
                    == (s.verdict.phase, &s.verdict.regions, &s.verdict.why) =>
            {
                last.to = s.to;
            }
            _ => merged.push(s),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(_arn: &str, parts: &[(Instant, Instant, Phase, Option<bool>)]) -> TrailPeriod {
        TrailPeriod {
            stretches: parts
                .iter()
                .map(|&(from, to, phase, multi)| Stretch {
                    from,
                    to,
                    verdict: Moment {
                        phase,
                        why: if phase == Phase::Fail {
                            "the trail named no KMS key".into()
                        } else {
                            String::new()
                        },
                        cause: (phase == Phase::Fail).then_some(3),
                        multi_region: multi,
                    },
                })
                .collect(),
            changes: vec![],
            lookups: vec![],
        }
    }

    #[test]
    fn a_region_fails_only_while_no_trail_records_it() {
        let regions = vec!["eu-west-1".to_string(), "us-east-1".to_string()];
        // The multi-region trail fails from 40 to 60; a single-region trail in us-east-1 passes throughout.
        let main = trail(
            "arn:main",
            &[
                (0, 40, Phase::Pass, Some(true)),
                (40, 60, Phase::Fail, Some(true)),
                (60, 100, Phase::Pass, Some(true)),
            ],
        );
        let local = trail("arn:local", &[(0, 100, Phase::Pass, Some(false))]);
        let coverers = [
            Coverer {
                name: "main".into(),
                home_region: "us-east-1".into(),
                period: &main,
            },
            Coverer {
                name: "local".into(),
                home_region: "us-east-1".into(),
                period: &local,
            },
        ];
        let s = account_coverage(0, 100, &regions, &BTreeMap::new(), &coverers);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[1].from, s[1].to, s[1].verdict.phase),
            (40, 60, Phase::Fail)
        );
        assert_eq!(s[1].verdict.regions, vec!["eu-west-1".to_string()]);
        assert_eq!(s[1].verdict.why, "main: the trail named no KMS key");
        assert_eq!(s[1].verdict.cause, Some(3));
        assert_eq!(s[0].verdict.phase, Phase::Pass);
        assert_eq!(s[2].verdict.phase, Phase::Pass);
    }

    #[test]
    fn an_account_without_trails_fails_and_an_undecided_trail_leaves_it_unknown() {
        let regions = vec!["us-east-1".to_string()];
        let s = account_coverage(0, 100, &regions, &BTreeMap::new(), &[]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].verdict.phase, Phase::Fail);
        assert_eq!(s[0].verdict.why, "no trail existed to record them");
        let t = trail("arn:t", &[(0, 100, Phase::Unknown, Some(true))]);
        let s = account_coverage(
            0,
            100,
            &regions,
            &BTreeMap::new(),
            &[Coverer {
                name: "t".into(),
                home_region: "eu-west-1".into(),
                period: &t,
            }],
        );
        assert_eq!(s[0].verdict.phase, Phase::Unknown);
        // A trail that did not exist yet records nothing.
        let late = trail(
            "arn:late",
            &[
                (0, 50, Phase::Absent, None),
                (50, 100, Phase::Pass, Some(true)),
            ],
        );
        let s = account_coverage(
            0,
            100,
            &regions,
            &BTreeMap::new(),
            &[Coverer {
                name: "late".into(),
                home_region: "us-east-1".into(),
                period: &late,
            }],
        );
        assert_eq!((s[0].verdict.phase, s[0].to), (Phase::Fail, 50));
        assert_eq!(s[1].verdict.phase, Phase::Pass);
    }

    #[test]
    fn a_region_whose_trails_could_not_be_listed_is_unknown_never_unrecorded() {
        let regions = vec!["eu-west-3".to_string()];
        let unlisted: BTreeMap<String, String> =
            [("eu-west-3".to_string(), "DescribeTrails failed".to_string())].into();
        let s = account_coverage(0, 100, &regions, &unlisted, &[]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].verdict.phase, Phase::Unknown);
        assert_eq!(
            s[0].verdict.why,
            "the trails of eu-west-3 could not be listed: DescribeTrails failed"
        );
    }
}
