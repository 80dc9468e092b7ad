//! HTTP: the websocket route (`/ws/chat`), the JSON control API and the media host.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use wa_core::binary::Jid;

use crate::server::Shared;
use crate::{Fault, SandboxError};

/// Largest media upload accepted.
const MAX_MEDIA: usize = 64 << 20;
/// Total media kept in memory.
const MAX_MEDIA_TOTAL: usize = 512 << 20;

type S = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/ws/chat", get(ws))
        .route("/", get(discovery))
        .route("/stats", get(stats))
        .route("/phones", post(create_phone))
        .route("/accounts", get(accounts))
        .route("/accounts/{number}/devices", get(devices))
        .route("/phones/{number}/scan", post(scan))
        .route("/phones/{number}/pair-code", post(pair_code))
        .route("/phones/{number}/send", post(send))
        .route("/phones/{number}/received", get(received))
        .route("/phones/{number}/duplicates", get(duplicates))
        .route("/phones/{number}/echo", post(echo))
        .route("/phones/{number}/devices", post(register_direct))
        .route("/groups", post(create_group))
        .route("/faults/drop", post(fault_drop))
        .route("/faults/delay", post(fault_delay))
        .route("/faults/refuse", post(fault_refuse))
        .route("/faults/stream-error", post(fault_stream_error))
        .route(
            "/mms/{kind}/{token}",
            post(upload).layer(DefaultBodyLimit::max(MAX_MEDIA)),
        )
        .route("/m/{id}", get(download))
        .with_state(shared)
}

/// The `auth` token media uploads must carry.
pub(crate) fn media_auth(shared: &Shared) -> String {
    hex::encode(&wa_core::crypto::sha256(&shared.root.public)[..16])
}

