//! Emergency aid (急难社会救助 / 临时救助): may the township pay it first, before the papers
//! (先行救助)? Each region's set says by which rule ([`ActFirstRule`]):
//! - Zhengzhou (002 三(三)): "对于救助金额不高于当地3倍月低保标准的临时救助事项,由乡镇(街道)实行
//!   “先行救助”" — by amount, up to `act_first_multiple_permille` × the monthly standard;
//! - Shenzhen (001 二(六)): "对急难型临时救助实行“先行救助”…对支出型临时救助,按照审核审批程序办理"
//!   — by type: emergency-type first, expenditure-type by the normal approval.
//!
//! A report that does not say urban or rural, or (by type) which type, is refused: the rule
//! cannot be applied to a guess.

use crate::params::ActFirstRule;
use crate::{Fen, ParameterSet};
use serde::{Deserialize, Serialize};

/// The type of temporary assistance (临时救助类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AidType {
    /// 急难型: a sudden, urgent hardship.
    Emergency,
    /// 支出型: hardship from large necessary spending.
    Expenditure,
}

/// Whether a grant may be paid first, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActFirst {
    pub act_first: bool,
    /// The amount act first may reach, when the region's rule is by amount.
    pub limit: Option<Fen>,
    pub reason: String,
}

/// Why a report cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActFirstRefusal {
    #[error("say whether the household is urban or rural: the limit of act first depends on it")]
    UrbanRuralMissing,
    #[error("say the type of aid (emergency or expenditure): this region pays emergency-type aid first and expenditure-type aid after approval")]
    AidTypeMissing,
    #[error("the limit of act first is out of range")]
    Overflow,
}

/// Decides act first for a grant of `total` under the region's rule.
pub fn act_first(
    p: &ParameterSet,
    urban: Option<bool>,
    aid_type: Option<AidType>,
    total: Fen,
) -> Result<ActFirst, ActFirstRefusal> {
    let urban = urban.ok_or(ActFirstRefusal::UrbanRuralMissing)?;
    match p.act_first_rule {
        ActFirstRule::AmountWithinMultiple => {
            let limit = p
                .standard(urban)
                .times_permille(p.act_first_multiple_permille)
                .map_err(|_| ActFirstRefusal::Overflow)?;
            let act_first = total <= limit;
            let reason = if act_first {
                format!(
                    "act first: {total} within {limit} ({}‰ of the monthly standard)",
                    p.act_first_multiple_permille
                )
            } else {
                format!(
                    "case conference: {total} above {limit} ({}‰ of the monthly standard), decided case by case",
                    p.act_first_multiple_permille
                )
            };
            Ok(ActFirst {
                act_first,
                limit: Some(limit),
                reason,
            })
        }
        ActFirstRule::EmergencyType => {
            let t = aid_type.ok_or(ActFirstRefusal::AidTypeMissing)?;
            let act_first = t == AidType::Emergency;
            Ok(ActFirst {
                act_first,
                limit: None,
                reason: if act_first {
                    format!("act first: emergency-type aid of {total}, papers completed afterwards")
                } else {
                    format!("expenditure-type aid of {total}: by the normal approval")
                },
            })
        }
    }
}
