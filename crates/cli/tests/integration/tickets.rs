//! Graduation tickets: attendees, bulk ticket generation as a job, QR codes, the PDF, check-in,
//! and the CLI against a running server.

use crate::helpers::*;
use crate::process::{BIN, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

/// An event pool with sections under it; returns the event's id and the sections' ids.
async fn event(
    app: &TestApp,
    key: &str,
    capacity: i64,
    sections: &[(&str, i64)],
) -> (String, Vec<String>) {
    let event = app
        .pool(
            key,
            json!({ "name": "Wisuda 2025", "capacity": capacity, "unit": "seats" }),
        )
        .await;
    let mut ids = Vec::new();
    for (name, capacity) in sections {
        ids.push(
            app.pool(
                key,
                json!({ "name": name, "capacity": capacity, "parent_id": event }),
            )
            .await,
        );
    }
    (event, ids)
}

async fn import_csv(app: &TestApp, key: &str, event: &str, csv: &str) -> RawReply {
    app.call_raw(
        Method::POST,
        &format!("/v1/pools/{event}/attendees"),
        Some(key),
        Some(csv.as_bytes().to_vec()),
        &[("content-type", "text/csv")],
    )
    .await
}

/// Imports `count` attendees named `p1`.. and returns their ids in import order.
async fn attendees(app: &TestApp, key: &str, event: &str, count: usize) -> Vec<String> {
    let rows: Vec<Value> = (1..=count)
        .map(|i| json!({ "external_id": format!("p{i:04}"), "name": format!("Person {i}") }))
        .collect();
    let reply = app
        .post(
            &format!("/v1/pools/{event}/attendees"),
            key,
            Value::Array(rows),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["created"], count as u64, "{}", reply.body);
    reply.body["attendees"]
        .as_array()
        .expect("the attendees' ids")
        .iter()
        .map(|a| a["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Starts a generation job and returns its id.
async fn start_generate(app: &TestApp, key: &str, event: &str, body: Value) -> String {
    let reply = app
        .post(&format!("/v1/pools/{event}/tickets/generate"), key, body)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["id"].as_str().expect("a job id").to_owned()
}

async fn wait_job(app: &TestApp, key: &str, job: &str) -> Value {
    // A bound on waiting, not a speed target: the large job's 3,000 writer round trips take
    // seconds alone and much longer on a machine busy with the rest of the suite.
    eventually(Duration::from_secs(90), "the job finishes", || async {
        let reply = app.get(&format!("/v1/jobs/{job}"), key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        matches!(reply.body["status"].as_str(), Some("done" | "failed")).then_some(reply.body)
    })
    .await
}

async fn generate(app: &TestApp, key: &str, event: &str, body: Value) -> Value {
    let job = start_generate(app, key, event, body).await;
    wait_job(app, key, &job).await
}

fn counts(job: &Value) -> (i64, i64, i64) {
    (
        job["created"].as_i64().expect("created"),
        job["skipped"].as_i64().expect("skipped"),
        job["failed"].as_i64().expect("failed"),
    )
}

/// The ticket of an attendee, read with its token.
async fn ticket_of(app: &TestApp, key: &str, event: &str, attendee: &str) -> Value {
    let all = app
        .all_pages(&format!("/v1/pools/{event}/attendees"), key, 1000)
        .await;
    let found = all
        .iter()
        .find(|a| a["id"] == attendee)
        .expect("the attendee is listed");
    let ticket = found["ticket_id"]
        .as_str()
        .expect("the attendee has a ticket");
    let reply = app.get(&format!("/v1/tickets/{ticket}"), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn check_in(app: &TestApp, key: &str, token: &str) -> Reply {
    app.post("/v1/checkins", key, json!({ "token": token }))
        .await
}

fn assert_verify_clean(app: &TestApp) {
    let report = allot_store::sqlite::verify(app.data_dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
}

#[tokio::test]
async fn importing_attendees_lands_good_rows_and_reports_bad_ones_by_line() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, sections) = event(&app, &key, 100, &[("Hall A", 50)]).await;

    let csv = "external_id,name,email,section\n\
               s1,Siti Rahma,siti@example.org,Hall A\n\
               s2,,nobody@example.org,\n\
               s3,Budi,not-an-email,\n\
               s4,Dewi,,Hall Z\n\
               s5,Eko,,\n";
    let reply = import_csv(&app, &key, &event, csv).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["created"], 2, "{body}");
    assert_eq!(body["updated"], 0);
    assert_eq!(body["failed"], 3);
    let failures: Vec<(u64, String)> = body["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().expect("a line"),
                f["field"].as_str().expect("a field").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        vec![
            (3, "name".to_owned()),
            (4, "email".to_owned()),
            (5, "section".to_owned())
        ]
    );

    // Upsert on external_id: a second import updates, a JSON object and array work too.
    let again = import_csv(&app, &key, &event, "external_id,name\ns1,Siti R.\n").await;
    assert_eq!(again.json()["updated"], 1, "{}", again.json());
    let one = app
        .post(
            &format!("/v1/pools/{event}/attendees"),
            &key,
            json!({ "external_id": "s6", "name": "Fajar", "section": sections[0] }),
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["created"], 1);
    let many = app
        .post(
            &format!("/v1/pools/{event}/attendees"),
            &key,
            json!([{ "external_id": "s7", "name": "Gita" }, { "external_id": "s8" }, 42]),
        )
        .await;
    assert_eq!(many.body["created"], 1, "{}", many.body);
    assert_eq!(many.body["failed"], 2, "{}", many.body);
    assert_eq!(many.body["failures"][0]["line"], 2);

    // A single object with a mistake is a 400 naming the field; other media types are 415.
    app.post(
        &format!("/v1/pools/{event}/attendees"),
        &key,
        json!({ "external_id": "s9", "name": " " }),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "validation");
    app.call_raw(
        Method::POST,
        &format!("/v1/pools/{event}/attendees"),
        Some(&key),
        Some(b"s1;Siti".to_vec()),
        &[("content-type", "text/plain")],
    )
    .await
    .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type");
    import_csv(&app, &key, &event, "id,full_name\n1,Ann\n")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");

    let listed = app
        .all_pages(&format!("/v1/pools/{event}/attendees"), &key, 2)
        .await;
    let names: Vec<&str> = listed
        .iter()
        .map(|a| a["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, vec!["Siti R.", "Eko", "Fajar", "Gita"]);
    assert_eq!(listed[0]["section_id"], sections[0].as_str());
    assert_eq!(listed[0]["has_ticket"], false);
    let count = app
        .get(&format!("/v1/pools/{event}/tickets/missing/count"), &key)
        .await;
    assert_eq!(count.body["missing"], 4, "{}", count.body);
    app.get("/v1/pools/pool_nope/attendees", &key)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn generation_skips_existing_tickets_honours_limit_and_regenerates() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, _) = event(&app, &key, 100, &[]).await;
    let people = attendees(&app, &key, &event, 10).await;

    let first = generate(&app, &key, &event, json!({ "limit": 3, "chunk": 2 })).await;
    assert_eq!(first["status"], "done", "{first}");
    assert_eq!(counts(&first), (3, 0, 0));
    assert_eq!(first["total"], 3);
    let missing = app
        .all_pages(&format!("/v1/pools/{event}/tickets/missing"), &key, 100)
        .await;
    assert_eq!(missing.len(), 7);
    assert!(
        missing
            .iter()
            .all(|a| !people[..3].contains(&a["id"].as_str().unwrap_or("").to_owned()))
    );

    let second = generate(&app, &key, &event, json!({})).await;
    assert_eq!(counts(&second), (7, 3, 0), "{second}");
    let ticket_before = ticket_of(&app, &key, &event, &people[0]).await;

    // Regenerating gives every valid ticket a new token and code, never a second ticket.
    let third = generate(
        &app,
        &key,
        &event,
        json!({ "skip_existing": false, "chunk": 4 }),
    )
    .await;
    assert_eq!(counts(&third), (10, 0, 0), "{third}");
    let ticket_after = ticket_of(&app, &key, &event, &people[0]).await;
    assert_eq!(ticket_before["id"], ticket_after["id"]);
    assert_ne!(ticket_before["token"], ticket_after["token"]);
    check_in(
        &app,
        &key,
        ticket_before["token"].as_str().expect("a token"),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not-found");

    // Only some attendees: the ones named.
    let only = generate(
        &app,
        &key,
        &event,
        json!({ "attendee_ids": [people[4], people[2], "att_unknown"], "skip_existing": true }),
    )
    .await;
    assert_eq!(counts(&only), (0, 2, 1), "{only}");
    assert_eq!(only["failures"][0]["item"], "att_unknown");

    let tickets = app
        .all_pages(&format!("/v1/pools/{event}/tickets"), &key, 3)
        .await;
    assert_eq!(tickets.len(), 10);
    let unique: HashSet<&str> = tickets
        .iter()
        .map(|t| t["attendee_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(unique.len(), 10);
    let (held, committed, _) = app.counters(&key, &event).await;
    assert_eq!((held, committed), (0, 10));
    assert_verify_clean(&app);
}

#[tokio::test]
async fn a_full_event_reports_no_capacity_per_attendee_and_is_never_oversold() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, sections) = event(&app, &key, 5, &[("Hall A", 2)]).await;
    // Two attendees in a section that has room for two... and one more that does not fit.
    let csv =
        "external_id,name,section\na,A,Hall A\nb,B,Hall A\nc,C,Hall A\nd,D,\ne,E,\nf,F,\ng,G,\n";
    assert_eq!(
        import_csv(&app, &key, &event, csv).await.json()["created"],
        7
    );

    let job = generate(&app, &key, &event, json!({ "chunk": 3 })).await;
    assert_eq!(job["status"], "done");
    let (created, skipped, failed) = counts(&job);
    assert_eq!((created, skipped, failed), (5, 0, 2), "{job}");
    assert_eq!(job["total"], 7);
    let reasons: Vec<&str> = job["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["reason"].as_str().expect("a reason"))
        .collect();
    assert_eq!(reasons, vec!["no capacity", "no capacity"]);
    assert!(job["rate_per_sec"].as_f64().expect("a rate") > 0.0);

    let (_, committed, available) = app.counters(&key, &event).await;
    assert_eq!((committed, available), (5, 0));
    let (_, section_committed, _) = app.counters(&key, &sections[0]).await;
    assert_eq!(section_committed, 2);

    let report = app
        .call_raw(
            Method::GET,
            &format!("/v1/jobs/{}/report.csv", job["id"].as_str().unwrap_or("")),
            Some(&key),
            None,
            &[],
        )
        .await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let text = String::from_utf8(report.bytes.clone()).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("outcome,item,external_id,ticket_id,code,reason")
    );
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest.iter().filter(|l| l.starts_with("created,")).count(), 5);
    assert_eq!(
        rest.iter()
            .filter(|l| l.starts_with("failed,") && l.ends_with(",no capacity"))
            .count(),
        2
    );

    // Voiding gives the unit back. A void ticket does not count as the attendee's ticket, so the
    // next run issues the unit again (here to the same attendee, first in line).
    let some_ticket = app
        .all_pages(&format!("/v1/pools/{event}/tickets"), &key, 10)
        .await[0]["id"]
        .as_str()
        .expect("a ticket")
        .to_owned();
    let voided = app
        .post(&format!("/v1/tickets/{some_ticket}/void"), &key, json!({}))
        .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);
    assert_eq!(voided.body["status"], "void");
    app.post(&format!("/v1/tickets/{some_ticket}/void"), &key, json!({}))
        .await
        .assert_problem(StatusCode::CONFLICT, "ticket-void");
    let rerun = generate(&app, &key, &event, json!({})).await;
    assert_eq!(counts(&rerun), (1, 4, 2), "{rerun}");
    let (_, committed, _) = app.counters(&key, &event).await;
    assert_eq!(committed, 5);
    let ledger = app
        .ledger(&key, voided.body["pool_id"].as_str().expect("a pool"))
        .await;
    assert!(
        ledger
            .iter()
            .any(|e| e["kind"] == "release" && e["hold_id"] == voided.body["hold_id"])
    );
    assert_verify_clean(&app);
}

#[tokio::test]
async fn generation_is_idempotent_and_the_store_refuses_a_second_ticket() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, _) = event(&app, &key, 100, &[]).await;
    attendees(&app, &key, &event, 4).await;

    let body = json!({ "chunk": 2 });
    let path = format!("/v1/pools/{event}/tickets/generate");
    let first = app
        .post_raw(&path, &key, &body, &[("idempotency-key", "gen-1")])
        .await;
    let again = app
        .post_raw(&path, &key, &body, &[("idempotency-key", "gen-1")])
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.json()["id"], again.json()["id"]);
    let job = wait_job(&app, &key, first.json()["id"].as_str().expect("an id")).await;
    assert_eq!(counts(&job), (4, 0, 0));

    // Two jobs at once still make one ticket per attendee.
    let a = start_generate(&app, &key, &event, json!({ "skip_existing": true })).await;
    let b = start_generate(&app, &key, &event, json!({ "skip_existing": true })).await;
    assert_eq!(counts(&wait_job(&app, &key, &a).await), (0, 4, 0));
    assert_eq!(counts(&wait_job(&app, &key, &b).await), (0, 4, 0));
    assert_eq!(
        app.all_pages(&format!("/v1/pools/{event}/tickets"), &key, 100)
            .await
            .len(),
        4
    );

    // The rule is the store's own: a second live ticket for an attendee does not insert.
    let dir = app.stop().await;
    let conn = rusqlite::Connection::open(dir.path().join("allot.db")).expect("the database opens");
    let duplicate = conn.execute(
        "INSERT INTO tickets (tenant_id, id, event_id, pool_id, attendee_id, hold_id, code, token_seed, token_hash, status, issued_at)
         SELECT tenant_id, 'tkt_dup', event_id, pool_id, attendee_id, hold_id, code, token_seed, 'other-hash', 'valid', issued_at
         FROM tickets LIMIT 1",
        [],
    );
    assert!(
        duplicate.is_err(),
        "a second ticket for one attendee was stored"
    );
}

#[tokio::test]
async fn a_restart_resumes_a_queued_job() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let app = spawn_configured(dir, Options::default(), |config| config.job_worker = false).await;
    let key = app.tenant("Campus").await;
    let (event, _) = event(&app, &key, 100, &[]).await;
    attendees(&app, &key, &event, 5).await;
    let job = start_generate(&app, &key, &event, json!({ "chunk": 2 })).await;
    let queued = app.get(&format!("/v1/jobs/{job}"), &key).await;
    assert_eq!(queued.body["status"], "queued");
    assert_eq!(queued.body["total"], 5);

    let app = spawn_in(app.stop().await, Options::default()).await;
    let done = wait_job(&app, &key, &job).await;
    assert_eq!(counts(&done), (5, 0, 0), "{done}");
    assert_verify_clean(&app);
}

#[tokio::test]
async fn active_jobs_take_turns_so_a_small_job_does_not_wait_for_a_large_one() {
    // Both jobs are queued while no worker runs, the large one first.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let app = spawn_configured(dir, Options::default(), |config| config.job_worker = false).await;
    let (large, small) = (app.tenant("Stadium").await, app.tenant("Chapel").await);
    let (stadium, _) = event(&app, &large, 10_000, &[]).await;
    let csv: String = std::iter::once("external_id,name\n".to_owned())
        .chain((1..=3_000).map(|i| format!("fan{i},Fan {i}\n")))
        .collect();
    let imported = import_csv(&app, &large, &stadium, &csv).await;
    assert_eq!(imported.json()["created"], 3_000, "{}", imported.json());
    let (chapel, _) = event(&app, &small, 10, &[]).await;
    attendees(&app, &small, &chapel, 5).await;
    // Chunks of one: the large job is 3,000 writer round trips, seconds of work.
    let large_job = start_generate(&app, &large, &stadium, json!({ "chunk": 1 })).await;
    let small_job = start_generate(&app, &small, &chapel, json!({})).await;

    let app = spawn_in(app.stop().await, Options::default()).await;
    let done = wait_job(&app, &small, &small_job).await;
    assert_eq!(counts(&done), (5, 0, 0), "{done}");
    let meanwhile = app.get(&format!("/v1/jobs/{large_job}"), &large).await;
    assert_eq!(meanwhile.body["status"], "running", "{}", meanwhile.body);
    let done = wait_job(&app, &large, &large_job).await;
    assert_eq!(counts(&done), (3_000, 0, 0), "{done}");
    // Its report spans several pages, sent as they are read: every ticket once, in order.
    let report = app
        .call_raw(
            Method::GET,
            &format!("/v1/jobs/{large_job}/report.csv"),
            Some(&large),
            None,
            &[],
        )
        .await;
    assert_eq!(report.status, StatusCode::OK);
    let text = String::from_utf8(report.bytes.clone()).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "outcome,item,external_id,ticket_id,code,reason");
    let tickets: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.split(',').nth(3).unwrap_or(""))
        .collect();
    assert_eq!(tickets.len(), 3_000);
    assert!(
        tickets.windows(2).all(|pair| pair[0] < pair[1]),
        "in id order, no repeats"
    );
    assert!(lines[1..].iter().all(|line| {
        line.starts_with("created,")
            && line
                .split(',')
                .nth(2)
                .is_some_and(|id| id.starts_with("fan"))
    }));
    assert_verify_clean(&app);
}

