//! Compatibility contracts: thin translations of hosted gateways' REST APIs onto the native
//! services, each with its own paths, auth, bodies and error shapes (their responses are
//! marked [`crate::error::OwnShape`] so the native error middleware leaves them alone).

pub mod composer;
pub mod ordered;
pub mod wabot;
pub mod whatshub;

use axum::Router;

use crate::state::AppState;

/// Every contract's routes, mounted beside the native API (outside its scope guard).
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(whatshub::routes())
        .merge(wabot::routes())
}
