//! When a household changes: the gradual exit (渐退) of people whose income has come to exceed
//! the standard, and the re-determination of a household from before and after facts.

use crate::determination::{determine, Determination, HouseholdFacts, Measure};
use crate::params::{ExitScope, ExitTrigger};
use crate::{dates, Fen, MoneyOverflow, Month, ParameterSet, Tier};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What a change of income means for someone paid the gap to the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "exit", rename_all = "snake_case")]
pub enum ExitDecision {
    /// Still below the standard: nothing exits.
    Stays,
    /// Out of poverty within the set's scope: paid `months` more months, nothing from
    /// `stop_from_month` (001 二(一): "对家庭人均收入超过当地低保标准的,给予6个月的救助渐退期").
    Gradual { months: u32, stop_from_month: Month },
    /// No longer eligible and outside the gradual exit's scope or trigger: exits by the procedure
    /// from the month after (001: "不再符合条件的按程序退出").
    Exits { stop_from_month: Month },
}

/// Who is exiting: a dibao household (urban or rural) or a single-person dibao member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exiting {
    pub tier: Tier,
    pub urban: bool,
}

/// The gradual exit for `who`, whose counted income is now `total` for `members` people (one
/// for a single-person dibao member), found on `on`. The set's rounding, scope, trigger and
/// months decide it.
pub fn gradual_exit(
    p: &ParameterSet,
    who: Exiting,
    total: Fen,
    members: usize,
    on: NaiveDate,
) -> Result<ExitDecision, MoneyOverflow> {
    let measure = Measure::new(p, members)?;
    let standard = p.standard(who.urban);
    if measure.below(total, standard)? {
        return Ok(ExitDecision::Stays);
    }
    let scope = match who.tier {
        Tier::Dibao if who.urban => Some(ExitScope::UrbanDibao),
        Tier::Dibao => Some(ExitScope::RuralDibao),
        Tier::SinglePersonDibao => Some(ExitScope::SinglePersonDibao),
        Tier::Destitute | Tier::RigidExpenditure | Tier::Marginal | Tier::None => None,
    };
    let in_scope = scope.is_some_and(|s| p.gradual_exit_scope.contains(&s));
    let triggered = match p.gradual_exit_trigger {
        ExitTrigger::IncomeAboveStandard => measure.above(total, standard)?,
        ExitTrigger::IncomeAtOrAboveStandard => true,
    };
    Ok(if in_scope && triggered && p.gradual_exit_months > 0 {
        ExitDecision::Gradual {
            months: p.gradual_exit_months,
            stop_from_month: dates::gradual_exit_stop(on, p.gradual_exit_months),
        }
    } else {
        ExitDecision::Exits {
            stop_from_month: Month::of(on).next(),
        }
    })
}

/// A household determined again after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redetermination {
    pub before: Determination,
    pub after: Determination,
    /// The first month paid at the new amount (or not paid, when assistance stops): the month
    /// after the change, as after a death nothing is paid from the next month.
    pub from_month: Month,
    /// Assistance ends (no cash tier after, and no gradual exit).
    pub stops: bool,
    /// Assistance begins (no cash tier before).
    pub starts: bool,
    /// The household's income came above the standard: a gradual exit instead of a stop.
    pub gradual_exit: Option<ExitDecision>,
}

fn pays(t: Tier) -> bool {
    matches!(t, Tier::Dibao | Tier::Destitute | Tier::SinglePersonDibao)
}

/// Determines the household before and after a change that happened in `month` under the set
/// in force, from the month after. A dibao household whose income rises above the standard
/// starts a gradual exit where the set's scope has it; one that falls out otherwise (a member
/// gone, assets) stops.
pub fn redetermine(
    before: &HouseholdFacts,
    after: &HouseholdFacts,
    p: &ParameterSet,
    month: Month,
) -> Result<Redetermination, MoneyOverflow> {
    let b = determine(before, p)?;
    let a = determine(after, p)?;
    let from_month = month.next();
    let mut exit = None;
    if b.tier == Tier::Dibao && !pays(a.tier) && !after.members.is_empty() {
        let total = a
            .per_capita_income
            .checked_mul(i64::try_from(after.members.len()).map_err(|_| MoneyOverflow)?)?;
        let d = gradual_exit(
            p,
            Exiting {
                tier: Tier::Dibao,
                urban: after.urban,
            },
            // The after determination's per-capita figure, already rounded by the set's rule.
            total,
            after.members.len(),
            after.on,
        )?;
        if matches!(d, ExitDecision::Gradual { .. }) {
            exit = Some(d);
        }
    }
    Ok(Redetermination {
        stops: pays(b.tier) && !pays(a.tier) && exit.is_none(),
        starts: !pays(b.tier) && pays(a.tier),
        before: b,
        after: a,
        from_month,
        gradual_exit: exit,
    })
}
