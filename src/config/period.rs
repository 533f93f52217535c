//! The period a collection proves: `--since`, `--period` or the default 90 days, resolved against the
//! moment the command starts, and refused before any AWS call when Event history cannot hold any of
//! it.

use super::InvalidValue;
use crate::evidence::history::{HistoryWindow, RETENTION_DAYS};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// The window of a collection's Event history lookups, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    /// The period judged.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// How it was chosen, as `pack.json` says it.
    pub source: String,
    /// What is asked of Event history: from `lookup_start` to `lookup_end` (the collection's start).
    pub lookup_start: DateTime<Utc>,
    pub lookup_end: DateTime<Utc>,
}

impl HistorySettings {
    /// The window as `pack.json` records it.
    pub fn window(&self) -> HistoryWindow {
        HistoryWindow {
            start: rfc3339(self.start),
            end: rfc3339(self.end),
            source: self.source.clone(),
            lookup_start: rfc3339(self.lookup_start),
            lookup_end: rfc3339(self.lookup_end),
        }
    }

    /// The part of the period older than Event history keeps, if any.
    pub fn beyond_history(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        (self.start < self.lookup_start).then_some((self.start, self.lookup_start))
    }
}

/// RFC 3339 in UTC to the second, as the pack writes window times.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodChoice {
    /// The 90 days before collection.
    Default,
    /// `--since DATE`: from then to the collection.
    Since(String),
    /// `--period YYYY-Qn`: that calendar quarter, ending at the collection if it has not ended.
    Quarter(String),
    /// `--no-history`.
    Skip,
}

/// Resolves the choice at `now` (when the command starts). `None` for `--no-history`.
pub fn resolve(
    choice: &PeriodChoice,
    now: DateTime<Utc>,
) -> Result<Option<HistorySettings>, InvalidValue> {
    let now = now.with_nanosecond_zero();
    let kept_from = now - Duration::days(RETENTION_DAYS);
    let (start, end, source) = match choice {
        PeriodChoice::Skip => return Ok(None),
        PeriodChoice::Default => (kept_from, now, "default".to_string()),
        PeriodChoice::Since(text) => {
            let start = parse_since(text)?;
            if start >= now {
                return Err(InvalidValue::new(
                    "--since",
                    text,
                    "a date before now: the period runs from it to the collection",
                ));
            }
            (start, now, format!("--since {text}"))
        }
        PeriodChoice::Quarter(text) => {
            let (start, end) = parse_quarter(text)?;
            if start >= now {
                return Err(InvalidValue::new(
                    "--period",
                    text,
                    "a quarter that has begun: its changes cannot be read before it starts",
                ));
            }
            (start, end.min(now), format!("--period {text}"))
        }
    };
    if end <= kept_from {
        return Err(InvalidValue::new(
            match choice {
                PeriodChoice::Since(_) => "--since",
                _ => "--period",
            },
            match choice {
                PeriodChoice::Since(text) | PeriodChoice::Quarter(text) => text.as_str(),
                _ => "",
            },
            format!(
                "a period that reaches into the last {RETENTION_DAYS} days: Event history keeps only \
                 those, so nothing of a period that ended on {} can be read (collect with \
                 --no-history to record today's state only)",
                end.format("%Y-%m-%d")
            ),
        ));
    }
    Ok(Some(HistorySettings {
        start,
        end,
        source,
        lookup_start: start.max(kept_from),
        lookup_end: now,
    }))
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        Utc.timestamp_opt(self.timestamp(), 0)
            .single()
            .unwrap_or(self)
    }
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<DateTime<Utc>, InvalidValue> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).with_nanosecond_zero())
        .map_err(|_| {
            InvalidValue::new(
                "--since",
                text,
                "a date as YYYY-MM-DD (midnight UTC) or an RFC 3339 time such as 2026-10-01T00:00:00Z",
            )
        })
}

