//! Relief's additions to the contract.

use policy::determination::SelfCare;
use serde::{Deserialize, Serialize};

/// Optional fields of a `referral.{dept}.push`'s `data` that the relief services read beside
/// [`ReferralPush`](crate::ReferralPush) (which does not name them, so its producers are
/// unchanged): a producer that knows them adds them to the push.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PushCare {
    /// How far the person can look after themselves. `partial` or `none` on a medical referral
    /// makes a care service order (service-type assistance: care visits and care for the
    /// elderly, minors and disabled who cannot look after themselves), matched with charity
    /// offers in the person's area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_care: Option<SelfCare>,
}
