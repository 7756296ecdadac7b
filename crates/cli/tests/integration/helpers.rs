//! `spawn_app()` and typed helpers shared by every integration test.

#![allow(dead_code)]

use allot_core::UnixMillis;
use allot_server::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A server running in this process on 127.0.0.1 with its own data directory.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    /// Set by hand when the app was spawned with a manual clock.
    pub clock: Clock,
    pub data_dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub struct Options {
    pub manual_clock: bool,
    pub sweeper: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            manual_clock: false,
            sweeper: true,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    spawn_in(data_dir, options).await
}

/// Starts a server on an existing data directory (to test what survives a restart).
pub async fn spawn_in(data_dir: TempDir, options: Options) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("a bound address");
    let clock = if options.manual_clock {
        // A fixed, recent instant: far from the epoch so RFC 3339 output looks like real time.
        Clock::manual(UnixMillis(1_790_000_000_000))
    } else {
        Clock::System
    };
    let mut config = allot_server::Config::new(data_dir.path());
    config.admin_token = Some(ADMIN_TOKEN.to_owned());
    config.clock = clock.clone();
    config.sweep_interval = options.sweeper.then(|| Duration::from_millis(50));
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        allot_server::serve(listener, config, async {
            let _ = stop.await;
        })
        .await
        .expect("the server runs and stops cleanly");
    });
    let app = TestApp {
        base_url: format!("http://{address}"),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("an HTTP client"),
        clock,
        data_dir,
        shutdown: Some(shutdown),
        task: Some(task),
    };
    app.wait_ready().await;
    app
}

impl TestApp {
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(response) = self
                .client
                .get(format!("{}/readyz", self.base_url))
                .send()
                .await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server not ready within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server gracefully and returns its data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends without panicking");
        }
        let dir = tempfile::tempdir().expect("a placeholder directory");
        std::mem::replace(&mut self.data_dir, dir)
    }

    /// Any request; returns status, headers and the body parsed as JSON (Null when empty or not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(&body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(&body), &[])
            .await
    }

    /// A new tenant; returns its admin key.
    pub async fn tenant(&self, name: &str) -> String {
        let reply = self
            .post("/v1/tenants", ADMIN_TOKEN, json!({ "name": name }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["api_key"]
            .as_str()
            .expect("an api_key")
            .to_owned()
    }

    /// A new key of `role` for the tenant of `admin_key`.
    pub async fn key(&self, admin_key: &str, role: &str) -> String {
        let reply = self
            .post("/v1/api-keys", admin_key, json!({ "role": role }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["api_key"]
            .as_str()
            .expect("an api_key")
            .to_owned()
    }

    /// Creates a pool from `body` and returns its id.
    pub async fn pool(&self, key: &str, body: Value) -> String {
        let reply = self.post("/v1/pools", key, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("a pool id").to_owned()
    }

    pub async fn pool_state(&self, key: &str, id: &str) -> Value {
        let reply = self.get(&format!("/v1/pools/{id}"), key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// Holds `quantity` of `pool`; returns the whole reply.
    pub async fn hold(&self, key: &str, pool: &str, quantity: i64) -> Reply {
        self.post(
            "/v1/holds",
            key,
            json!({ "lines": [{ "pool_id": pool, "quantity": quantity }] }),
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The problem `type` slug after the base URI, e.g. `insufficient-capacity`.
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or("")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}