/// Decodes the one QR code in a grayscale image.
fn decode_qr(width: usize, height: usize, pixels: &[u8]) -> String {
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the QR code decodes").1
}

/// Scales a 1-pixel-per-module image up, so the detector has edges to find.
fn upscale(side: usize, pixels: &[u8], scale: usize) -> (usize, Vec<u8>) {
    let big = side * scale;
    let mut out = vec![255u8; big * big];
    for y in 0..big {
        for x in 0..big {
            out[y * big + x] = pixels[(y / scale) * side + x / scale];
        }
    }
    (big, out)
}

fn decode_png(bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (width, height) = (info.width as usize, info.height as usize);
    decode_qr(width, height, &buffer[..width * height])
}

/// Reads the unit squares of our SVG (`M{x} {y}h1v1h-1z`) back into pixels.
fn decode_svg(svg: &str) -> String {
    let view_box = svg.split("viewBox=\"0 0 ").nth(1).expect("a viewBox");
    let side: usize = view_box
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a size");
    let path = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .expect("a path");
    let mut pixels = vec![255u8; side * side];
    for square in path.split('M').filter(|s| !s.is_empty()) {
        let corner = square.split('h').next().expect("a corner");
        let mut xy = corner
            .split(' ')
            .map(|n| n.parse::<usize>().expect("a coordinate"));
        let (x, y) = (xy.next().expect("x"), xy.next().expect("y"));
        pixels[y * side + x] = 0;
    }
    let (big, pixels) = upscale(side, &pixels, 6);
    decode_qr(big, big, &pixels)
}

