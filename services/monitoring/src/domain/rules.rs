//! The rules that turn a departmental feed record, matched (or not) with the population
//! database, into actions; and the rules of re-verification. Pure: no I/O, every number from
//! the caller (the parameter set in force). `ops::feeds` applies the actions in one transaction.
//!
//! | feed | the person is enrolled | the person is not in the database |
//! |---|---|---|
//! | `death` | assistance stops from the month after the death (`monitor.household.changed`, `stopped`) + a `death` warning; the others' household determined again (`ops::redetermination`) | nothing |
//! | `serious_illness` | medical referral with the illness + a `rigid_expenditure_review` warning | active-discovery warning |
//! | `unemployment` | employment referral | active-discovery warning |
//! | `student_hardship` | education referral | active-discovery warning |
//! | `disaster_victim` | disaster referral with the damage to the home and displacement | active-discovery warning |
//! | `severe_disability` | when not known before: a `severe_disability` warning (single-person dibao, classified add-on); the household determined again with it | active-discovery warning |
//! | `return_to_poverty` | nothing (already assisted) | active-discovery warning |
//!
//! A person whose assistance has stopped counts as not in the database. The warning goes to the
//! township of the region code the feed gives (its first 9 digits).
//!
//! Death: the texts (seeds/) say nothing of the month; the rule here is that the month of death
//! is paid in full and nothing is paid from the month after it.

use super::{Status, WarningKind};
use chrono::NaiveDate;
use contract::{Circumstances, FeedRecord, FeedSource};
use policy::{Department, Fen, Month, Tier};

/// What the database knows of a person a feed names, when they are enrolled.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// The person's own status.
    pub person_status: Status,
    pub household_status: Status,
    /// Severe disability already known (from determination or an earlier feed record).
    pub known_severe_disability: bool,
}

