//! The one error shape of the API, `{"error": {"code", "message", "request_id", "field"?, "scope"?}}`,
//! and the extractors that turn malformed requests into it instead of axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// An API failure. Rendered by [`error_shape`], which adds the request id.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation (never contains secrets).
    pub message: String,
    /// The request field at fault, for 400s.
    pub field: Option<String>,
    /// The scope the key lacks, for 403s.
    pub scope: Option<String>,
    /// Seconds to wait, for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A bare error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            scope: None,
            retry_after: None,
        }
    }
    /// 400 naming the field at fault.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        e.field = Some(field.into());
        e
    }
    /// 400 without a field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403 naming the missing scope.
    pub fn missing_scope(scope: &str) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "missing_scope",
            format!("this API key lacks the scope {scope}"),
        );
        e.scope = Some(scope.to_string());
        e
    }
    /// 403 for other reasons.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 429 with the wait in seconds.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "rate limit exceeded for this API key",
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 500; the cause is logged, not returned.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }

    fn body(&self, request_id: &str) -> serde_json::Value {
        let mut err = serde_json::json!({
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let Some(f) = &self.field {
            err["field"] = f.clone().into();
        }
        if let Some(s) = &self.scope {
            err["scope"] = s.clone().into();
        }
        serde_json::json!({ "error": err })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The body is rendered by `error_shape`, which knows the request id.
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Marks an error response that is already in its contract's own shape (the compatibility
/// APIs): [`error_shape`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnShape;

/// Marks a response whose body is already written for people (a dashboard page): the error
/// shape leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct HumanPage;

/// Middleware: every response with status >= 400 leaves in the error shape, whether it came
/// from a handler, an extractor, the router's fallback or a tower layer (except pages marked
/// [`HumanPage`] and compatibility responses marked [`OwnShape`]).
pub async fn error_shape(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400
        || resp.extensions().get::<HumanPage>().is_some()
        || resp.extensions().get::<OwnShape>().is_some()
    {
        return resp;
    }
    let err = match resp.extensions_mut().remove::<ApiError>() {
        Some(e) => e,
        None => match status {
            StatusCode::NOT_FOUND => ApiError::new(status, "not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                status,
                "method_not_allowed",
                "method not allowed on this route",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(status, "payload_too_large", "request body too large")
            }
            s if s.is_client_error() => ApiError::new(
                s,
                "invalid_request",
                s.canonical_reason().unwrap_or("bad request"),
            ),
            s => ApiError::new(s, "internal", "internal server error"),
        },
    };
    let mut out = (status, axum::Json(err.body(&request_id))).into_response();
    if let Some(secs) = err.retry_after {
        out.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        out.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    for (name, value) in resp.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// A JSON body: parsed with the failing field reported, and the raw bytes kept (for
/// idempotency fingerprints).
pub struct ApiJson<T> {
    /// The parsed value.
    pub value: T,
    /// The bytes as received.
    pub raw: Bytes,
}

/// Parses JSON, mapping serde errors to a 400 naming the field.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let field = if path != "." && path != "?" && !path.is_empty() {
            // A missing field is reported at its parent; append its name.
            match missing_field_name(&msg).or_else(|| unknown_field_name(&msg)) {
                Some(f) if !path.ends_with(&f) => Some(format!("{path}.{f}")),
                _ => Some(path),
            }
        } else {
            missing_field_name(&msg).or_else(|| unknown_field_name(&msg))
        };
        let mut err = ApiError::bad_request(format!("invalid JSON body: {msg}"));
        err.field = field;
        err
    })
}

fn backticked_after(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.split(prefix).nth(1)?;
    let rest = rest.strip_prefix('`')?;
    Some(rest.split('`').next()?.to_string())
}

fn missing_field_name(msg: &str) -> Option<String> {
    backticked_after(msg, "missing field ")
}

fn unknown_field_name(msg: &str) -> Option<String> {
    backticked_after(msg, "unknown field ")
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected Content-Type: application/json",
            ));
        }
        let raw = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body too large",
                )
            } else {
                ApiError::bad_request("could not read the request body")
            }
        })?;
        let value = parse_json(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// A query string, with failures reported as 400 in the error shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| {
                let msg = e.body_text();
                let mut err = ApiError::bad_request(msg.clone());
                err.field = backticked_after(&msg, "unknown field ")
                    .or_else(|| missing_field_name(&msg))
                    .or_else(|| {
                        msg.split(": ")
                            .nth(1)
                            .and_then(|s| s.split(':').next())
                            .map(|s| s.trim().to_string())
                    });
                err
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        url: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        to: String,
        image: Option<Inner>,
    }

    fn field(body: &str) -> Option<String> {
        parse_json::<Outer>(body.as_bytes()).unwrap_err().field
    }

    #[test]
    fn json_errors_name_the_field_at_any_depth() {
        assert_eq!(field(r#"{}"#).as_deref(), Some("to"));
        assert_eq!(field(r#"{"to": 1}"#).as_deref(), Some("to"));
        assert_eq!(
            field(r#"{"to": "x", "extra": 1}"#).as_deref(),
            Some("extra")
        );
        assert_eq!(
            field(r#"{"to": "x", "image": {}}"#).as_deref(),
            Some("image.url")
        );
        assert_eq!(
            field(r#"{"to": "x", "image": {"url": "u", "colour": 1}}"#).as_deref(),
            Some("image.colour")
        );
        assert_eq!(
            field(r#"{"to": "x", "image": {"url": 5}}"#).as_deref(),
            Some("image.url")
        );
        assert_eq!(field("{nope").as_deref(), None);
    }
}
