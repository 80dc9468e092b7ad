//! Calling the gateway's own `/v1` routes in-process: a request with the session's principal
//! already attached goes through the same router, scope guard, validation and services as an
//! HTTP client's, and its error comes back as the [`ApiError`] the route produced.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::Dash;
use crate::auth::Principal;
use crate::error::ApiError;

/// Largest API answer the dashboard reads (message logs are paged far below this).
const MAX_ANSWER: usize = 16 << 20;

impl Dash {
    /// `method path` with an optional JSON body, as `p`. `path` must be built with
    /// [`super::html::url_part`] for every variable segment.
    pub(crate) async fn call(
        &self,
        p: &Principal,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let mut req = Request::builder().method(method).uri(path);
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).map_err(ApiError::internal)?;
        // The route's guard takes an attached principal as already authenticated.
        req.extensions_mut().insert(p.clone());
        let resp = match self.api.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = resp.status();
        if status.as_u16() >= 400 {
            return Err(resp
                .extensions()
                .get::<ApiError>()
                .cloned()
                .unwrap_or_else(|| {
                    ApiError::new(
                        status,
                        "error",
                        status.canonical_reason().unwrap_or("request failed"),
                    )
                }));
        }
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let bytes = axum::body::to_bytes(resp.into_body(), MAX_ANSWER)
            .await
            .map_err(ApiError::internal)?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// `GET path`.
    pub(crate) async fn get(&self, p: &Principal, path: &str) -> Result<Value, ApiError> {
        self.call(p, Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post(
        &self,
        p: &Principal,
        path: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        self.call(p, Method::POST, path, Some(body)).await
    }

    /// The `data` array of a list answer.
    pub(crate) async fn list(&self, p: &Principal, path: &str) -> Result<Vec<Value>, ApiError> {
        let v = self.get(p, path).await?;
        Ok(v["data"].as_array().cloned().unwrap_or_default())
    }
}
