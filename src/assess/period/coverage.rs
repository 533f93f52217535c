//! Which stretches of time each lookup shows in full, judged from its records alone: every page
//! present and answered, from the first to the one without a `NextToken`, no earlier than Event
//! history keeps (90 days before the answer's own date), and no event that cannot be read. What the
//! pack's header claims about the window is not taken on trust.

use super::events::Unreadable;
use super::timeline::Instant;
use super::words;
use crate::assess::EvidenceLink;
use crate::evidence::history::RETENTION_DAYS;
use crate::evidence::IndexEntry;
use std::collections::{BTreeMap, BTreeSet};

/// One lookup: an event name asked of one account's Event history in one Region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lookup {
    pub account: String,
    pub region: String,
    pub name: String,
}

/// A stretch of time a lookup does not show, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blind {
    pub from: Instant,
    pub to: Instant,
    pub why: String,
}

/// What one lookup shows.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// The stretch it shows in full (`None`: none at all).
    pub from_to: Option<(Instant, Instant)>,
    /// Why it shows less than was asked.
    pub blind: Vec<Blind>,
    /// Its first page, cited when it shows that nothing happened.
    pub first: Option<EvidenceLink>,
    /// It asked from as far back as Event history keeps (90 days before its answer): the time
    /// before that cannot be asked for at all.
    pub from_retention: bool,
}

/// One page of a lookup, as read.
pub struct PageFacts<'a> {
    pub entry: &'a IndexEntry,
    pub link: EvidenceLink,
    /// `Err`: the page is not a usable answer (why).
    pub read: Result<(Option<String>, Vec<Unreadable>), String>,
}

/// How much older than 90 days before its answer a lookup is still taken to show: a collection asks
/// from the start of its period (90 days before the collection began, by default) over the minutes
/// it takes, and AWS documents 90 days of Event history, not the granularity it deletes events at.
const RETENTION_TOLERANCE: Instant = 86_400;

fn param_time(entry: &IndexEntry, name: &str) -> Option<Instant> {
    entry.params.get(name)?.as_str().and_then(words::parse_time)
}

fn sent_token(entry: &IndexEntry) -> Option<String> {
    entry.params.get("NextToken")?.as_str().map(str::to_owned)
}

/// When Event history answered: the answer's `Date`, else when it was received.
fn answered_at(entry: &IndexEntry) -> Option<Instant> {
    entry
        .server_date
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        .map(|d| d.timestamp())
        .or_else(|| words::parse_time(&entry.received_at))
}