impl Enrolled {
    /// Still assisted: neither the person nor the household has stopped.
    pub fn assisted(&self) -> bool {
        self.person_status.assisted() && self.household_status.assisted()
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The person's assistance stops: nothing is paid from `stop_from_month` on.
    Stop {
        reason: &'static str,
        stop_from_month: Month,
    },
    /// Push the person to a department, with what the feed said.
    Refer {
        department: Department,
        need: &'static str,
        circumstances: Circumstances,
    },
    /// Ask the township to look.
    Warn {
        kind: WarningKind,
        /// Why, in words, for the township.
        reason: &'static str,
    },
    /// Remember a fact about the person (so a later record does not warn again).
    Remember { fact: &'static str },
}

/// What the rules do with one valid record.
pub fn decide(source: FeedSource, r: &FeedRecord, person: Option<&Enrolled>) -> Vec<Action> {
    let circumstances = || Circumstances {
        source: source.as_str().to_owned(),
        occurred_on: Some(r.occurred_on),
        house_damage: r.house_damage,
        displaced: r.displaced,
        illness: r.illness.clone(),
    };
    let Some(p) = person.filter(|p| p.assisted()) else {
        return if source.suggests_hardship() {
            vec![Action::Warn {
                kind: WarningKind::ActiveDiscovery,
                reason: "a departmental feed names a person in hardship who is not in the low-income population database",
            }]
        } else {
            Vec::new()
        };
    };
    match source {
        FeedSource::Death => vec![
            Action::Stop {
                reason: "death",
                stop_from_month: stop_from_after_death(r.occurred_on),
            },
            Action::Warn {
                kind: WarningKind::Death,
                reason: "an assisted person died: assistance stops from the month after the death; verify and settle the household",
            },
        ],
        FeedSource::SeriousIllness => vec![
            Action::Refer {
                department: Department::Medical,
                need: "serious illness",
                circumstances: circumstances(),
            },
            Action::Warn {
                kind: WarningKind::RigidExpenditureReview,
                reason: "a serious illness raises the household's rigid expenditure: review its tier",
            },
            Action::Remember {
                fact: "serious_illness",
            },
        ],
        FeedSource::Unemployment => vec![Action::Refer {
            department: Department::Employment,
            need: "registered unemployed",
            circumstances: circumstances(),
        }],
        FeedSource::StudentHardship => vec![Action::Refer {
            department: Department::Education,
            need: "a student in hardship",
            circumstances: circumstances(),
        }],
        FeedSource::DisasterVictim => vec![Action::Refer {
            department: Department::Disaster,
            need: "disaster victim",
            circumstances: circumstances(),
        }],
        FeedSource::SevereDisability if !p.known_severe_disability => vec![
            Action::Warn {
                kind: WarningKind::SevereDisability,
                reason: "a new severe disability: review single-person dibao and the classified add-on",
            },
            Action::Remember {
                fact: "severe_disability",
            },
        ],
        FeedSource::SevereDisability | FeedSource::ReturnToPoverty => Vec::new(),
    }
}

pub use policy::dates::stop_from_after_death;

/// What a re-verification says of a household.
#[derive(Debug, Clone)]
pub struct Reverified {
    pub complete: bool,
    pub tier: Tier,
    pub status: Status,
    pub urban: bool,
    /// The sources' monthly incomes of every member, summed.
    pub total_income: Fen,
    pub members: usize,
    pub on: NaiveDate,
}

/// What a re-verification means for a dibao household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reverification {
    /// Out of poverty within the region's gradual exit (渐退): the current amount is paid for
    /// `exit_months` more months, nothing from `stop_from_month`.
    GradualExit {
        exit_months: u32,
        stop_from_month: Month,
    },
    /// No longer below the standard, outside the gradual exit's scope or trigger: exits by the
    /// procedure, nothing from `stop_from_month` (001: "不再符合条件的按程序退出").
    Exit { stop_from_month: Month },
}

/// A dibao household (paid the gap to the standard) whose complete re-verification puts its
/// income no longer below the standard leaves the tier as the region's parameter set says
/// (`policy::gradual_exit`: the set's rounding, `gradual_exit_scope`, `gradual_exit_trigger`
/// and `gradual_exit_months`); still below, nothing happens.
///
/// An incomplete report decides nothing: a source that did not answer is a gap, not a zero.
pub fn after_reverification(
    r: &Reverified,
    p: &policy::ParameterSet,
) -> Result<Option<Reverification>, policy::MoneyOverflow> {
    if !r.complete || r.tier != Tier::Dibao || r.status != Status::Active || r.members == 0 {
        return Ok(None);
    }
    let who = policy::redetermination::Exiting {
        tier: Tier::Dibao,
        urban: r.urban,
    };
    Ok(
        match policy::gradual_exit(p, who, r.total_income, r.members, r.on)? {
            policy::ExitDecision::Stays => None,
            policy::ExitDecision::Gradual {
                months,
                stop_from_month,
            } => Some(Reverification::GradualExit {
                exit_months: months,
                stop_from_month,
            }),
            policy::ExitDecision::Exits { stop_from_month } => {
                Some(Reverification::Exit { stop_from_month })
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::HouseDamage;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn record() -> FeedRecord {
        FeedRecord {
            record_id: "r1".into(),
            id_number: "410102198001010011".into(),
            region_code: policy::RegionCode::parse("410102001001").unwrap(),
            occurred_on: date("2026-03-31"),
            illness: Some("malignant tumour".into()),
            house_damage: Some(HouseDamage::Collapsed),
            displaced: true,
            disability_grade: None,
        }
    }

    fn enrolled(person: Status, household: Status, disabled: bool) -> Enrolled {
        Enrolled {
            person_status: person,
            household_status: household,
            known_severe_disability: disabled,
        }
    }

    /// (source, person, expected: kinds of actions as short names)
    #[test]
    fn each_feed_and_match_gives_its_actions() {
        let active = enrolled(Status::Active, Status::Active, false);
        let exiting = enrolled(Status::Exiting, Status::Exiting, false);
        let disabled = enrolled(Status::Active, Status::Active, true);
        let stopped = enrolled(Status::Stopped, Status::Active, false);
        let cases: Vec<(FeedSource, Option<&Enrolled>, Vec<&str>)> = vec![
            (
                FeedSource::Death,
                Some(&active),
                vec!["stop:death", "warn:death"],
            ),
            (
                FeedSource::Death,
                Some(&exiting),
                vec!["stop:death", "warn:death"],
            ),
            (FeedSource::Death, Some(&stopped), vec![]),
            (FeedSource::Death, None, vec![]),
            (
                FeedSource::SeriousIllness,
                Some(&active),
                vec![
                    "refer:medical",
                    "warn:rigid_expenditure_review",
                    "remember:serious_illness",
                ],
            ),
            (
                FeedSource::SeriousIllness,
                None,
                vec!["warn:active_discovery"],
            ),
            (
                FeedSource::Unemployment,
                Some(&active),
                vec!["refer:employment"],
            ),
            (
                FeedSource::Unemployment,
                None,
                vec!["warn:active_discovery"],
            ),
            (
                FeedSource::StudentHardship,
                Some(&active),
                vec!["refer:education"],
            ),
            (
                FeedSource::StudentHardship,
                None,
                vec!["warn:active_discovery"],
            ),
            (
                FeedSource::DisasterVictim,
                Some(&active),
                vec!["refer:disaster"],
            ),
            (
                FeedSource::DisasterVictim,
                Some(&stopped),
                vec!["warn:active_discovery"],
            ),
            (
                FeedSource::SevereDisability,
                Some(&active),
                vec!["warn:severe_disability", "remember:severe_disability"],
            ),
            (FeedSource::SevereDisability, Some(&disabled), vec![]),
            (
                FeedSource::SevereDisability,
                None,
                vec!["warn:active_discovery"],
            ),
            (FeedSource::ReturnToPoverty, Some(&active), vec![]),
            (
                FeedSource::ReturnToPoverty,
                None,
                vec!["warn:active_discovery"],
            ),
        ];
        for (source, person, expected) in cases {
            let got: Vec<String> = decide(source, &record(), person)
                .iter()
                .map(|a| match a {
                    Action::Stop { reason, .. } => format!("stop:{reason}"),
                    Action::Refer { department, .. } => format!("refer:{department}"),
                    Action::Warn { kind, .. } => format!("warn:{kind}"),
                    Action::Remember { fact } => format!("remember:{fact}"),
                })
                .collect();
            assert_eq!(got, expected, "{source} with {person:?}");
        }
    }

    #[test]
    fn a_death_stops_payment_from_the_next_month() {
        for (died, stop) in [
            ("2026-03-31", "2026-04"),
            ("2026-03-01", "2026-04"),
            ("2026-12-15", "2027-01"),
        ] {
            let mut r = record();
            r.occurred_on = date(died);
            let actions = decide(
                FeedSource::Death,
                &r,
                Some(&enrolled(Status::Active, Status::Active, false)),
            );
            assert_eq!(
                actions[0],
                Action::Stop {
                    reason: "death",
                    stop_from_month: Month::parse(stop).unwrap()
                }
            );
        }
    }

    #[test]
    fn a_disaster_referral_carries_the_damage_and_displacement() {
        let actions = decide(
            FeedSource::DisasterVictim,
            &record(),
            Some(&enrolled(Status::Active, Status::Active, false)),
        );
        let Action::Refer { circumstances, .. } = &actions[0] else {
            panic!("{actions:?}")
        };
        assert_eq!(circumstances.source, "disaster_victim");
        assert_eq!(circumstances.house_damage, Some(HouseDamage::Collapsed));
        assert!(circumstances.displaced);
        assert_eq!(circumstances.occurred_on, Some(date("2026-03-31")));
    }

    /// 001 二(一): "对家庭人均收入超过当地低保标准的,给予6个月的救助渐退期" — in Shenzhen only
    /// for rural dibao households whose income *exceeds* the standard; Zhengzhou adopts it for
    /// urban and rural dibao at or above the standard.
    #[test]
    fn a_complete_reverification_no_longer_below_the_standard_exits_as_the_region_says() {
        let book = policy::PolicyBook::builtin();
        let set = |region: &str| {
            book.in_force(
                &policy::RegionCode::parse(region).unwrap(),
                date("2026-11-22"),
            )
            .unwrap()
            .clone()
        };
        let (zz, sz) = (set("410102"), set("440300"));
        let base = Reverified {
            complete: true,
            tier: Tier::Dibao,
            status: Status::Active,
            urban: true,
            total_income: Fen(0),
            members: 2,
            on: date("2026-11-22"),
        };
        let at = |urban: bool, per_capita: i64| Reverified {
            urban,
            total_income: Fen(per_capita * 2),
            ..base.clone()
        };
        let gradual = |stop: &str| {
            Some(Reverification::GradualExit {
                exit_months: 6,
                stop_from_month: Month::parse(stop).unwrap(),
            })
        };
        let exit = Some(Reverification::Exit {
            stop_from_month: Month::parse("2026-12").unwrap(),
        });
        let zz_std = zz.dibao_standard.urban.0;
        let sz_rural = sz.dibao_standard.rural.0;
        let cases = [
            (at(true, zz_std - 1), &zz, None),
            (at(true, zz_std), &zz, gradual("2027-06")),
            (at(true, zz_std + 1), &zz, gradual("2027-06")),
            // Shenzhen: rural dibao, income above the standard.
            (at(false, sz_rural + 1), &sz, gradual("2027-06")),
            (at(false, sz_rural), &sz, exit.clone()),
            (at(true, sz.dibao_standard.urban.0 + 1), &sz, exit.clone()),
            (
                Reverified {
                    complete: false,
                    ..at(true, zz_std + 1)
                },
                &zz,
                None,
            ),
            (
                Reverified {
                    tier: Tier::Destitute,
                    ..at(true, zz_std + 1)
                },
                &zz,
                None,
            ),
            (
                Reverified {
                    status: Status::Exiting,
                    ..at(true, zz_std + 1)
                },
                &zz,
                None,
            ),
        ];
        for (r, p, expected) in cases {
            assert_eq!(
                after_reverification(&r, p).unwrap(),
                expected,
                "{r:?} in {}",
                p.version
            );
        }
    }
}
