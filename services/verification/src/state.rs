//! What the handlers and routes of the service share; app.rs builds it, nothing here builds the
//! service, so handlers and routes depend on this module and not on the wiring.

use crate::config::VerificationSettings;
use mesh::Mesh;
use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: Mesh,
    pub settings: Arc<VerificationSettings>,
    /// Re-verification and home-visit intervals per region and date.
    pub policy: Arc<policy::PolicyBook>,
}
