//! What one fact about a resource was at each moment of the period, rebuilt from the changes Event
//! history recorded and the state collected at the end: a [`Timeline`].
//!
//! Each change is a [`Step`]: the value it left (when the event says), and the value it found when
//! the event proves it (a CancelKeyDeletion only succeeds on a key pending deletion; an UpdateTrail
//! that does not name a KMS key leaves the trail's key as its answer shows it). Between two steps the
//! fact is what the first left, else what the second found; before the first step it is what that
//! step found, else not known; after the last, what it left, else the state collected. Nothing is
//! guessed: where no event and no answer says, the fact is unknown, with the reason.

/// Seconds since the Unix epoch, UTC.
pub type Instant = i64;

/// A fact at some moment: known, or not known for a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known<T> {
    Is(T),
    Unknown(String),
}

impl<T> Known<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Known::Is(value) => Some(value),
            Known::Unknown(_) => None,
        }
    }
}

/// One change to a fact, at `at`; `change` is its place in the period's list of changes.
#[derive(Debug, Clone)]
pub struct Step<T> {
    pub at: Instant,
    /// The value the change found, when the event proves it.
    pub before: Option<T>,
    /// The value the change left, when the event says it.
    pub after: Option<T>,
    pub change: usize,
}

/// A fact over the period: its steps, in time order, and its state at collection.
#[derive(Debug, Clone)]
pub struct Timeline<T> {
    steps: Vec<Step<T>>,
    now: Known<T>,
    /// What the fact is called in reasons ("the trail's KMS key").
    what: String,
}

/// The value of a fact over one stretch of time, and the change that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value<T> {
    pub value: Known<T>,
    /// The change that left this value (`None`: the value held from before the first change, or
    /// comes from the state collected).
    pub since: Option<usize>,
    /// When the value is known from something later than the moment asked about (a later change
    /// that proves what it found, or the state collected: [`Instant::MAX`]): it holds only if no
    /// change in between went unseen.
    pub proven_later: Option<Instant>,
}

impl<T: Clone> Timeline<T> {
    /// A fact with `steps` (in any order) whose state at collection is `now`.
    pub fn new(what: impl Into<String>, mut steps: Vec<Step<T>>, now: Known<T>) -> Self {
        steps.sort_by_key(|s| (s.at, s.change));
        Self {
            steps,
            now,
            what: what.into(),
        }
    }

    /// Every value the fact is shown to take: by its steps and at collection.
    pub fn values(&self) -> impl Iterator<Item = T> + '_ {
        (self.steps.iter())
            .flat_map(|s| [s.before.clone(), s.after.clone()])
            .flatten()
            .chain(self.now.known().cloned())
    }

    /// The times at which the fact may change.
    pub fn boundaries(&self) -> impl Iterator<Item = Instant> + '_ {
        self.steps.iter().map(|s| s.at)
    }

    /// The fact from `at` on, until its next step: a step at `at` counts as done.
    pub fn at(&self, at: Instant) -> Value<T> {
        let done = self.steps.partition_point(|s| s.at <= at);
        let next = self.steps.get(done);
        let last = done.checked_sub(1).map(|i| &self.steps[i]);
        let (value, proven_later) = match (last, next) {
            (
                Some(Step {
                    after: Some(after), ..
                }),
                _,
            ) => (Known::Is(after.clone()), None),
            (
                _,
                Some(Step {
                    before: Some(b),
                    at: when,
                    ..
                }),
            ) => (Known::Is(b.clone()), Some(*when)),
            (Some(last), Some(_)) => (
                Known::Unknown(format!(
                    "what {} was after the change at {} is not in its event",
                    self.what,
                    super::words::time(last.at)
                )),
                None,
            ),
            (None, Some(first)) => (
                Known::Unknown(format!(
                    "no event shows what {} was before its first change in the period, at {}",
                    self.what,
                    super::words::time(first.at)
                )),
                None,
            ),
            (_, None) => (self.now.clone(), Some(Instant::MAX)),
        };
        Value {
            value,
            since: last.map(|s| s.change),
            proven_later,
        }
    }
}

/// A stretch of the period with one verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch<V> {
    pub from: Instant,
    pub to: Instant,
    pub verdict: V,
}

/// Cuts `[start, end]` at `cuts` (any order, any range) and judges each piece by its start; merges
/// neighbours with equal verdicts.
pub fn stretches<V: PartialEq>(
    start: Instant,
    end: Instant,
    cuts: impl IntoIterator<Item = Instant>,
    mut judge: impl FnMut(Instant) -> V,
) -> Vec<Stretch<V>> {
    let mut points: Vec<Instant> = cuts.into_iter().filter(|&t| t > start && t < end).collect();
    points.push(start);
    points.sort_unstable();
    points.dedup();
    let mut out: Vec<Stretch<V>> = Vec::with_capacity(points.len());
    for (i, &from) in points.iter().enumerate() {
        let to = points.get(i + 1).copied().unwrap_or(end);
        let verdict = judge(from);
        match out.last_mut() {
            Some(last) if last.verdict == verdict => last.to = to,
            _ => out.push(Stretch { from, to, verdict }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at: Instant, before: Option<bool>, after: Option<bool>, change: usize) -> Step<bool> {
        Step {
            at,
            before,
            after,
            change,
        }
    }

    #[test]
    fn without_changes_the_collected_state_held_throughout() {
        let t = Timeline::new("logging", vec![], Known::Is(true));
        assert_eq!(t.at(0).value, Known::Is(true));
        assert_eq!(t.at(0).since, None);
    }

    #[test]
    fn each_change_sets_the_fact_until_the_next() {
        // Stopped at 10, started at 20; logging at collection.
        let t = Timeline::new(
            "logging",
            vec![
                step(20, None, Some(true), 1),
                step(10, None, Some(false), 0),
            ],
            Known::Is(true),
        );
        assert_eq!(
            t.at(10),
            Value {
                value: Known::Is(false),
                since: Some(0),
                proven_later: None
            }
        );
        assert_eq!(t.at(15).value, Known::Is(false));
        assert_eq!(
            t.at(20),
            Value {
                value: Known::Is(true),
                since: Some(1),
                proven_later: None
            }
        );
        // Before the first change: a StopLogging does not prove the trail was logging before it.
        assert!(
            matches!(t.at(5).value, Known::Unknown(why) if why.contains("before its first change"))
        );
    }

    #[test]
    fn a_change_that_proves_what_it_found_tells_the_time_before_it() {
        // CancelKeyDeletion found the key pending deletion (false = unusable) and left it disabled.
        let t = Timeline::new(
            "key",
            vec![step(10, Some(false), Some(false), 0)],
            Known::Is(true),
        );
        assert_eq!(t.at(0).value, Known::Is(false));
        // After the last change whose result is not in its event, the collected state.
        let t = Timeline::new("key", vec![step(10, Some(true), None, 0)], Known::Is(false));
        assert_eq!(t.at(12).value, Known::Is(false));
        assert_eq!(t.at(3).value, Known::Is(true));
    }

    #[test]
    fn stretches_merge_equal_neighbours_and_ignore_cuts_outside() {
        let s = stretches(0, 100, [50, 20, 200, -5, 50], |t| t >= 50);
        assert_eq!(
            s,
            vec![
                Stretch {
                    from: 0,
                    to: 50,
                    verdict: false
                },
                Stretch {
                    from: 50,
                    to: 100,
                    verdict: true
                },
            ]
        );
    }
}
