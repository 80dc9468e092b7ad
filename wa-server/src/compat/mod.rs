//! Compatibility contracts: thin translations of hosted gateways' REST APIs onto the native
//! services, each with its own paths, auth, bodies and error shapes. Their responses are
//! marked [`crate::error::OwnShape`] so the native error middleware leaves them alone, and
//! their routes are mounted outside the native scope guard (handlers authenticate and check
//! scopes themselves, answering in their contract's shape).

pub mod composer;
pub mod ordered;
pub mod wabot;
pub mod whatshub;

use axum::Router;
use axum::routing::MethodRouter;
use serde_json::Value;

use crate::state::AppState;

/// (method, path, scope the handler requires, handler).
pub(crate) type Entry = (
    &'static str,
    &'static str,
    Option<&'static str>,
    MethodRouter<AppState>,
);

fn table() -> Vec<Entry> {
    let mut t = whatshub::table();
    t.extend(wabot::table());
    t
}

/// The compatibility routes (no scope guard: handlers authenticate and check scopes
/// themselves, answering in their contract's shape).
pub fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, _, h)| r.route(path, h))
        // Not operations, so not in the table: unknown paths under wabot's base URL.
        .merge(wabot::unknown_routes())
}

/// (method, path, scope) of every compatibility route.
#[cfg(test)]
pub fn route_list() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    table().into_iter().map(|(m, p, s, _)| (m, p, s)).collect()
}

/// The OpenAPI operations of every contract: (method, path, operation object).
pub fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let mut ops = whatshub::openapi_ops();
    ops.extend(wabot::openapi_ops());
    ops
}