async fn ws(State(shared): S, upgrade: WebSocketUpgrade) -> Response {
    if shared.world().refuse_connections {
        return (StatusCode::SERVICE_UNAVAILABLE, "refusing connections").into_response();
    }
    upgrade
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(shared.config.max_frame_len + 16)
        .max_frame_size(shared.config.max_frame_len + 16)
        .on_upgrade(move |socket| crate::conn::serve(socket, shared))
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<SandboxError> for ApiError {
    fn from(e: SandboxError) -> Self {
        let code = match e {
            SandboxError::NoSuchAccount(_)
            | SandboxError::NoSuchDevice(_)
            | SandboxError::NoSuchGroup(_) => StatusCode::NOT_FOUND,
            SandboxError::BadNumber(_) | SandboxError::BadJid(_) => StatusCode::BAD_REQUEST,
            SandboxError::Pairing(_) | SandboxError::NoPendingCode => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(code, e.to_string())
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

fn phone_of(shared: &Shared, number: &str) -> Result<crate::Phone, ApiError> {
    shared
        .phone(number)
        .ok_or_else(|| SandboxError::NoSuchAccount(number.to_owned()).into())
}

fn jid(text: &str) -> Result<Jid, ApiError> {
    text.parse::<Jid>()
        .map_err(|_| SandboxError::BadJid(text.to_owned()).into())
}

async fn discovery(State(shared): S) -> Json<Value> {
    Json(json!({
        "ws_url": format!("ws://{}/ws/chat", shared.addr),
        "root_key": hex::encode(shared.root.public),
        "control_url": format!("http://{}", shared.addr),
    }))
}

async fn stats(State(shared): S) -> Json<Value> {
    Json(serde_json::to_value(shared.world().stats).unwrap_or(Value::Null))
}

#[derive(Deserialize)]
struct NumberBody {
    number: String,
}

async fn create_phone(State(shared): S, Json(body): Json<NumberBody>) -> ApiResult {
    let phone = shared.create_phone(&body.number)?;
    shared.save_state();
    Ok(Json(json!({"jid": phone.jid().to_string()})))
}

fn account_json(shared: &Shared, number: &str) -> Value {
    let w = shared.world();
    let Some(a) = w.accounts.get(number) else {
        return Value::Null;
    };
    let devices: Vec<Value> = a
        .devices
        .iter()
        .map(|(d, r)| {
            json!({
                "jid": Jid::pn_device(number, *d).to_string(),
                "online": *d == 0 || w.conns.contains_key(&(number.to_owned(), *d)),
                "key_index": r.key_index,
                "prekeys": r.pre_keys.len(),
                "platform": r.platform,
            })
        })
        .collect();
    json!({
        "number": number,
        "jid": Jid::pn(number).to_string(),
        "lid": Jid::lid(a.lid.clone()).to_string(),
        "echo": a.phone.echo(),
        "devices": devices,
    })
}

async fn accounts(State(shared): S) -> Json<Value> {
    let mut numbers: Vec<String> = shared.world().accounts.keys().cloned().collect();
    numbers.sort();
    Json(Value::Array(
        numbers.iter().map(|n| account_json(&shared, n)).collect(),
    ))
}

async fn devices(State(shared): S, Path(number): Path<String>) -> ApiResult {
    phone_of(&shared, &number)?;
    Ok(Json(account_json(&shared, &number)))
}

#[derive(Deserialize)]
struct ScanBody {
    qr: String,
}

async fn scan(
    State(shared): S,
    Path(number): Path<String>,
    Json(body): Json<ScanBody>,
) -> ApiResult {
    let phone = phone_of(&shared, &number)?;
    let device = phone.scan_qr(&body.qr).await?;
    Ok(Json(json!({"device": device.to_string()})))
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

async fn pair_code(
    State(shared): S,
    Path(number): Path<String>,
    Json(body): Json<CodeBody>,
) -> ApiResult {
    let phone = phone_of(&shared, &number)?;
    let device = phone.enter_pair_code(&body.code).await?;
    Ok(Json(json!({"device": device.to_string()})))
}

#[derive(Deserialize)]
struct SendBody {
    to: String,
    text: String,
}

async fn send(
    State(shared): S,
    Path(number): Path<String>,
    Json(body): Json<SendBody>,
) -> ApiResult {
    let phone = phone_of(&shared, &number)?;
    let to = jid(&body.to)?;
    let id = phone.send_text(&to, &body.text).await?;
    Ok(Json(json!({"id": id})))
}

async fn received(State(shared): S, Path(number): Path<String>) -> ApiResult {
    let phone = phone_of(&shared, &number)?;
    Ok(Json(
        serde_json::to_value(phone.received()).unwrap_or(Value::Null),
    ))
}

async fn duplicates(State(shared): S, Path(number): Path<String>) -> ApiResult {
    let phone = phone_of(&shared, &number)?;
    Ok(Json(json!({ "suppressed": phone.duplicates_suppressed() })))
}

#[derive(Deserialize)]
struct EchoBody {
    on: bool,
}

async fn echo(
    State(shared): S,
    Path(number): Path<String>,
    Json(body): Json<EchoBody>,
) -> ApiResult {
    phone_of(&shared, &number)?.set_echo(body.on);
    Ok(Json(json!({"echo": body.on})))
}

#[derive(Deserialize)]
struct DirectBody {
    /// Hex of a registration `ClientPayload` (what the companion would send at pairing).
    payload: String,
    /// Hex of the companion's Noise static public key.
    noise_public: String,
}

/// Test fast path: registers a companion without pairing over the wire.
async fn register_direct(
    State(shared): S,
    Path(number): Path<String>,
    Json(body): Json<DirectBody>,
) -> ApiResult {
    let bad = |what: &str| ApiError(StatusCode::BAD_REQUEST, what.to_owned());
    let payload = hex::decode(&body.payload).map_err(|_| bad("payload is not hex"))?;
    let noise: [u8; 32] = hex::decode(&body.noise_public)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("noise_public must be 32 bytes of hex"))?;
    let Ok(wa_core::pair::ClientHello::Registration(reg)) =
        wa_core::pair::read_client_payload(&payload)
    else {
        return Err(bad("payload is not a registration ClientPayload"));
    };
    let device = crate::pairing::register_direct(&shared, &number, noise, &reg)?;
    shared.save_state();
    Ok(Json(json!({"device": device.to_string()})))
}

#[derive(Deserialize)]
struct GroupBody {
    creator: String,
    subject: String,
    #[serde(default)]
    participants: Vec<String>,
}

async fn create_group(State(shared): S, Json(body): Json<GroupBody>) -> ApiResult {
    let numbers: Vec<String> = body
        .participants
        .iter()
        .map(|p| p.split('@').next().unwrap_or("").to_owned())
        .collect();
    let g = crate::groups::create(&shared, &body.creator, &body.subject, &numbers)?;
    Ok(Json(json!({"jid": g.to_string()})))
}

#[derive(Deserialize)]
struct FaultBody {
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    ms: Option<u64>,
    #[serde(default)]
    on: Option<bool>,
    #[serde(default)]
    code: Option<u16>,
}

fn fault(shared: &Arc<Shared>) -> Fault {
    Fault {
        shared: shared.clone(),
    }
}

fn device_of(body: &FaultBody) -> Result<Jid, ApiError> {
    jid(body.device.as_deref().unwrap_or(""))
}

async fn fault_drop(State(shared): S, Json(body): Json<FaultBody>) -> ApiResult {
    let done = fault(&shared).drop_connection(&device_of(&body)?);
    Ok(Json(json!({"dropped": done})))
}

async fn fault_delay(State(shared): S, Json(body): Json<FaultBody>) -> ApiResult {
    fault(&shared).delay_frames(
        &device_of(&body)?,
        Duration::from_millis(body.ms.unwrap_or(0)),
    );
    Ok(Json(json!({"ok": true})))
}

async fn fault_refuse(State(shared): S, Json(body): Json<FaultBody>) -> ApiResult {
    fault(&shared).refuse_connections(body.on.unwrap_or(true));
    Ok(Json(json!({"ok": true})))
}

async fn fault_stream_error(State(shared): S, Json(body): Json<FaultBody>) -> ApiResult {
    let done = fault(&shared).stream_error(&device_of(&body)?, body.code.unwrap_or(503));
    Ok(Json(json!({"sent": done})))
}

async fn upload(
    State(shared): S,
    Path((kind, token)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if query.get("auth").map(String::as_str) != Some(media_auth(&shared).as_str()) {
        return ApiError(StatusCode::UNAUTHORIZED, "bad auth".into()).into_response();
    }
    let id = hex::encode(
        &wa_core::crypto::sha256(&[kind.as_bytes(), b"/", token.as_bytes(), &body].concat())[..16],
    );
    {
        let mut media = shared.media.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = media.values().map(|b| b.len()).sum();
        if total + body.len() > MAX_MEDIA_TOTAL {
            return ApiError(StatusCode::INSUFFICIENT_STORAGE, "media store full".into())
                .into_response();
        }
        media.insert(id.clone(), body);
    }
    let direct_path = format!("/m/{id}?kind={kind}");
    Json(json!({
        "url": format!("http://{}{}", shared.addr, direct_path),
        "direct_path": direct_path,
    }))
    .into_response()
}

async fn download(State(shared): S, Path(id): Path<String>) -> Response {
    let media = shared.media.lock().unwrap_or_else(|e| e.into_inner());
    match media.get(&id) {
        Some(b) => (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            b.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
