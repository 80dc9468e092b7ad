//! wabot's product catalog: list (cursor pages), create (with Idempotency-Key), update.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{
    ListQuery, Reply, WabotError, caller, commit_answer, decode_cursor, encode_cursor, idempotency,
    limit, ok, parse, query, replay,
};
use crate::state::AppState;
use crate::util::{new_id, now_ms, rfc3339};

type ProductRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<String>,
    i64,
    i64,
    i64,
);

const PRODUCT_COLS: &str =
    "id, name, description, sku, price, stock, image_url, active, created_at, updated_at";

fn product_view(r: &ProductRow) -> Value {
    let (id, name, description, sku, price, stock, image_url, active, created, updated) = r;
    json!({
        "id": id,
        "name": name,
        "description": description,
        "sku": sku,
        "price": price,
        "stock": stock,
        "image_url": image_url,
        "active": *active != 0,
        "created_at": rfc3339(*created),
        "updated_at": rfc3339(*updated),
    })
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProduct {
    name: String,
    price: i64,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProduct {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    price: Option<i64>,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    image_url: Option<Option<String>>,
    #[serde(default)]
    active: Option<bool>,
}

fn check_product_text(field: &str, v: &str, min: usize, max: usize) -> Result<(), WabotError> {
    let n = v.trim().chars().count();
    if n < min || v.chars().count() > max {
        return Err(WabotError::validation(format!(
            "{field} harus {min} sampai {max} karakter"
        )));
    }
    Ok(())
}

fn check_amount(field: &str, v: i64) -> Result<(), WabotError> {
    if !(0..=1_000_000_000_000).contains(&v) {
        return Err(WabotError::validation(format!(
            "{field} harus bilangan bulat 0 sampai 10^12"
        )));
    }
    Ok(())
}

fn check_image_url(v: &str) -> Result<(), WabotError> {
    match reqwest::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && v.len() <= 2048 => Ok(()),
        _ => Err(WabotError::validation("image_url harus URL http(s)")),
    }
}

pub(super) async fn list_products(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    caller(&st, &headers, Some("products:read")).await?;
    let q = query(q)?;
    if q.status.is_some() {
        return Err(WabotError::validation("status bukan filter produk"));
    }
    let limit = limit(q.limit, 50, 200, "limit")?;
    let rows: Vec<ProductRow> = match &q.cursor {
        Some(c) => {
            let (t, id) = decode_cursor(c)?;
            sqlx::query_as(&format!("SELECT {PRODUCT_COLS} FROM products WHERE created_at < $1 OR (created_at = $1 AND id < $2) ORDER BY created_at DESC, id DESC LIMIT $3"))
                .bind(t)
                .bind(id)
                .bind(limit + 1)
                .fetch_all(&st.db.pool)
                .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {PRODUCT_COLS} FROM products ORDER BY created_at DESC, id DESC LIMIT $1"
            ))
            .bind(limit + 1)
            .fetch_all(&st.db.pool)
            .await?
        }
    };
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = more
        .then(|| rows.last().map(|r| encode_cursor(r.8, &r.0)))
        .flatten();
    let items: Vec<Value> = rows.iter().map(product_view).collect();
    ok(
        StatusCode::OK,
        json!({ "items": items, "next_cursor": next }),
    )
}

pub(super) async fn create_product(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let p = caller(&st, &headers, Some("products:write")).await?;
    let (b, raw) = parse::<CreateProduct>(&headers, body)?;
    let idem = idempotency(&headers, &p, "POST /api/v1/products", &raw)?;
    if let Some(r) = replay(&st, idem.as_ref()).await? {
        return Ok(r);
    }
    check_product_text("name", &b.name, 1, 200)?;
    check_amount("price", b.price)?;
    let stock = b.stock.unwrap_or(0);
    check_amount("stock", stock)?;
    if let Some(d) = &b.description {
        check_product_text("description", d, 0, 5000)?;
    }
    if let Some(s) = &b.sku {
        check_product_text("sku", s, 1, 100)?;
    }
    if let Some(u) = &b.image_url {
        check_image_url(u)?;
    }
    let now = now_ms();
    let row: ProductRow = (
        new_id("prd"),
        b.name.trim().to_string(),
        b.description,
        b.sku,
        b.price,
        stock,
        b.image_url,
        i64::from(b.active.unwrap_or(true)),
        now,
        now,
    );
    let mut tx = st.db.begin_write().await?;
    sqlx::query(&format!(
        "INSERT INTO products ({PRODUCT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&row.0)
    .bind(&row.1)
    .bind(row.2.clone())
    .bind(row.3.clone())
    .bind(row.4)
    .bind(row.5)
    .bind(row.6.clone())
    .bind(row.7)
    .bind(row.8)
    .bind(row.9)
    .execute(&mut *tx)
    .await?;
    commit_answer(
        &st,
        tx,
        idem.as_ref(),
        StatusCode::CREATED,
        product_view(&row),
    )
    .await
}

pub(super) async fn update_product(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    caller(&st, &headers, Some("products:write")).await?;
    let (b, _) = parse::<UpdateProduct>(&headers, body)?;
    let now = now_ms();
    let mut tx = st.db.begin_write().await?;
    // Write first: the row lock (PostgreSQL) or write lock (SQLite, where upgrading a read
    // transaction fails when another connection wrote meanwhile) serializes concurrent PATCHes.
    let locked = sqlx::query("UPDATE products SET updated_at = $2 WHERE id = $1")
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(WabotError::not_found("Produk"));
    }
    let mut row: ProductRow = sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLS} FROM products WHERE id = $1"
    ))
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(n) = b.name {
        check_product_text("name", &n, 1, 200)?;
        row.1 = n.trim().to_string();
    }
    if let Some(v) = b.price {
        check_amount("price", v)?;
        row.4 = v;
    }
    if let Some(v) = b.stock {
        check_amount("stock", v)?;
        row.5 = v;
    }
    if let Some(d) = b.description {
        if let Some(d) = &d {
            check_product_text("description", d, 0, 5000)?;
        }
        row.2 = d;
    }
    if let Some(s) = b.sku {
        if let Some(s) = &s {
            check_product_text("sku", s, 1, 100)?;
        }
        row.3 = s;
    }
    if let Some(u) = b.image_url {
        if let Some(u) = &u {
            check_image_url(u)?;
        }
        row.6 = u;
    }
    if let Some(a) = b.active {
        row.7 = i64::from(a);
    }
    row.9 = now;
    sqlx::query("UPDATE products SET name = $2, description = $3, sku = $4, price = $5, stock = $6, image_url = $7, active = $8, updated_at = $9 WHERE id = $1")
        .bind(&row.0)
        .bind(&row.1)
        .bind(row.2.clone())
        .bind(row.3.clone())
        .bind(row.4)
        .bind(row.5)
        .bind(row.6.clone())
        .bind(row.7)
        .bind(row.9)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    ok(StatusCode::OK, product_view(&row))
}
