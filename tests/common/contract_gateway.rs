//! Call helpers of the WhatsHub (003) and wabot (001) contract tests, over the shared
//! [`super::demo_gateway`] process: answers with status, headers, JSON and raw text, raw JSON
//! bodies sent as written, and the device, key and message-log shortcuts those tests use.

use reqwest::Method;
use serde_json::Value;

pub use super::demo_gateway::{ADMIN, Db};
use super::demo_gateway::{DemoGateway, poll};

/// An HTTP answer: status, headers, JSON body (Null when empty or not JSON) and raw text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// `wasap serve --demo` (see [`DemoGateway`]) with the calls of the contract tests.
pub struct ContractGateway {
    inner: DemoGateway,
    db: Db,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    http: reqwest::Client,
}

impl ContractGateway {
    /// Starts a gateway with `extra` arguments; None when PostgreSQL is wanted but absent
    /// (and not required).
    pub async fn start(db: Db, extra: &[&str]) -> Option<ContractGateway> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        // The start reads the child's output synchronously.
        let inner = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
            DemoGateway::start(db, &refs)
        })
        .await
        .unwrap()?;
        Some(ContractGateway {
            base: inner.base.clone(),
            inner,
            db,
            http: reqwest::Client::new(),
        })
    }

    /// Stops the gateway and drops its database.
    pub async fn stop(self) {
        // DemoGateway's Drop kills the process and removes its data.
        tokio::task::spawn_blocking(move || drop(self.inner))
            .await
            .unwrap();
    }

    /// Drops `table` under the running gateway (to provoke a server fault).
    pub async fn drop_table(&self, table: &str) {
        match self.db {
            Db::Postgres => assert!(self.inner.psql(&format!("DROP TABLE {table}"))),
            Db::Sqlite => {
                sqlx::any::install_default_drivers();
                let url = format!("sqlite://{}", self.inner.dir.join("wasap.db").display());
                let pool = sqlx::AnyPool::connect(&url).await.unwrap();
                sqlx::query(&format!("DROP TABLE {table}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
        }
    }

    /// Sends a request with optional Bearer key, JSON body and extra headers.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = bearer {
            rb = rb.bearer_auth(k);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        Self::answer(rb.send().await.unwrap()).await
    }

    /// POSTs `body` as it is (any bytes) with `Content-Type: application/json`.
    pub async fn post_raw(&self, path: &str, body: &str) -> Answer {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        Self::answer(rb.send().await.unwrap()).await
    }

    async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// An admin call to the native API.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.request(method, path, Some(ADMIN), body.as_ref(), &[])
            .await
    }

    /// Creates a device (not connected) named `name`; returns its id.
    pub async fn device(&self, name: &str) -> String {
        self.inner.create_device(name).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a device, connects it and waits until the demo phone linked it.
    pub async fn linked_device(&self, name: &str) -> String {
        self.inner.link_device(name).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates an API key from a full `POST /v1/keys` body; returns (id, key).
    pub async fn key(&self, body: Value) -> (String, String) {
        let a = self.admin(Method::POST, "/v1/keys", Some(body)).await;
        assert_eq!(a.status, 201, "{}", a.text);
        (
            a.body["id"].as_str().unwrap().to_string(),
            a.body["key"].as_str().unwrap().to_string(),
        )
    }

    /// The native log's messages of `device`, newest first.
    pub async fn messages_of(&self, device: &str) -> Vec<Value> {
        let a = self
            .admin(
                Method::GET,
                &format!("/v1/messages?device_id={device}"),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body["data"].as_array().unwrap().clone()
    }

    /// Retries `check` for up to 30 s.
    pub async fn poll<T>(&self, what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
        poll(what, check).await
    }
}
