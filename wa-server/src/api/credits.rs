//! `/v1/credits`: the balance (allowance, rollover, top-up), its ledger, and admin grants.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ts;
use crate::auth::Principal;
use crate::credits::{self, Bucket, CreditError};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::AppState;

fn balances_view(b: &credits::Balances, price: i64) -> Value {
    json!({
        "balance": b.total(),
        "allowance": b.allowance,
        "rollover": b.rollover,
        "topup": b.topup,
        "price_per_message": price,
    })
}

/// `GET /v1/credits`.
pub async fn get(State(st): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require("credits:read")?;
    let b = credits::balances(&st.db.pool).await?;
    Ok(Json(balances_view(&b, st.config.price_per_message)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

type LedgerRow = (
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

/// `GET /v1/credits/ledger`: newest first, cursor-paginated.
pub async fn ledger(
    State(st): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require("credits:read")?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 500"));
    }
    // The cursor is "<created_at>:<id>" of the last row of the previous page.
    let (before_t, before_id) = match &q.cursor {
        None => (0, String::new()),
        Some(c) => c
            .split_once(':')
            .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id.to_string())))
            .ok_or_else(|| ApiError::field("cursor", "not a cursor from a previous page"))?,
    };
    const COLS: &str = "SELECT id, kind, bucket, amount, balance_after, message_id, api_key_id, note, created_at FROM credit_ledger";
    let rows: Vec<LedgerRow> = if q.cursor.is_some() {
        sqlx::query_as(&format!("{COLS} WHERE created_at < $1 OR (created_at = $1 AND id < $2) ORDER BY created_at DESC, id DESC LIMIT $3"))
            .bind(before_t)
            .bind(before_id)
            .bind(limit + 1)
            .fetch_all(&st.db.pool)
            .await?
    } else {
        sqlx::query_as(&format!(
            "{COLS} ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit + 1)
        .fetch_all(&st.db.pool)
        .await?
    };
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = more
        .then(|| rows.last().map(|r| format!("{}:{}", r.8, r.0)))
        .flatten();
    let data: Vec<Value> = rows
        .iter()
        .map(|(id, kind, bucket, amount, after, msg, key, note, at)| {
            json!({
                "id": id, "kind": kind, "bucket": bucket, "amount": amount, "balance_after": after,
                "message_id": msg, "api_key_id": key, "note": note, "created_at": ts(Some(*at)),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data, "next_cursor": next })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    amount: i64,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/credits/grants` (admin): adds credit to a bucket (default `topup`); a negative
/// amount corrects a bucket and never takes it below zero.
pub async fn grant(
    State(st): State<AppState>,
    p: Principal,
    body: ApiJson<Grant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require("admin:*")?;
    let b = body.value;
    let bucket = match b.bucket.as_deref() {
        None => Bucket::Topup,
        Some(s) => Bucket::parse(s)
            .ok_or_else(|| ApiError::field("bucket", "must be allowance, rollover or topup"))?,
    };
    if b.amount == 0 || b.amount.abs() > 1_000_000_000_000 {
        return Err(ApiError::field(
            "amount",
            "must be a non-zero integer up to 10^12",
        ));
    }
    if let Some(n) = &b.note {
        super::check_len("note", n, 0, 500)?;
    }
    let mut tx = st.db.begin_write().await?;
    let balances = credits::grant(
        &mut tx,
        bucket,
        b.amount,
        Some(&p.key_id),
        b.note.as_deref(),
    )
    .await
    .map_err(|e| match e {
        CreditError::Insufficient { balance, .. } => ApiError::field(
            "amount",
            format!("the {} bucket holds only {balance}", bucket.as_str()),
        ),
        CreditError::Db(e) => e.into(),
    })?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(balances_view(&balances, st.config.price_per_message)),
    ))
}
