//! The credit balance and its ledger. The gateway serves one tenant, so there is one account
//! with three buckets: the periodic `allowance`, `rollover` carried from the last period, and
//! `topup` bought on top. Debits spend them in that order. Every change is a ledger row
//! written in the same transaction as the balance update (and, for a send, as the message).
//!
//! With a price of 0 per message (the default) sends are free and nothing is debited.

use serde::Serialize;
use sqlx::{Any, Transaction};

use crate::util::{new_id, now_ms};

/// One of the three balance buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// The periodic allowance (spent first).
    Allowance,
    /// Credit carried over from the previous period.
    Rollover,
    /// Bought credit (spent last).
    Topup,
}

impl Bucket {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Allowance => "allowance",
            Bucket::Rollover => "rollover",
            Bucket::Topup => "topup",
        }
    }
    /// Parses a bucket name.
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "allowance" => Some(Bucket::Allowance),
            "rollover" => Some(Bucket::Rollover),
            "topup" | "top-up" | "top_up" => Some(Bucket::Topup),
            _ => None,
        }
    }
}

/// The account's balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Balances {
    /// Left of the allowance.
    pub allowance: i64,
    /// Left of the rollover.
    pub rollover: i64,
    /// Left of the top-ups.
    pub topup: i64,
}

impl Balances {
    /// Everything spendable.
    pub fn total(&self) -> i64 {
        self.allowance + self.rollover + self.topup
    }
    fn get(&self, b: Bucket) -> i64 {
        match b {
            Bucket::Allowance => self.allowance,
            Bucket::Rollover => self.rollover,
            Bucket::Topup => self.topup,
        }
    }
    fn set(&mut self, b: Bucket, v: i64) {
        match b {
            Bucket::Allowance => self.allowance = v,
            Bucket::Rollover => self.rollover = v,
            Bucket::Topup => self.topup = v,
        }
    }
}

/// Why a debit was refused.
#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    /// The balance does not cover the price.
    #[error("insufficient credit: balance {balance}, price {price}")]
    Insufficient {
        /// What is left.
        balance: i64,
        /// What was asked.
        price: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Locks the account row for the rest of `tx` and returns its balances. The no-op update takes
/// the row lock on PostgreSQL and the write lock on SQLite, so concurrent debits serialize.
async fn lock(tx: &mut Transaction<'static, Any>) -> Result<Balances, sqlx::Error> {
    let (allowance, rollover, topup): (i64, i64, i64) = sqlx::query_as(
        "UPDATE credit_account SET updated_at = updated_at WHERE id = 'default' RETURNING allowance, rollover, topup",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(Balances {
        allowance,
        rollover,
        topup,
    })
}

async fn store(tx: &mut Transaction<'static, Any>, b: &Balances) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE credit_account SET allowance = $1, rollover = $2, topup = $3, updated_at = $4 WHERE id = 'default'",
    )
    .bind(b.allowance)
    .bind(b.rollover)
    .bind(b.topup)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One ledger row.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// `grant`, `debit` or `adjust`.
    pub kind: &'a str,
    /// The bucket it changed.
    pub bucket: Bucket,
    /// Signed amount (negative for debits).
    pub amount: i64,
    /// The message a debit paid for.
    pub message_id: Option<&'a str>,
    /// The API key that caused it.
    pub api_key_id: Option<&'a str>,
    /// Free text.
    pub note: Option<&'a str>,
}

async fn append(
    tx: &mut Transaction<'static, Any>,
    e: &Entry<'_>,
    balance_after: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credit_ledger (id, kind, bucket, amount, balance_after, message_id, api_key_id, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id("crd"))
    .bind(e.kind)
    .bind(e.bucket.as_str())
    .bind(e.amount)
    .bind(balance_after)
    .bind(e.message_id)
    .bind(e.api_key_id)
    .bind(e.note)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes `price` from the balance inside `tx` (allowance first, then rollover, then top-up),
/// one ledger row per bucket touched. Nothing changes when the balance does not cover it.
pub async fn debit(
    tx: &mut Transaction<'static, Any>,
    price: i64,
    message_id: &str,
    api_key_id: Option<&str>,
) -> Result<Balances, CreditError> {
    if price <= 0 {
        return Ok(lock(tx).await?);
    }
    let mut b = lock(tx).await?;
    if b.total() < price {
        return Err(CreditError::Insufficient {
            balance: b.total(),
            price,
        });
    }
    let mut left = price;
    for bucket in [Bucket::Allowance, Bucket::Rollover, Bucket::Topup] {
        let take = left.min(b.get(bucket).max(0));
        if take == 0 {
            continue;
        }
        b.set(bucket, b.get(bucket) - take);
        left -= take;
        append(
            tx,
            &Entry {
                kind: "debit",
                bucket,
                amount: -take,
                message_id: Some(message_id),
                api_key_id,
                note: None,
            },
            b.total(),
        )
        .await?;
        if left == 0 {
            break;
        }
    }
    store(tx, &b).await?;
    Ok(b)
}

/// Adds `amount` (may be negative for a correction) to `bucket` inside `tx`, with its ledger row.
/// A correction never takes a bucket below zero.
pub async fn grant(
    tx: &mut Transaction<'static, Any>,
    bucket: Bucket,
    amount: i64,
    api_key_id: Option<&str>,
    note: Option<&str>,
) -> Result<Balances, CreditError> {
    let mut b = lock(tx).await?;
    let next = b.get(bucket).saturating_add(amount);
    if next < 0 {
        return Err(CreditError::Insufficient {
            balance: b.get(bucket),
            price: -amount,
        });
    }
    b.set(bucket, next);
    append(
        tx,
        &Entry {
            kind: if amount >= 0 { "grant" } else { "adjust" },
            bucket,
            amount,
            message_id: None,
            api_key_id,
            note,
        },
        b.total(),
    )
    .await?;
    store(tx, &b).await?;
    Ok(b)
}

/// The current balances (no lock).
pub async fn balances(pool: &sqlx::AnyPool) -> Result<Balances, sqlx::Error> {
    let (allowance, rollover, topup): (i64, i64, i64) = sqlx::query_as(
        "SELECT allowance, rollover, topup FROM credit_account WHERE id = 'default'",
    )
    .fetch_one(pool)
    .await?;
    Ok(Balances {
        allowance,
        rollover,
        topup,
    })
}

/// Sums of debits (as a positive number) and grants between `since` and now, unix ms.
pub async fn usage_since(pool: &sqlx::AnyPool, since: i64) -> Result<(i64, i64), sqlx::Error> {
    let (spent, granted): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT CAST(SUM(CASE WHEN kind = 'debit' THEN -amount ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN kind = 'grant' THEN amount ELSE 0 END) AS BIGINT) FROM credit_ledger WHERE created_at >= $1",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok((spent.unwrap_or(0), granted.unwrap_or(0)))
}
