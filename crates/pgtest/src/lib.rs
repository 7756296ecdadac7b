//! A throwaway PostgreSQL server for allot's tests: one cluster per test process, started on
//! first use, and a fresh database for each test that asks ([`database`]).
//!
//! The cluster is made with the server's own tools — `initdb` into a temporary directory, then
//! `pg_ctl start` on a free port of 127.0.0.1 with its socket in that directory — as the
//! `postgres` user when the tests run as root (CI does; PostgreSQL refuses to run as root).
//! No mocks: what the tests talk to is a real server.
//!
//! Nothing is skipped: when the binaries cannot be found, [`database`] panics saying how to
//! install them. They are looked for in `$PG_BIN`, then `/usr/lib/postgresql/<version>/bin`
//! (Debian's layout, newest version first), then `PATH`.
//!
//! **Stopping it.** A Rust static is never dropped, so the cluster cannot be stopped by a
//! destructor when the test process ends; and the process may end by a panic, an abort or a
//! kill. Instead a small watchdog shell is started beside the cluster, reading a pipe whose
//! only writer is the test process: the kernel closes that pipe however the process ends, the
//! watchdog's read returns, and it stops the server (`pg_ctl stop -m immediate`) and removes
//! the directory. The server is gone within a second of the test process.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// What to tell someone whose machine lacks the server.
const INSTALL_HINT: &str = "install PostgreSQL's server binaries (Debian/Ubuntu: \
     `apt-get install postgresql`), or set PG_BIN to the directory holding initdb and pg_ctl";

/// The unprivileged user the Debian package creates, who runs the server when tests run as root.
const SERVER_USER: &str = "postgres";

/// Tries at a free port: another process may take the port between our probe and the start.
const START_ATTEMPTS: usize = 3;

/// A database made for one test on the process's cluster.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// `postgres://postgres@127.0.0.1:PORT/NAME`, for the store under test.
    pub url: String,
    pub name: String,
}

/// A fresh, empty database on this process's cluster (started on first use). Panics, saying
/// why and how to fix it, when no server can be started.
pub fn database() -> TestDatabase {
    let cluster = match cluster() {
        Ok(cluster) => cluster,
        Err(why) => panic!("PostgreSQL tests cannot run: {why}"),
    };
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    // On a thread of its own: the synchronous client runs a small runtime, which cannot start
    // inside an async test's.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut admin =
                    postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls)
                        .unwrap_or_else(|error| {
                            panic!("the test cluster does not answer: {error}")
                        });
                // CREATE DATABASE copies template1 under a lock: tests starting together take turns.
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|error| {
                        panic!("cannot create the test database {name}: {error}")
                    });
            })
            .join()
    })
    .unwrap_or_else(|_| panic!("the test database {name} was not made (the panic is above)"));
    TestDatabase {
        url: cluster.url(&name),
        name,
    }
}

/// The process's cluster, or why it could not start (kept, so every test reports the same).
fn cluster() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER
        .get_or_init(Cluster::start)
        .as_ref()
        .map_err(Clone::clone)
}

struct Cluster {
    port: u16,
    /// The watchdog's stdin: never written, only held, so that it closes when this process
    /// ends. A Mutex only to make the static `Sync`.
    _lifeline: Mutex<ChildStdin>,
    _watchdog: Mutex<Child>,
}

impl Cluster {
    fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SERVER_USER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    fn start() -> Result<Cluster, String> {
        let bin = binaries()?;
        let as_user = server_user()?;
        let dir = tempfile::Builder::new()
            .prefix("allot-pg-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?
            // Removed by the watchdog once the server is stopped, not when this value drops.
            .keep();
        if let Some(user) = &as_user {
            run(Command::new("chown").arg(user).arg(&dir))?;
        }
        let data = dir.join("data");
        let log = dir.join("server.log");
        // The watchdog first: whatever happens from here on, the directory goes with us.
        let (watchdog, lifeline) = watchdog(&bin, as_user.as_deref(), &dir, &data)?;
        run(as_server(as_user.as_deref(), &bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username",
                SERVER_USER,
                "--encoding=UTF8",
                "--no-sync",
            ])
            .arg("--locale=C")
            .arg("-D")
            .arg(&data))?;
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            // fsync off: this cluster is thrown away, its durability is never tested. The
            // socket lives in our directory, so tests never touch a system server's.
            let options = format!(
                "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
                 -c fsync=off -c full_page_writes=off -c max_connections=200",
                dir.display()
            );
            let started = run(as_server(as_user.as_deref(), &bin.join("pg_ctl"))
                .arg("start")
                .arg("--wait")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .arg("-o")
                .arg(&options));
            match started {
                Ok(()) => {
                    return Ok(Cluster {
                        port,
                        _lifeline: Mutex::new(lifeline),
                        _watchdog: Mutex::new(watchdog),
                    });
                }
                Err(why) => {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    last_failure = format!("{why}\n{log}");
                }
            }
        }
        Err(format!(
            "the test cluster did not start on a free port in {START_ATTEMPTS} tries: {last_failure}"
        ))
    }
}

