//! `allot serve` as a child process on a free loopback port: started (ready once it logs that it
//! is listening), killed with SIGKILL, stopped with SIGTERM. Shared by the tests that need the
//! real binary. Every wait here is on an event — a log line, the child's exit — with a deadline.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_allot");
/// How long a started server gets to listen, and a stopped one to exit.
pub(crate) const PROCESS_DEADLINE: Duration = Duration::from_secs(20);
/// What `allot serve` logs once its socket is bound (connections made from then on are served).
const LISTENING: &str = "allot is listening";
/// Settings a developer's shell might export that would change what these tests start.
pub(crate) const INHERITED_SETTINGS: &[&str] = &[
    "ALLOT_ADMIN_TOKEN",
    "ALLOT_LISTEN",
    "ALLOT_DATA_DIR",
    "ALLOT_DATABASE_URL",
    "ALLOT_SWEEP_INTERVAL_MS",
    "ALLOT_MAX_BATCH",
    "ALLOT_WRITER_QUEUE",
    "ALLOT_WRITER_QUEUE_TIMEOUT_MS",
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
    /// Everything the child has written to stderr (its log), read as it comes so a chatty child
    /// never blocks.
    log: Arc<Mutex<String>>,
    /// Turns true when the child logs that it is listening.
    listening: watch::Receiver<bool>,
}

/// What a test adds to `allot serve`'s command line and environment.
#[derive(Default)]
pub(crate) struct Launch {
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(&'static str, OsString)>,
}

pub(crate) enum Start {
    Ready,
    Exited(ExitStatus),
}

impl Server {
    /// Starts `allot serve` on `data_dir` and waits until it listens. `token`: ALLOT_ADMIN_TOKEN,
    /// or none to have the server use (or generate) the one in the data directory.
    pub(crate) async fn start(data_dir: &Path, token: Option<&str>) -> Server {
        Server::start_with(data_dir, token, &Launch::default()).await
    }

    /// [`Server::start`], with `launch`'s flags and environment added.
    pub(crate) async fn start_with(
        data_dir: &Path,
        token: Option<&str>,
        launch: &Launch,
    ) -> Server {
        // The free port may be taken between our probe and the child's bind: try again then.
        for attempt in 1..=3 {
            let mut server = Server::spawn_with(data_dir, token, launch);
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

    pub(crate) fn spawn_with(data_dir: &Path, token: Option<&str>, launch: &Launch) -> Server {
        let port = free_port();
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for name in INHERITED_SETTINGS {
            command.env_remove(name);
        }
        if let Some(token) = token {
            command.env("ALLOT_ADMIN_TOKEN", token);
        }
        // The tests' webhook receivers listen on loopback.
        command.env("ALLOT_WEBHOOK_ALLOW_PRIVATE", "true");
        command.args(&launch.args);
        command.envs(launch.env.iter().map(|(name, value)| (name, value)));
        let mut child = command.spawn().expect("allot serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (said, listening) = watch::channel(false);
        let kept = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(LISTENING) {
                    said.send_replace(true);
                }
                let mut log = kept.lock().expect("not poisoned");
                log.push_str(&line);
                log.push('\n');
            }
        });
        Server {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            listening,
        }
    }

    /// Waits until the child logs that it listens, or exits first.
    pub(crate) async fn wait_ready(&mut self) -> Start {
        let mut listening = self.listening.clone();
        let outcome = tokio::time::timeout(PROCESS_DEADLINE, async {
            tokio::select! {
                said = listening.wait_for(|listening| *listening) => {
                    said.expect("the log reader keeps the sender until it ends");
                    Start::Ready
                }
                status = self.child.wait() => Start::Exited(status.expect("the child's status")),
            }
        })
        .await;
        match outcome {
            Ok(start) => start,
            Err(_) => panic!(
                "allot serve not listening within {PROCESS_DEADLINE:?}:\n{}",
                self.stderr()
            ),
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.log.lock().expect("not poisoned").clone()
    }

    /// SIGKILL: no chance to finish anything.
    pub(crate) async fn kill(&mut self) -> ExitStatus {
        self.child.start_kill().expect("SIGKILL is delivered");
        self.wait_exit().await
    }

    /// SIGTERM, then waits (bounded) for the process to exit on its own.
    pub(crate) async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("the child is running");
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -TERM failed: {sent}");
        self.wait_exit().await
    }

    pub(crate) async fn wait_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(PROCESS_DEADLINE, self.child.wait()).await {
            Ok(status) => status.expect("the child's status"),
            Err(_) => panic!(
                "allot did not exit within {PROCESS_DEADLINE:?}:\n{}",
                self.stderr()
            ),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}
