//! wabot's `/credits` (the native balance) and `/usage` (credits and messages per UTC day).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DAY_MS, Reply, caller, limit, ok, query};
use crate::state::AppState;
use crate::util::{now_ms, rfc3339};

pub(super) async fn credits(State(st): State<AppState>, headers: HeaderMap) -> Reply {
    caller(&st, &headers, Some("credits:read")).await?;
    let b = crate::credits::balances(&st.db.pool).await?;
    ok(
        StatusCode::OK,
        json!({
            "balance": b.total(),
            "allowance": b.allowance,
            "rollover": b.rollover,
            "topup": b.topup,
            "price_per_message": st.config.price_per_message,
        }),
    )
}

#[derive(Deserialize)]
pub(super) struct UsageQuery {
    days: Option<i64>,
}

#[derive(Default, Clone, Copy)]
struct Day {
    spent: i64,
    granted: i64,
    sent: i64,
    received: i64,
}

pub(super) async fn usage(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("usage:read")).await?;
    let q = query(q)?;
    let days = limit(q.days, 30, 366, "days")?;
    // UTC days, today included.
    let today = now_ms().div_euclid(DAY_MS);
    let first = today - (days - 1);
    let since = first * DAY_MS;
    let mut per_day = vec![Day::default(); days as usize];
    let slot = |d: i64| {
        usize::try_from(d - first)
            .ok()
            .filter(|i| *i < days as usize)
    };
    let ledger: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT CAST(created_at / 86400000 AS BIGINT) AS d, kind, CAST(SUM(amount) AS BIGINT) FROM credit_ledger WHERE created_at >= $1 AND kind IN ('debit', 'grant') GROUP BY d, kind",
    )
    .bind(since)
    .fetch_all(&st.db.pool)
    .await?;
    for (d, kind, sum) in ledger {
        if let Some(i) = slot(d) {
            match kind.as_str() {
                "debit" => per_day[i].spent += -sum,
                _ => per_day[i].granted += sum,
            }
        }
    }
    let counts: Vec<(i64, String, i64)> = match &p.device_id {
        Some(dev) => sqlx::query_as(
            "SELECT CAST(created_at / 86400000 AS BIGINT) AS d, direction, COUNT(*) FROM messages WHERE created_at >= $1 AND device_id = $2 GROUP BY d, direction",
        )
        .bind(since)
        .bind(dev)
        .fetch_all(&st.db.pool)
        .await?,
        None => sqlx::query_as(
            "SELECT CAST(created_at / 86400000 AS BIGINT) AS d, direction, COUNT(*) FROM messages WHERE created_at >= $1 GROUP BY d, direction",
        )
        .bind(since)
        .fetch_all(&st.db.pool)
        .await?,
    };
    for (d, direction, n) in counts {
        if let Some(i) = slot(d) {
            if direction == "in" {
                per_day[i].received += n;
            } else {
                per_day[i].sent += n;
            }
        }
    }
    let date = |d: i64| rfc3339(d * DAY_MS)[..10].to_string();
    let total = per_day.iter().fold(Day::default(), |a, d| Day {
        spent: a.spent + d.spent,
        granted: a.granted + d.granted,
        sent: a.sent + d.sent,
        received: a.received + d.received,
    });
    let daily: Vec<Value> = per_day
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "date": date(first + i as i64),
                "credits_spent": d.spent,
                "credits_granted": d.granted,
                "messages_sent": d.sent,
                "messages_received": d.received,
            })
        })
        .collect();
    ok(
        StatusCode::OK,
        json!({
            "days": days,
            "from": date(first),
            "to": date(today),
            "timezone": "UTC",
            "credits": { "spent": total.spent, "granted": total.granted },
            "messages": { "sent": total.sent, "received": total.received },
            "daily": daily,
        }),
    )
}
