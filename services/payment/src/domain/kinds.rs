//! What an instruction pays for, who receives it, and the other words payment's tables hold.

use serde::{Deserialize, Serialize};

/// What an instruction pays (`instructions.kind`, the `kind` of the events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InstructionKind {
    /// A dibao household's monthly benefit, paid to its head.
    DibaoMonthly,
    /// A destitute person's monthly support (basic living and care).
    DestituteMonthly,
    /// A single-person dibao member's monthly benefit.
    SinglePersonDibaoMonthly,
    /// A stage of an emergency temporary assistance grant.
    EmergencyGrant,
    /// The price-linked temporary subsidy (价格临时补贴) of a month with a recorded consumer-price
    /// rise, paid with the household's monthly benefit to whoever receives it.
    PriceSubsidy,
}

impl InstructionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DibaoMonthly => "dibao_monthly",
            Self::DestituteMonthly => "destitute_monthly",
            Self::SinglePersonDibaoMonthly => "single_person_dibao_monthly",
            Self::EmergencyGrant => "emergency_grant",
            Self::PriceSubsidy => "price_subsidy",
        }
    }
}

impl InstructionKind {
    /// A month's benefit, paid by the month's pay-by day (`payment_due_day`); an emergency stage
    /// is paid on its own day.
    pub const fn is_monthly(self) -> bool {
        match self {
            Self::DibaoMonthly
            | Self::DestituteMonthly
            | Self::SinglePersonDibaoMonthly
            | Self::PriceSubsidy => true,
            Self::EmergencyGrant => false,
        }
    }
}

impl std::fmt::Display for InstructionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who receives a payment, and who holds an account (`instructions.payee`,
/// `accounts.holder_kind`): a person's "one card" account or a care institution's collective
/// account. The same words as [`policy::determination::Payee`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PayeeKind {
    Person,
    CareInstitution,
}

impl PayeeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::CareInstitution => "care_institution",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(Self::Person),
            "care_institution" => Some(Self::CareInstitution),
            _ => None,
        }
    }
}

impl From<policy::determination::Payee> for PayeeKind {
    fn from(p: policy::determination::Payee) -> Self {
        match p {
            policy::determination::Payee::Person => Self::Person,
            policy::determination::Payee::CareInstitution => Self::CareInstitution,
        }
    }
}

impl From<PayeeKind> for policy::determination::Payee {
    fn from(p: PayeeKind) -> Self {
        match p {
            PayeeKind::Person => Self::Person,
            PayeeKind::CareInstitution => Self::CareInstitution,
        }
    }
}

/// A change of assistance (`assistance_changes.change`), from `monitor.household.changed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ChangeKind {
    Stopped,
    GradualExit,
}

impl ChangeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::GradualExit => "gradual_exit",
        }
    }
}

impl From<contract::AssistanceChange> for ChangeKind {
    fn from(c: contract::AssistanceChange) -> Self {
        match c {
            contract::AssistanceChange::Stopped => Self::Stopped,
            contract::AssistanceChange::GradualExit => Self::GradualExit,
        }
    }
}

/// Why a month's run raised an alert (`run_alerts.reason`, `payment.run.alert`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AlertReason {
    Failed,
    NotCompletedByDeadline,
}

impl AlertReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::NotCompletedByDeadline => "not_completed_by_deadline",
        }
    }
}

/// How a pain.002 reached payment (`status_reports.received_via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReceivedVia {
    Http,
    Nats,
}

impl ReceivedVia {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Nats => "nats",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_the_tables_hold_them() {
        for k in [
            InstructionKind::DibaoMonthly,
            InstructionKind::DestituteMonthly,
            InstructionKind::SinglePersonDibaoMonthly,
            InstructionKind::EmergencyGrant,
        ] {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        for p in [PayeeKind::Person, PayeeKind::CareInstitution] {
            assert_eq!(PayeeKind::parse(p.as_str()), Some(p));
            let policy: policy::determination::Payee = p.into();
            assert_eq!(
                serde_json::to_value(policy).unwrap(),
                serde_json::json!(p.as_str())
            );
        }
        for a in [AlertReason::Failed, AlertReason::NotCompletedByDeadline] {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
    }
}
