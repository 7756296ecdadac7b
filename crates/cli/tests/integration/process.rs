//! `allot serve` as a child process on a free loopback port: started (waiting for /readyz),
//! killed with SIGKILL, stopped with SIGTERM. Shared by the tests that need the real binary.

use reqwest::StatusCode;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tokio::time::Instant;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_allot");
/// How long a started server gets to answer /readyz, and a stopped one to exit.
pub(crate) const PROCESS_DEADLINE: Duration = Duration::from_secs(20);
/// Settings a developer's shell might export that would change what these tests start.
pub(crate) const INHERITED_SETTINGS: &[&str] = &[
    "ALLOT_ADMIN_TOKEN",
    "ALLOT_LISTEN",
    "ALLOT_DATA_DIR",
    "ALLOT_SWEEP_INTERVAL_MS",
    "ALLOT_MAX_BATCH",
    "ALLOT_LOG_FORMAT",
    "ALLOT_LOG",
    "ALLOT_SMTP_URL",
    "ALLOT_SMTP_FROM",
    "ALLOT_WAITLIST_FALLBACK_WAIT_SECONDS",
    "ALLOT_WEBHOOK_ALLOW_PRIVATE",
    "ALLOT_CORS_ORIGINS",
    "ALLOT_RATE_LIMIT",
    "RUST_LOG",
];

/// A free loopback port: bind port 0, read the port, let it go.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// `allot serve` as a child process. Dropping it kills the process, so a failing test never
/// leaves a server behind.
pub(crate) struct Server {
    child: Child,
    base_url: String,
    /// Holds the child's stderr (and stdout), written to files so a chatty child never blocks.
    logs: TempDir,
}

pub(crate) enum Start {
    Ready,
    Exited(ExitStatus),
}

impl Server {
    /// Starts `allot serve` on `data_dir` and waits for /readyz. `token`: ALLOT_ADMIN_TOKEN, or
    /// none to have the server use (or generate) the one in the data directory.
    pub(crate) async fn start(data_dir: &Path, token: Option<&str>) -> Server {
        // The free port may be taken between our probe and the child's bind: try again then.
        for attempt in 1..=3 {
            let mut server = Server::spawn(data_dir, token);
            match server.wait_ready().await {
                Start::Ready => return server,
                Start::Exited(status) => {
                    let stderr = server.stderr();
                    if attempt < 3 && stderr.contains("cannot listen") {
                        continue;
                    }
                    panic!("allot serve exited before ready ({status}):\n{stderr}");
                }
            }
        }
        unreachable!("the loop returns or panics")
    }

    pub(crate) fn spawn(data_dir: &Path, token: Option<&str>) -> Server {
        let port = free_port();
        let logs = tempfile::tempdir().expect("a log directory");
        let stdout = std::fs::File::create(logs.path().join("stdout")).expect("a stdout file");
        let stderr = std::fs::File::create(logs.path().join("stderr")).expect("a stderr file");
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for name in INHERITED_SETTINGS {
            command.env_remove(name);
        }
        if let Some(token) = token {
            command.env("ALLOT_ADMIN_TOKEN", token);
        }
        // The tests' webhook receivers listen on loopback.
        command.env("ALLOT_WEBHOOK_ALLOW_PRIVATE", "true");
        let child = command.spawn().expect("allot serve starts");
        Server {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            logs,
        }
    }

    pub(crate) async fn wait_ready(&mut self) -> Start {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("an HTTP client");
        let deadline = Instant::now() + PROCESS_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return Start::Exited(status);
            }
            if let Ok(response) = client.get(format!("{}/readyz", self.base_url)).send().await
                && response.status() == StatusCode::OK
            {
                return Start::Ready;
            }
            assert!(
                Instant::now() < deadline,
                "allot serve not ready within {PROCESS_DEADLINE:?}:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr")).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    pub(crate) fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL is delivered");
        self.child.wait().expect("the killed child is reaped")
    }

    /// SIGTERM, then waits (bounded) for the process to exit on its own.
    pub(crate) async fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -TERM failed: {sent}");
        self.wait_exit().await
    }

    pub(crate) async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PROCESS_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "allot did not exit within {PROCESS_DEADLINE:?} of SIGTERM:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
