//! What consumers, routes and sweeps share.

use std::sync::Arc;

#[derive(Clone)]
pub struct State {
    pub mesh: mesh::Mesh,
    pub policy: Arc<policy::PolicyBook>,
}