/// What one lookup's pages show (pages in call order).
pub fn shown(pages: &[PageFacts<'_>]) -> Shown {
    let by_token: BTreeMap<Option<String>, &PageFacts<'_>> =
        pages.iter().map(|p| (sent_token(p.entry), p)).collect();
    let Some(first) = by_token.get(&None) else {
        return Shown::default().refused("its first page is not in the pack".into());
    };
    let asked = (
        param_time(first.entry, "StartTime"),
        param_time(first.entry, "EndTime"),
    );
    let (Some(start), Some(end)) = asked else {
        return Shown::default().refused(format!(
            "record #{} does not say which times it asked for",
            first.entry.seq
        ));
    };
    let kept_from = answered_at(first.entry).map_or(start, |at| {
        at - RETENTION_DAYS * 86_400 - RETENTION_TOLERANCE
    });
    let mut shown = Shown {
        from_to: Some((start.max(kept_from), end)),
        blind: Vec::new(),
        first: Some(first.link.clone()),
        from_retention: start <= kept_from + 2 * RETENTION_TOLERANCE,
    };
    if kept_from > start {
        shown.blind.push(Blind {
            from: start,
            to: kept_from,
            why: format!(
                "Event history keeps {RETENTION_DAYS} days: it no longer held events before {}",
                words::time(kept_from)
            ),
        });
    }
    let mut page = *first;
    let mut seen: BTreeSet<Option<String>> = BTreeSet::new();
    loop {
        let (next, unreadable) = match &page.read {
            Ok(read) => read,
            Err(why) => return shown.refused(why.clone()),
        };
        for u in unreadable {
            let at = u.at.unwrap_or(start).clamp(start, end);
            shown.blind.push(Blind {
                from: at,
                to: end,
                why: format!(
                    "event {} (record #{}) cannot be read, so what it changed at {} is not known",
                    u.id.as_deref().unwrap_or("without an EventId"),
                    page.entry.seq,
                    words::time(at)
                ),
            });
        }
        let Some(token) = next else { return shown };
        if !seen.insert(Some(token.clone())) {
            return shown.refused(format!(
                "its pages do not end: record #{} gives a NextToken already followed",
                page.entry.seq
            ));
        }
        match by_token.get(&Some(token.clone())) {
            Some(p) => page = p,
            None => {
                return shown.refused(format!(
                    "the page after record #{} is not in the pack",
                    page.entry.seq
                ))
            }
        }
    }
}

impl Shown {
    /// The lookup shows nothing: every event of it is unknown.
    fn refused(mut self, why: String) -> Self {
        let (from, to) = self.from_to.take().unwrap_or((Instant::MIN, Instant::MAX));
        self.blind = vec![Blind { from, to, why }];
        self
    }

    /// The stretches of `[start, end]` the lookup does not show, naming it.
    pub fn blind_in(&self, lookup: &Lookup, start: Instant, end: Instant) -> Vec<Blind> {
        let name = |why: &str| {
            format!(
                "the {} events of account {} in {} are not all known: {why}",
                lookup.name, lookup.account, lookup.region
            )
        };
        let mut out: Vec<Blind> = Vec::new();
        match self.from_to {
            None if self.blind.is_empty() => out.push(Blind {
                from: start,
                to: end,
                why: name("the pack has no LookupEvents of them"),
            }),
            None => {}
            Some((from, to)) => {
                if from > start && !self.blind.iter().any(|b| b.to >= from && b.from <= start) {
                    let why = match self.from_retention {
                        true => format!(
                            "Event history keeps {RETENTION_DAYS} days: they could be asked for \
                             from {} only",
                            words::time(from)
                        ),
                        false => format!("they were asked for from {} only", words::time(from)),
                    };
                    out.push(Blind {
                        from: start,
                        to: from,
                        why: name(&why),
                    });
                }
                if to < end {
                    out.push(Blind {
                        from: to,
                        to: end,
                        why: name(&format!(
                            "they were asked for up to {} only",
                            words::time(to)
                        )),
                    });
                }
            }
        }
        for b in &self.blind {
            let (from, to) = (b.from.max(start), b.to.min(end));
            if from < to || (from == to && b.from <= start) {
                out.push(Blind {
                    from,
                    to,
                    why: name(&b.why),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(seq: u64, token: Option<&str>, date: &str) -> IndexEntry {
        serde_json::from_value(json!({
            "seq": seq, "prev": "", "call": seq, "attempt": 1, "account": "111122223333",
            "service": "cloudtrail", "operation": "LookupEvents", "region": "us-east-1",
            "resource": "StopLogging",
            "params": {"StartTime": "2026-09-01T00:00:00Z", "EndTime": "2026-12-07T00:00:00Z",
                       "NextToken": token, "MaxResults": 50,
                       "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "StopLogging"}]},
            "http_status": 200, "request_id": null, "server_date": date,
            "received_at": "2026-12-07T00:00:01Z", "content_type": null,
            "body": format!("records/{seq:06}.json"), "body_size": 1, "body_sha256": null,
            "error_code": null, "error_message": null, "sdk_error": null
        }))
        .unwrap()
    }

    fn link(seq: u64) -> EvidenceLink {
        EvidenceLink { seq, sha256: None }
    }

    const DATE: &str = "Mon, 07 Dec 2026 00:00:00 GMT";

    #[test]
    fn a_chain_of_pages_to_the_end_shows_what_event_history_kept() {
        let (a, b) = (entry(1, None, DATE), entry(2, Some("t1"), DATE));
        let pages = [
            PageFacts {
                entry: &a,
                link: link(1),
                read: Ok((Some("t1".into()), vec![])),
            },
            PageFacts {
                entry: &b,
                link: link(2),
                read: Ok((None, vec![])),
            },
        ];
        let s = shown(&pages);
        // Asked from 2026-09-01; Event history held 90 days (and a day's tolerance) before 2026-12-07.
        let kept = words::parse_time("2026-09-07T00:00:00Z").unwrap();
        assert_eq!(
            s.from_to,
            Some((kept, words::parse_time("2026-12-07T00:00:00Z").unwrap()))
        );
        assert_eq!(s.blind.len(), 1);
        assert!(
            s.blind[0].why.contains("keeps 90 days"),
            "{}",
            s.blind[0].why
        );
        assert_eq!(s.first, Some(link(1)));
    }

    #[test]
    fn a_missing_failed_or_endless_page_shows_nothing() {
        let a = entry(1, None, DATE);
        let pages = [PageFacts {
            entry: &a,
            link: link(1),
            read: Ok((Some("t1".into()), vec![])),
        }];
        assert!(shown(&pages).blind[0].why.contains("not in the pack"));
        assert_eq!(shown(&pages).from_to, None);
        let b = entry(2, Some("t1"), DATE);
        let pages = [
            PageFacts {
                entry: &a,
                link: link(1),
                read: Ok((Some("t1".into()), vec![])),
            },
            PageFacts {
                entry: &b,
                link: link(2),
                read: Ok((Some("t1".into()), vec![])),
            },
        ];
        assert!(shown(&pages).blind[0].why.contains("do not end"));
        let pages = [PageFacts {
            entry: &a,
            link: link(1),
            read: Err("AccessDeniedException: no".into()),
        }];
        assert_eq!(shown(&pages).blind[0].why, "AccessDeniedException: no");
        assert!(shown(&[]).blind[0].why.contains("first page"));
    }

    #[test]
    fn an_unreadable_event_blinds_the_lookup_from_its_time_on() {
        let a = entry(1, None, DATE);
        let at = words::parse_time("2026-11-01T00:00:00Z").unwrap();
        let pages = [PageFacts {
            entry: &a,
            link: link(1),
            read: Ok((
                None,
                vec![Unreadable {
                    id: Some("e9".into()),
                    at: Some(at),
                }],
            )),
        }];
        let s = shown(&pages);
        let lookup = Lookup {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            name: "StopLogging".into(),
        };
        let blind = s.blind_in(&lookup, at - 100, at + 100);
        assert_eq!(blind.len(), 1);
        assert_eq!((blind[0].from, blind[0].to), (at, at + 100));
        assert!(
            blind[0].why.contains("event e9 (record #1) cannot be read"),
            "{}",
            blind[0].why
        );
        assert!(blind[0]
            .why
            .starts_with("the StopLogging events of account 111122223333 in us-east-1"));
    }
}
