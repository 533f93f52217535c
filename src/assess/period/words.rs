//! Times as the period's reasons write them, and read from the pack.

use super::timeline::Instant;

/// RFC 3339, UTC, to the second: `2026-10-28T10:00:00Z`.
pub fn time(at: Instant) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// An RFC 3339 time, to the second.
pub fn parse_time(text: &str) -> Option<Instant> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// "9 days", "3 hours", "45 minutes", "20 seconds": how long a stretch lasted, roughly.
pub fn span(seconds: Instant) -> String {
    let plural = |n: Instant, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match seconds {
        s if s >= 2 * 86_400 => plural(s / 86_400, "day"),
        // A day and a few minutes (a change made the next morning) is a day.
        s if (86_400..86_400 + 3_600).contains(&s) => plural(1, "day"),
        s if s >= 2 * 3_600 => plural(s / 3_600, "hour"),
        s if s >= 120 => plural(s / 60, "minute"),
        s => plural(s.max(0), "second"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_spans_read_as_people_write_them() {
        let t = parse_time("2026-10-28T10:00:00Z").unwrap();
        assert_eq!(time(t), "2026-10-28T10:00:00Z");
        assert_eq!(parse_time("2026-10-28T12:00:00+02:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(span(9 * 86_400 + 5), "9 days");
        assert_eq!(span(86_400), "1 day");
        assert_eq!(span(86_400 + 60), "1 day");
        assert_eq!(span(86_400 + 7_200), "26 hours");
        assert_eq!(span(3 * 3_600), "3 hours");
        assert_eq!(span(61), "61 seconds");
        assert_eq!(span(1), "1 second");
    }
}