/// `YYYY-Qn`: the quarter's first instant and the next quarter's.
fn parse_quarter(text: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), InvalidValue> {
    let invalid = || {
        InvalidValue::new(
            "--period",
            text,
            "a calendar quarter as YYYY-Qn, e.g. 2026-Q4",
        )
    };
    let (year, quarter) = text.trim().split_once(['-']).ok_or_else(invalid)?;
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let quarter: u32 = quarter
        .strip_prefix(['Q', 'q'])
        .and_then(|q| q.parse().ok())
        .filter(|q| (1..=4).contains(q))
        .ok_or_else(invalid)?;
    if !(2000..=9998).contains(&year) {
        return Err(invalid());
    }
    let first = |year: i32, month: u32| {
        Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .single()
            .ok_or_else(invalid)
    };
    let start = first(year, 3 * quarter - 2)?;
    let end = if quarter == 4 {
        first(year + 1, 1)?
    } else {
        first(year, 3 * quarter + 1)?
    };
    debug_assert_eq!(start.month() % 3, 1);
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_default_is_the_90_days_before_the_collection() {
        let now = at("2026-12-07T22:57:07.5Z");
        let w = resolve(&PeriodChoice::Default, now).unwrap().unwrap();
        assert_eq!(rfc3339(w.start), "2026-09-08T22:57:07Z");
        assert_eq!(rfc3339(w.end), "2026-12-07T22:57:07Z");
        assert_eq!((w.lookup_start, w.lookup_end), (w.start, w.end));
        assert_eq!(w.beyond_history(), None);
        assert_eq!(w.window().source, "default");
    }

    #[test]
    fn a_quarter_ends_at_the_collection_until_it_is_over() {
        let now = at("2026-12-07T10:00:00Z");
        let q4 = resolve(&PeriodChoice::Quarter("2026-Q4".into()), now)
            .unwrap()
            .unwrap();
        assert_eq!(rfc3339(q4.start), "2026-10-01T00:00:00Z");
        assert_eq!(rfc3339(q4.end), "2026-12-07T10:00:00Z");
        assert_eq!(q4.source, "--period 2026-Q4");
        let q3 = resolve(&PeriodChoice::Quarter("2026-q3".into()), now)
            .unwrap()
            .unwrap();
        assert_eq!(rfc3339(q3.end), "2026-10-01T00:00:00Z");
        // Event history reaches back to 2026-09-08: July and August are beyond it.
        assert_eq!(rfc3339(q3.lookup_start), "2026-09-08T10:00:00Z");
        assert_eq!(rfc3339(q3.lookup_end), "2026-12-07T10:00:00Z");
        let (from, to) = q3.beyond_history().unwrap();
        assert_eq!(
            (rfc3339(from), rfc3339(to)),
            ("2026-07-01T00:00:00Z".into(), "2026-09-08T10:00:00Z".into())
        );
    }

    #[test]
    fn since_takes_a_day_or_a_time_and_must_be_in_the_past() {
        let now = at("2026-12-07T10:00:00Z");
        let w = resolve(&PeriodChoice::Since("2026-11-01".into()), now)
            .unwrap()
            .unwrap();
        assert_eq!(rfc3339(w.start), "2026-11-01T00:00:00Z");
        assert_eq!(w.source, "--since 2026-11-01");
        let w = resolve(
            &PeriodChoice::Since("2026-11-01T12:30:00+02:00".into()),
            now,
        )
        .unwrap()
        .unwrap();
        assert_eq!(rfc3339(w.start), "2026-11-01T10:30:00Z");
        for bad in ["2026-12-08", "yesterday", "2026-13-01", ""] {
            let e = resolve(&PeriodChoice::Since(bad.into()), now).unwrap_err();
            assert_eq!(e.flag, "--since", "{bad}");
        }
    }

    #[test]
    fn a_period_event_history_no_longer_holds_is_refused_with_the_way_out() {
        let now = at("2026-12-07T10:00:00Z");
        let e = resolve(&PeriodChoice::Quarter("2026-Q2".into()), now).unwrap_err();
        assert_eq!(e.flag, "--period");
        assert!(e.allowed.contains("ended on 2026-07-01"), "{}", e.allowed);
        assert!(e.allowed.contains("--no-history"), "{}", e.allowed);
        for bad in ["2026-Q5", "2026Q4", "Q4-2026", "2027-Q1"] {
            let e = resolve(&PeriodChoice::Quarter(bad.into()), now).unwrap_err();
            assert_eq!(e.flag, "--period", "{bad}");
        }
        assert_eq!(resolve(&PeriodChoice::Skip, now).unwrap(), None);
    }
}