/// The image XObjects of a PDF as written by pdf-writer: (width, height, raw gray bytes).
fn pdf_images(pdf: &[u8]) -> Vec<(usize, usize, Vec<u8>)> {
    let find = |haystack: &[u8], needle: &[u8], from: usize| {
        haystack[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let number = |dict: &str, key: &str| -> usize {
        dict.split(key)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {dict}"))
    };
    let mut images = Vec::new();
    let mut at = 0;
    while let Some(found) = find(pdf, b"/Subtype /Image", at) {
        let start = pdf[..found]
            .windows(3)
            .rposition(|w| w == b"obj")
            .expect("an object start");
        let stream = find(pdf, b"stream\n", found).expect("the image's stream");
        let dict = String::from_utf8_lossy(&pdf[start..stream]).into_owned();
        let (width, height, length) = (
            number(&dict, "/Width"),
            number(&dict, "/Height"),
            number(&dict, "/Length"),
        );
        let data = pdf[stream + 7..stream + 7 + length].to_vec();
        assert_eq!(data.len(), width * height, "8-bit gray, uncompressed");
        images.push((width, height, data));
        at = stream + 7 + length;
    }
    images
}

#[tokio::test]
async fn qr_codes_and_the_pdf_carry_each_tickets_magic_link() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, _) = event(&app, &key, 100, &[("Hall A", 50)]).await;
    let csv = "external_id,name,section\n1,Siti Rahma,Hall A\n2,Budi Santoso,\n3,Zoë Ærø,Hall A\n";
    assert_eq!(
        import_csv(&app, &key, &event, csv).await.json()["created"],
        3
    );
    assert_eq!(
        counts(&generate(&app, &key, &event, json!({})).await),
        (3, 0, 0)
    );
    let tickets = app
        .all_pages(&format!("/v1/pools/{event}/tickets"), &key, 100)
        .await;
    let mut links = HashSet::new();
    for listed in &tickets {
        let id = listed["id"].as_str().expect("an id");
        let ticket = app.get(&format!("/v1/tickets/{id}"), &key).await.body;
        let link = ticket["magic_link"]
            .as_str()
            .expect("a magic link")
            .to_owned();
        let token = ticket["token"].as_str().expect("a token");
        assert_eq!(link, format!("{TICKET_LINK_BASE}/{token}"));
        assert!(token.len() >= 22, "at least 128 bits");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );

        let png = app
            .call_raw(
                Method::GET,
                &format!("/v1/tickets/{id}/qr.png"),
                Some(&key),
                None,
                &[],
            )
            .await;
        assert_eq!(png.status, StatusCode::OK);
        assert_eq!(png.header("content-type"), Some("image/png"));
        assert_eq!(decode_png(&png.bytes), link);

        let svg = app
            .call_raw(
                Method::GET,
                &format!("/v1/tickets/{id}/qr.svg"),
                Some(&key),
                None,
                &[],
            )
            .await;
        assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
        assert_eq!(
            decode_svg(&String::from_utf8(svg.bytes).expect("UTF-8")),
            link
        );
        links.insert(link);
    }
    assert_eq!(links.len(), 3);

    let pdf = app
        .call_raw(
            Method::GET,
            &format!("/v1/pools/{event}/tickets.pdf"),
            Some(&key),
            None,
            &[],
        )
        .await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let bytes = &pdf.bytes;
    assert!(bytes.starts_with(b"%PDF-1."), "a PDF header");
    assert!(String::from_utf8_lossy(&bytes[bytes.len() - 8..]).contains("%%EOF"));
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(
        text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count(),
        1
    );
    for name in [
        "Siti Rahma",
        "Budi Santoso",
        "Section: Hall A",
        "Section: general",
    ] {
        assert!(text.contains(name), "the PDF shows {name}");
    }
    for ticket in &tickets {
        assert!(text.contains(ticket["code"].as_str().expect("a code")));
    }
    let images = pdf_images(bytes);
    assert_eq!(images.len(), 3, "one QR code per ticket");
    let decoded: HashSet<String> = images
        .iter()
        .map(|(width, height, data)| {
            assert_eq!(width, height);
            let (big, pixels) = upscale(*width, data, 6);
            decode_qr(big, big, &pixels)
        })
        .collect();
    assert_eq!(decoded, links);

    // Big events page: at most `limit` tickets per document, the next cursor in a header.
    let first = app
        .call_raw(
            Method::GET,
            &format!("/v1/pools/{event}/tickets.pdf?limit=2"),
            Some(&key),
            None,
            &[],
        )
        .await;
    assert_eq!(pdf_images(&first.bytes).len(), 2);
    let cursor = first
        .header("x-next-cursor")
        .expect("a next cursor")
        .to_owned();
    let rest = app
        .call_raw(
            Method::GET,
            &format!("/v1/pools/{event}/tickets.pdf?limit=2&cursor={cursor}"),
            Some(&key),
            None,
            &[],
        )
        .await;
    assert_eq!(pdf_images(&rest.bytes).len(), 1);
    assert_eq!(rest.header("x-next-cursor"), None);

    app.get("/v1/tickets/tkt_nope/qr.png", &key)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn check_in_admits_once_and_refuses_used_void_and_unknown_tokens() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, sections) = event(&app, &key, 100, &[("Hall A", 50)]).await;
    let csv = "external_id,name,section\n1,Siti,Hall A\n2,Budi,\n3,Citra,\n";
    assert_eq!(
        import_csv(&app, &key, &event, csv).await.json()["created"],
        3
    );
    assert_eq!(
        counts(&generate(&app, &key, &event, json!({})).await),
        (3, 0, 0)
    );
    let people: Vec<Value> = app
        .all_pages(&format!("/v1/pools/{event}/attendees"), &key, 100)
        .await;
    let siti = ticket_of(&app, &key, &event, people[0]["id"].as_str().unwrap_or("")).await;
    let budi = ticket_of(&app, &key, &event, people[1]["id"].as_str().unwrap_or("")).await;
    let citra = ticket_of(&app, &key, &event, people[2]["id"].as_str().unwrap_or("")).await;

    // First scan (the whole magic link, as a phone reads it): admitted, with the attendee.
    let first = check_in(&app, &key, siti["magic_link"].as_str().expect("a link")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["result"], "admitted");
    assert_eq!(first.body["attendee"]["name"], "Siti");
    assert_eq!(first.body["ticket"]["status"], "used");
    let used_at = first.body["ticket"]["used_at"]
        .as_str()
        .expect("used_at")
        .to_owned();

    let second = check_in(&app, &key, siti["token"].as_str().expect("a token")).await;
    second.assert_problem(StatusCode::CONFLICT, "ticket-used");
    assert_eq!(second.body["used_at"], used_at.as_str());
    assert!(
        second.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("already used")
    );
    app.post(
        &format!("/v1/tickets/{}/void", siti["id"].as_str().unwrap_or("")),
        &key,
        json!({}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "ticket-used");

    let voided = app
        .post(
            &format!("/v1/tickets/{}/void", budi["id"].as_str().unwrap_or("")),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);
    check_in(&app, &key, budi["token"].as_str().expect("a token"))
        .await
        .assert_problem(StatusCode::CONFLICT, "ticket-void");
    check_in(&app, &key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.post("/v1/checkins", &key, json!({ "token": "" }))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");

    // Twenty doors scan one ticket at the same moment: one admits.
    let token = citra["token"].as_str().expect("a token").to_owned();
    let scans = (0..20).map(|_| check_in(&app, &key, &token));
    let replies = futures_join_all(scans).await;
    let admitted = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.problem() == "ticket-used")
        .count();
    assert_eq!((admitted, refused), (1, 19));

    let counts = app.get(&format!("/v1/pools/{event}/checkins"), &key).await;
    assert_eq!(counts.status, StatusCode::OK, "{}", counts.body);
    assert_eq!(counts.body["checked_in"], 2);
    assert_eq!(counts.body["not_checked_in"], 0);
    assert_eq!(counts.body["void"], 1);
    let section = app
        .get(&format!("/v1/pools/{}/checkins", sections[0]), &key)
        .await;
    assert_eq!(section.body["checked_in"], 1, "{}", section.body);
    assert_verify_clean(&app);
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in set.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[tokio::test]
async fn another_tenants_tickets_attendees_jobs_and_tokens_are_not_found() {
    let app = spawn_app().await;
    let owner = app.tenant("Campus").await;
    let other = app.tenant("Elsewhere").await;
    let (event, _) = event(&app, &owner, 10, &[]).await;
    let people = attendees(&app, &owner, &event, 2).await;
    let job = generate(&app, &owner, &event, json!({})).await;
    let job_id = job["id"].as_str().expect("a job id");
    let ticket = ticket_of(&app, &owner, &event, &people[0]).await;
    let ticket_id = ticket["id"].as_str().expect("an id");
    let token = ticket["token"].as_str().expect("a token");

    for path in [
        format!("/v1/tickets/{ticket_id}"),
        format!("/v1/tickets/{ticket_id}/qr.png"),
        format!("/v1/tickets/{ticket_id}/qr.svg"),
        format!("/v1/pools/{event}/attendees"),
        format!("/v1/pools/{event}/tickets"),
        format!("/v1/pools/{event}/tickets.pdf"),
        format!("/v1/pools/{event}/tickets/missing/count"),
        format!("/v1/pools/{event}/checkins"),
        format!("/v1/jobs/{job_id}"),
        format!("/v1/jobs/{job_id}/report.csv"),
    ] {
        app.get(&path, &other)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not-found");
    }
    check_in(&app, &other, token)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.post(&format!("/v1/tickets/{ticket_id}/void"), &other, json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.post(
        &format!("/v1/pools/{event}/attendees"),
        &other,
        json!({ "external_id": "x", "name": "X" }),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.post(
        &format!("/v1/pools/{event}/tickets/generate"),
        &other,
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not-found");

    // The owner's ticket is untouched and still admits.
    let admitted = check_in(&app, &owner, token).await;
    assert_eq!(admitted.status, StatusCode::OK, "{}", admitted.body);
    // A viewer may read progress but not tokens.
    let viewer = app.key(&owner, "viewer").await;
    assert_eq!(
        app.get(&format!("/v1/jobs/{job_id}"), &viewer).await.status,
        StatusCode::OK
    );
    app.get(&format!("/v1/tickets/{ticket_id}"), &viewer)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

async fn allot(app: &TestApp, key: &str, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(BIN)
        .args(args)
        .env("ALLOT_URL", &app.base_url)
        .env("ALLOT_API_KEY", key)
        .output()
        .await
        .expect("the allot binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_imports_and_generates_with_summaries_and_exit_codes() {
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (full, _) = event(&app, &key, 3, &[]).await;
    let (roomy, _) = event(&app, &key, 100, &[]).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("students.csv");
    std::fs::write(
        &file,
        "external_id,name,email\n1,Ani,ani@example.org\n2,,\n3,Cici,\n4,Dodi,\n5,Euis,\n",
    )
    .expect("the CSV is written");
    let file = file.to_str().expect("a UTF-8 path");

    // Batches of two rows: line numbers still point into the file.
    let (code, out, err) = allot(
        &app,
        &key,
        &[
            "attendees",
            "import",
            "--event",
            &full,
            "--batch",
            "2",
            file,
        ],
    )
    .await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("created 4, updated 0, failed 1"), "{out}");
    assert!(out.contains("line 3: name: must not be empty"), "{out}");
    let (code, out, _) = allot(
        &app,
        &key,
        &["attendees", "import", "--event", &roomy, file],
    )
    .await;
    assert_eq!(code, 2);
    assert!(out.contains("created 4, updated 0, failed 1"), "{out}");

    // The full event: three tickets, one "no capacity", exit 2.
    let (code, out, err) = allot(
        &app,
        &key,
        &["tickets", "generate", "--event", &full, "--chunk", "2"],
    )
    .await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("created 3, skipped 0, failed 1"), "{out}");
    assert!(out.contains("no capacity"), "{out}");
    assert!(
        out.contains("Throughput:") && out.contains("Total time:"),
        "{out}"
    );

    // A roomy event: nothing fails, exit 0; again, everything is skipped; --regenerate reissues.
    let (code, out, _) = allot(
        &app,
        &key,
        &["tickets", "generate", "--event", &roomy, "--limit", "2"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("created 2, skipped 0, failed 0"), "{out}");
    let (code, out, _) = allot(&app, &key, &["tickets", "generate", "--event", &roomy]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("created 2, skipped 2, failed 0"), "{out}");
    let (code, out, _) = allot(
        &app,
        &key,
        &["tickets", "generate", "--event", &roomy, "--regenerate"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("created 4, skipped 0, failed 0"), "{out}");

    // Errors exit 1: an unknown event, a bad key, a missing file.
    let (code, _, err) = allot(&app, &key, &["tickets", "generate", "--event", "pool_nope"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("404"), "{err}");
    let (code, _, _) = allot(
        &app,
        "allot_wrong",
        &["tickets", "generate", "--event", &roomy],
    )
    .await;
    assert_eq!(code, 1);
    let (code, _, _) = allot(
        &app,
        &key,
        &["attendees", "import", "--event", &roomy, "/nonexistent.csv"],
    )
    .await;
    assert_eq!(code, 1);

    for args in [
        &["tickets", "generate", "--help"][..],
        &["attendees", "import", "--help"][..],
    ] {
        let (code, out, _) = allot(&app, &key, args).await;
        assert_eq!(code, 0);
        assert!(out.contains("Examples:"), "{out}");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_ticket_routes() {
    let app = spawn_app().await;
    let reply = app
        .call(Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let paths = reply.body["paths"].as_object().expect("paths");
    for path in [
        "/v1/pools/{id}/attendees",
        "/v1/pools/{id}/tickets/missing",
        "/v1/pools/{id}/tickets/missing/count",
        "/v1/pools/{id}/tickets/generate",
        "/v1/pools/{id}/tickets",
        "/v1/pools/{id}/tickets.pdf",
        "/v1/pools/{id}/checkins",
        "/v1/tickets/{id}",
        "/v1/tickets/{id}/void",
        "/v1/tickets/{id}/qr.svg",
        "/v1/tickets/{id}/qr.png",
        "/v1/checkins",
        "/v1/jobs/{id}",
        "/v1/jobs/{id}/report.csv",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
}

async fn child_call(
    server: &Server,
    method: Method,
    path: &str,
    key: &str,
    body: Option<(&str, Vec<u8>)>,
) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(key);
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let reply = request.send().await.expect("the server answers");
    assert!(reply.status().is_success(), "{path}: {}", reply.status());
    reply.json().await.expect("a JSON answer")
}

#[tokio::test]
async fn a_job_killed_mid_way_resumes_after_a_restart_and_issues_each_ticket_once() {
    const ATTENDEES: usize = 6_000;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = Server::start(dir.path(), Some(ADMIN_TOKEN)).await;
    let tenant = child_call(
        &server,
        Method::POST,
        "/v1/tenants",
        ADMIN_TOKEN,
        Some(("application/json", br#"{"name":"Campus"}"#.to_vec())),
    )
    .await;
    let key = tenant["api_key"].as_str().expect("a key").to_owned();
    let event = child_call(
        &server,
        Method::POST,
        "/v1/pools",
        &key,
        Some((
            "application/json",
            format!(r#"{{"name":"Wisuda","capacity":{ATTENDEES}}}"#).into_bytes(),
        )),
    )
    .await["id"]
        .as_str()
        .expect("a pool id")
        .to_owned();
    let mut csv = String::from("external_id,name\n");
    for i in 0..ATTENDEES {
        csv.push_str(&format!("s{i},Student {i}\n"));
    }
    let imported = child_call(
        &server,
        Method::POST,
        &format!("/v1/pools/{event}/attendees"),
        &key,
        Some(("text/csv", csv.into_bytes())),
    )
    .await;
    assert_eq!(imported["created"], ATTENDEES as u64);
    let job = child_call(
        &server,
        Method::POST,
        &format!("/v1/pools/{event}/tickets/generate"),
        &key,
        Some(("application/json", br#"{"chunk":20}"#.to_vec())),
    )
    .await["id"]
        .as_str()
        .expect("a job id")
        .to_owned();

    // SIGKILL once some chunks have landed and many remain.
    let progress = eventually(Duration::from_secs(30), "the job is under way", || async {
        let job = child_call(&server, Method::GET, &format!("/v1/jobs/{job}"), &key, None).await;
        (job["done"].as_i64().unwrap_or(0) >= 100).then_some(job)
    })
    .await;
    server.kill().await;
    assert_ne!(
        progress["status"], "done",
        "the job finished before the kill: {progress}"
    );

    let server = Server::start(dir.path(), Some(ADMIN_TOKEN)).await;
    let finished = eventually(
        Duration::from_secs(60),
        "the resumed job finishes",
        || async {
            let job =
                child_call(&server, Method::GET, &format!("/v1/jobs/{job}"), &key, None).await;
            (job["status"] == "done").then_some(job)
        },
    )
    .await;
    assert_eq!(counts(&finished), (ATTENDEES as i64, 0, 0), "{finished}");
    let missing = child_call(
        &server,
        Method::GET,
        &format!("/v1/pools/{event}/tickets/missing/count"),
        &key,
        None,
    )
    .await;
    assert_eq!(missing["missing"], 0);
    let pool = child_call(
        &server,
        Method::GET,
        &format!("/v1/pools/{event}"),
        &key,
        None,
    )
    .await;
    assert_eq!(pool["committed"], ATTENDEES as u64);
    drop(server);
    let report = allot_store::sqlite::verify(dir.path()).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(report.live_holds, ATTENDEES);
}

#[tokio::test]
async fn a_job_whose_writes_fail_for_a_while_retries_and_issues_each_ticket_once() {
    const ATTENDEES: usize = 3_000;
    let app = spawn_app().await;
    let key = app.tenant("Campus").await;
    let (event, _) = event(&app, &key, ATTENDEES as i64, &[]).await;
    let mut csv = String::from("external_id,name\n");
    for i in 0..ATTENDEES {
        csv.push_str(&format!("s{i},Student {i}\n"));
    }
    let imported = import_csv(&app, &key, &event, &csv).await;
    assert_eq!(imported.status, StatusCode::OK);
    let job = start_generate(&app, &key, &event, json!({ "chunk": 10 })).await;

    // Another process takes the database's write lock while the job runs, as a backup tool
    // might: every write, the job's chunks included, fails once the writer has waited out
    // SQLite's busy timeout.
    let blocker =
        rusqlite::Connection::open(app.data_dir.path().join(allot_store::sqlite::DATABASE_FILE))
            .expect("a second connection opens");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("the write lock is taken");
    let during = app.get(&format!("/v1/jobs/{job}"), &key).await;
    assert_ne!(during.body["status"], "done", "{}", during.body);
    let refused = app
        .post("/v1/pools", &key, json!({ "name": "Aula", "capacity": 1 }))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    blocker
        .execute_batch("ROLLBACK")
        .expect("the lock is let go");

    let done = eventually(Duration::from_secs(60), "the job finishes", || async {
        let reply = app.get(&format!("/v1/jobs/{job}"), &key).await;
        matches!(reply.body["status"].as_str(), Some("done" | "failed")).then_some(reply.body)
    })
    .await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(counts(&done), (ATTENDEES as i64, 0, 0), "{done}");
    let missing = app
        .get(&format!("/v1/pools/{event}/tickets/missing/count"), &key)
        .await;
    assert_eq!(missing.body["missing"], 0);
    let pool = app.get(&format!("/v1/pools/{event}"), &key).await;
    assert_eq!(pool.body["committed"], ATTENDEES as u64);
    assert_verify_clean(&app);
}