/// Starts the shell that stops the cluster and removes `dir` once this process has ended
/// (see the module's comment), and the pipe that keeps it waiting.
fn watchdog(
    bin: &Path,
    as_user: Option<&str>,
    dir: &Path,
    data: &Path,
) -> Result<(Child, ChildStdin), String> {
    let stop = as_server(as_user, &bin.join("pg_ctl"));
    let mut command = Command::new("sh");
    // `cat` returns at end of input, which comes when our end of the pipe closes. The stop
    // is run only if the cluster was made (its PID file exists); the directory goes anyway.
    command
        .arg("-c")
        .arg(
            r#"cat >/dev/null; if [ -f "$ALLOT_PG_DATA/postmaster.pid" ]; then "$@" >/dev/null 2>&1; fi; rm -rf "$ALLOT_PG_DIR""#,
        )
        .arg("allot-pg-watchdog")
        .arg(stop.get_program())
        .args(stop.get_args())
        .arg("stop")
        .arg("-D")
        .arg(data)
        .args(["-m", "immediate", "--wait"])
        .env("ALLOT_PG_DATA", data)
        .env("ALLOT_PG_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the cluster's watchdog (sh): {e}"))?;
    let mut lifeline = child
        .stdin
        .take()
        .ok_or("the watchdog has no stdin to wait on")?;
    // Nothing is ever written; flushing proves the pipe is open.
    lifeline
        .flush()
        .map_err(|e| format!("the watchdog's pipe is closed: {e}"))?;
    Ok((child, lifeline))
}

/// `program`, run as the server's user when we are root.
fn as_server(as_user: Option<&str>, program: &Path) -> Command {
    match as_user {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// `Some("postgres")` when this process is root, which PostgreSQL refuses to run as.
fn server_user() -> Result<Option<String>, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run `id -u`: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok(None);
    }
    let known = Command::new("id")
        .arg(SERVER_USER)
        .output()
        .map_err(|e| format!("cannot run `id {SERVER_USER}`: {e}"))?;
    if !known.status.success() {
        return Err(format!(
            "running as root, PostgreSQL needs an unprivileged user `{SERVER_USER}`, which does \
             not exist: {INSTALL_HINT} (the package creates it)"
        ));
    }
    Ok(Some(SERVER_USER.to_owned()))
}

/// The directory with `initdb` and `pg_ctl`.
fn binaries() -> Result<PathBuf, String> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        return if has_tools(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "PG_BIN is {}, which has no initdb and pg_ctl: {INSTALL_HINT}",
                dir.display()
            ))
        };
    }
    // Debian installs each major version side by side: take the newest.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| has_tools(dir))
        .ok_or_else(|| {
            format!(
                "no initdb and pg_ctl in $PG_BIN, /usr/lib/postgresql/*/bin or PATH: {INSTALL_HINT}"
            )
        })
}

/// A port nothing listens on right now (the OS picks it).
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("no local address: {e}"))
}

/// Runs a command to its end; its output is the error when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{:?} failed ({}): {}{}",
        command,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_database_is_fresh_and_answers() {
        let (first, second) = (database(), database());
        assert_ne!(first.name, second.name);
        for db in [&first, &second] {
            let mut client =
                postgres::Client::connect(&db.url, postgres::NoTls).expect("the database answers");
            let tables: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
                    &[],
                )
                .expect("a query runs")
                .get(0);
            assert_eq!(tables, 0, "{} is empty", db.name);
            let user: String = client
                .query_one("SELECT current_user::text", &[])
                .expect("a query runs")
                .get(0);
            assert_eq!(user, SERVER_USER);
        }
    }
}
