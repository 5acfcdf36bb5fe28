//! What the handlers and routes of the service share; app.rs builds it, nothing here builds the
//! service, so handlers and routes depend on this module and not on the wiring.

use mesh::Mesh;
use policy::Department;
use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: Mesh,
    pub department: Department,
    pub policy: Arc<policy::PolicyBook>,
}
