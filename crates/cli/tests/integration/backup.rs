//! `allot backup` against a running server: a consistent copy, taken while holds keep arriving,
//! that a second server starts from; and what it refuses.

use crate::helpers::*;
use crate::process::BIN;
use reqwest::StatusCode;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn backup(data_dir: &Path, to: &Path) -> Output {
    Command::new(BIN)
        .arg("backup")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--to")
        .arg(to)
        .env_remove("ALLOT_DATA_DIR")
        .env_remove("ALLOT_DATABASE_URL")
        .output()
        .expect("allot backup runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_backup_taken_while_holds_arrive_is_a_data_directory_a_server_starts_from() {
    let app = Arc::new(spawn_app().await);
    let key = app.tenant("Acme").await;
    let pool = app
        .pool(&key, json!({"name": "Seats", "capacity": 100_000}))
        .await;
    // Holds keep arriving while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (app, key, pool, stop) = (app.clone(), key.clone(), pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut placed = 0;
            while !stop.load(Ordering::Relaxed) {
                let reply = app.hold(&key, &pool, 1).await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                placed += 1;
            }
            placed
        })
    };
    let target = tempfile::tempdir().expect("a temporary directory");
    let to = target.path().join("allot-backup");
    let data_dir = app.data_dir.path().to_path_buf();
    let output = {
        let (data_dir, to) = (data_dir.clone(), to.clone());
        tokio::task::spawn_blocking(move || backup(&data_dir, &to))
            .await
            .expect("the backup finishes")
    };
    stop.store(true, Ordering::Relaxed);
    let placed = traffic.await.expect("the traffic task ends");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("backed up"),
        "{}",
        text(&output.stdout)
    );

    // One consistent snapshot: it verifies on its own, with as many holds as it has entries.
    let report = allot_store::sqlite::verify(&to).expect("the copy verifies");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert!(
        report.live_holds <= placed,
        "{} of {placed}",
        report.live_holds
    );
    // The ticket key comes along (tickets' codes derive from it), readable by its owner only.
    let key_file = std::fs::read(to.join("ticket-key")).expect("the ticket key was copied");
    assert_eq!(
        key_file,
        std::fs::read(data_dir.join("ticket-key")).expect("the original")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(to.join("ticket-key"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Nothing half-made is left beside it.
    let left: Vec<String> = std::fs::read_dir(target.path())
        .expect("lists")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(left, ["allot-backup"]);

    // A server started on the copy answers with the copy's figures, to the same key.
    let restored = {
        let to = to.clone();
        spawn_configured(
            tempfile::tempdir().expect("a temporary directory"),
            Options::default(),
            move |config| config.data_dir = to,
        )
        .await
    };
    let state = restored.pool_state(&key, &pool).await;
    assert_eq!(state["held"], report.live_holds as i64, "{state}");

    // It never overwrites, and says why.
    let again = backup(&data_dir, &to);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    let missing = backup(&target.path().join("nowhere"), &target.path().join("other"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no allot database"),
        "{}",
        text(&missing.stderr)
    );
    assert!(!target.path().join("other").exists());
}
