//! The store chosen by URL: `serve`, `verify` and `backup` with `--database sqlite://…` or
//! `ALLOT_DATABASE_URL` use that file (the data directory keeps only the server's own files), and
//! a URL they cannot use is refused with a plain message and exit 1.

use crate::process::{BIN, INHERITED_SETTINGS, Launch, PROCESS_DEADLINE, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

const TOKEN: &str = "database-url-admin-token-0123456789";

/// What a finished `allot` run left: its status, stdout and stderr.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `allot ARGS` in `cwd` with `env` to completion (bounded).
async fn run_allot(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for name in INHERITED_SETTINGS {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = tokio::time::timeout(PROCESS_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("allot {args:?} did not finish within {PROCESS_DEADLINE:?}"))
        .expect("allot runs");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

async fn post(server: &Server, path: &str, token: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|error| panic!("POST {path}: no answer: {error}"));
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body
}

/// One tenant, one pool and one hold of 2 on it: what the tests then look for in the database.
async fn write_one_hold(server: &Server) {
    let tenant = post(server, "/v1/tenants", TOKEN, json!({"name": "Acme"})).await;
    let key = tenant["api_key"].as_str().expect("an api_key");
    let pool = post(
        server,
        "/v1/pools",
        key,
        json!({"name": "Seats", "capacity": 10}),
    )
    .await;
    let pool_id = pool["id"].as_str().expect("a pool id");
    post(
        server,
        "/v1/holds",
        key,
        json!({"lines": [{"pool_id": pool_id, "quantity": 2}]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_verify_and_backup_use_the_sqlite_file_the_url_names() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let data_dir = root.path().join("data");
    // Absolute, in a directory that does not exist yet: serve creates it.
    let database = root.path().join("elsewhere").join("custom.db");
    let url = format!("sqlite://{}", utf8(&database));

    let launch = Launch {
        args: vec![OsString::from("--database"), OsString::from(&url)],
        ..Launch::default()
    };
    let mut server = Server::start_with(&data_dir, Some(TOKEN), &launch).await;
    write_one_hold(&server).await;
    let status = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", server.stderr());

    assert!(database.is_file(), "the database is where the URL says");
    assert!(
        !data_dir.join("allot.db").exists(),
        "no database in the data directory"
    );
    assert!(
        data_dir.join("ticket-key").is_file(),
        "the data directory still keeps the ticket key"
    );

    // verify reads that file: absolute, and relative to the working directory.
    for given in [url.clone(), "sqlite://elsewhere/custom.db".to_owned()] {
        let run = run_allot(root.path(), &["verify", "--database", &given], &[]).await;
        assert_eq!(run.status.code(), Some(0), "{given}: {}", run.stderr);
        assert!(
            run.stdout.contains("checked 1 pools") && run.stdout.contains("1 live holds"),
            "{given}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("ok: every pool's counters match"));
    }
    // The data directory's own database is not what --database checks: it does not exist.
    let plain = run_allot(root.path(), &["verify", "--data-dir", utf8(&data_dir)], &[]).await;
    assert_eq!(plain.status.code(), Some(1), "{}", plain.stdout);
    assert!(
        plain.stderr.contains("no allot database"),
        "{}",
        plain.stderr
    );

    // backup copies the database through the store and the ticket key from the data directory,
    // into a data directory a plain `verify --data-dir` (and a server) starts from.
    let to = root.path().join("backup");
    let run = run_allot(
        root.path(),
        &[
            "backup",
            "--database",
            &url,
            "--data-dir",
            utf8(&data_dir),
            "--to",
            utf8(&to),
        ],
        &[],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("backed up {url} and")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("no --database"), "{}", run.stdout);
    assert_eq!(
        std::fs::read(to.join("ticket-key")).expect("the ticket key was copied"),
        std::fs::read(data_dir.join("ticket-key")).expect("the original")
    );
    let restored = run_allot(root.path(), &["verify", "--data-dir", utf8(&to)], &[]).await;
    assert_eq!(restored.status.code(), Some(0), "{}", restored.stderr);
    assert!(
        restored.stdout.contains("1 live holds"),
        "{}",
        restored.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allot_database_url_in_the_environment_is_honoured_and_the_flag_wins_over_it() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let data_dir = root.path().join("data");
    let database = root.path().join("from-env.db");
    let url = format!("sqlite://{}", utf8(&database));

    let launch = Launch {
        env: vec![("ALLOT_DATABASE_URL", OsString::from(&url))],
        ..Launch::default()
    };
    let mut server = Server::start_with(&data_dir, Some(TOKEN), &launch).await;
    write_one_hold(&server).await;
    let status = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(
        database.is_file(),
        "the database is where the variable says"
    );
    assert!(!data_dir.join("allot.db").exists());

    let env = [("ALLOT_DATABASE_URL", url.as_str())];
    let run = run_allot(root.path(), &["verify"], &env).await;
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("1 live holds"), "{}", run.stdout);

    let to = root.path().join("backup");
    let run = run_allot(
        root.path(),
        &["backup", "--data-dir", utf8(&data_dir), "--to", utf8(&to)],
        &env,
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(to.join("allot.db").is_file());

    // The flag names another (missing) file: it is the one used.
    let missing = root.path().join("missing.db");
    let flag = format!("sqlite://{}", utf8(&missing));
    let run = run_allot(root.path(), &["verify", "--database", &flag], &env).await;
    assert_eq!(run.status.code(), Some(1), "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("no allot database at {}", missing.display())),
        "{}",
        run.stderr
    );
    assert!(!missing.exists(), "verify never creates a database");
}

/// A refusal: exit 1, one plain line naming the problem, no panic, no listening.
fn assert_refused(run: &Run, expected: &str, what: &str) {
    assert_eq!(
        run.status.code(),
        Some(1),
        "{what}: {}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.starts_with("allot: "), "{what}: {}", run.stderr);
    assert!(run.stderr.contains(expected), "{what}: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
    assert!(
        !run.stderr.contains("allot is listening"),
        "{what}: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_url_allot_cannot_use_is_refused_plainly() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let data_dir = root.path().join("data");
    let data = utf8(&data_dir);
    let to = root.path().join("backup");
    let to = utf8(&to);
    let commands: [&[&str]; 3] = [
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", data],
        &["verify", "--data-dir", data],
        &["backup", "--data-dir", data, "--to", to],
    ];
    let refusals = [
        ("./allot.db", "write sqlite://./allot.db"),
        ("mysql://root:hunter2@localhost/allot", "\"mysql\""),
        ("", "the database URL is empty"),
        ("sqlite://", "names no file"),
        ("not a url at all", "is a path, not a database URL"),
    ];
    for command in commands {
        for (url, expected) in refusals {
            let mut args = command.to_vec();
            args.extend(["--database", url]);
            let run = run_allot(root.path(), &args, &[]).await;
            assert_refused(&run, expected, &format!("{args:?}"));
            assert!(run.stderr.contains("sqlite://PATH"), "{}", run.stderr);
            assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
        }
        // The same from the environment.
        let run = run_allot(
            root.path(),
            command,
            &[("ALLOT_DATABASE_URL", "redis://localhost")],
        )
        .await;
        assert_refused(&run, "ALLOT_DATABASE_URL", &format!("{command:?} with env"));
        // PostgreSQL where none listens (port 1): neither the server nor the operator's tools
        // can reach it, and the password stays hidden.
        let mut args = command.to_vec();
        args.extend(["--database", "postgres://allot:hunter2@127.0.0.1:1/allot"]);
        let run = run_allot(root.path(), &args, &[]).await;
        let expected = "cannot connect to postgres://allot:***@127.0.0.1:1/allot";
        assert_refused(&run, expected, &format!("{args:?}"));
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    }
    // Nothing was made: no data directory, no backup, no database file.
    assert!(
        !data_dir.exists(),
        "a refused start leaves no data directory"
    );
    assert!(!root.path().join("backup").exists());
    assert!(!root.path().join("allot.db").exists());
}
