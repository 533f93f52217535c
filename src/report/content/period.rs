//! The period the pack proves and the population of changes in it: every change Event history
//! recorded to the pack's trails, KMS keys and buckets, when, by whom, and what it did to the rule,
//! each citing the LookupEvents answer it is in.

use super::{link, long_table, paragraph, row, section};
use crate::assess::{Assessment, ChangeRecord, Effect, PeriodReport, Status};
use crate::report::document::{Block, Cell, Link, Text};

/// What the window was: "the 90 days before collection", "from 2026-10-01 (--since 2026-10-01)".
pub(crate) fn source_words(p: &PeriodReport) -> String {
    match p.source.as_str() {
        "default" => "the 90 days before collection, all that Event history keeps".to_string(),
        other => format!("as asked with {other}"),
    }
}

/// One line saying what the pack proves over time: the headline's second line.
pub(crate) fn period_line(a: &Assessment) -> String {
    match &a.period {
        Some(p) => format!(
            "Period proven: {} to {} ({}), from CloudTrail Event history",
            p.start,
            p.end,
            source_words(p)
        ),
        None => "Period proven: the collection day only (collected without CloudTrail Event \
                 history)"
            .to_string(),
    }
}

/// The tone of an effect in the changes table.
fn tone(effect: Effect) -> Status {
    match effect {
        Effect::Breaks | Effect::Fails => Status::Fail,
        Effect::Restores | Effect::Holds => Status::Pass,
        Effect::Undetermined => Status::Unknown,
        Effect::Supporting | Effect::Refused => Status::NotApplicable,
    }
}

fn change_row(c: &ChangeRecord) -> crate::report::document::Row {
    let effect = match (&c.refused, c.after_period) {
        (Some(error), _) => format!("{} ({error})", c.effect.words()),
        (None, true) => format!("{} (after the period)", c.effect.words()),
        (None, false) => c.effect.words().to_string(),
    };
    row(vec![
        c.time.as_str().into(),
        format!("{} {}", c.account, c.region).into(),
        Cell::from(
            Text::code(if c.resource.is_empty() {
                "—"
            } else {
                &c.resource
            })
            .and(format!(" {}", c.what)),
        ),
        c.event.as_str().into(),
        Text::code(c.who.as_str()).into(),
        Cell::from(effect).tone(tone(c.effect)),
        Cell::from(Text(vec![link(
            format!("#{}", c.evidence.seq),
            Link::Anchor(format!("rec-{}", c.evidence.seq)),
        )])),
    ])
}

/// The section: the window, how many changes of each effect, the deleted trails, every change.
pub(super) fn changes(a: &Assessment, out: &mut dyn FnMut(Block)) {
    out(section("period", "Changes in the period", true));
    let Some(p) = &a.period else {
        out(paragraph(
            "The pack was collected without CloudTrail Event history (--no-history): it proves the \
             rule on the collection day only, and holds no record of changes before it.",
        ));
        return;
    };
    let count = |e: Effect| p.changes.iter().filter(|c| c.effect == e).count();
    out(paragraph(format!(
        "From {} to {} ({}), CloudTrail Event history recorded {} change(s) to the trails, KMS keys \
         and buckets of this pack: {} broke the rule, {} restored it, {} left it holding, {} left it \
         failing, {} cannot be told, {} concern supporting checks only, and {} were refused. Each \
         row cites the LookupEvents answer it is in; findings.json gives each with its event id.",
        p.start,
        p.end,
        source_words(p),
        p.changes.len(),
        count(Effect::Breaks),
        count(Effect::Restores),
        count(Effect::Holds),
        count(Effect::Fails),
        count(Effect::Undetermined),
        count(Effect::Supporting),
        count(Effect::Refused),
    )));
    if !p.deleted_trails.is_empty() {
        out(Block::Note {
            text: Text::plain(format!(
                "{} trail(s) were deleted during the period; the account checks for the period \
                 count them while they existed: ",
                p.deleted_trails.len()
            ))
            .add(
                crate::report::document::Style::Code,
                p.deleted_trails.join(", "),
            ),
        });
    }
    let rows = p.changes.iter().map(|c| Ok::<_, ()>(change_row(c)));
    let _ = long_table(
        out,
        &[
            "Time (UTC)",
            "Account, Region",
            "Resource and change",
            "Event",
            "Who",
            "Effect",
            "Record",
        ],
        &[1.2, 1.1, 2.6, 0.9, 1.6, 1.0, 0.5],
        rows,
    );
}
