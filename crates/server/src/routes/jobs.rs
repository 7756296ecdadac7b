//! Background jobs: progress, failures and the final report.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::jobs::{GenerateParams, KIND_GENERATE_TICKETS, rate_per_second};
use crate::state::AppState;
use crate::views::rfc3339;
use allot_store::jobs::{JobItem, JobView};
use allot_store::{PageRequest, Role};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Failures a job's answer lists; the report has all of them.
const LISTED_FAILURES: usize = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct JobFailureBody {
    /// The item's position in the job, from 0.
    pub position: i64,
    /// What failed: for ticket generation, the attendee id.
    pub item: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobBody {
    pub id: String,
    #[schema(example = "tickets.generate")]
    pub kind: String,
    /// queued, running, done or failed.
    pub status: String,
    pub params: serde_json::Value,
    /// Items to look at: an estimate until the job is done.
    pub total: i64,
    /// Items looked at so far: created + skipped + failed.
    pub done: i64,
    pub created: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Items per second since the job was created.
    pub rate_per_sec: f64,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// The first 100 failed items.
    pub failures: Vec<JobFailureBody>,
    pub report_url: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

impl JobBody {
    pub fn new(job: &JobView, failures: Vec<JobItem>) -> Self {
        JobBody {
            id: job.id.clone(),
            kind: job.kind.clone(),
            status: job.status.as_str().to_owned(),
            params: job.params.clone(),
            total: job.total,
            done: job.counters.done,
            created: job.counters.created,
            skipped: job.counters.skipped,
            failed: job.counters.failed,
            rate_per_sec: rate_per_second(job),
            error: job.error.clone(),
            failures: failures
                .into_iter()
                .map(|item| JobFailureBody {
                    position: item.seq,
                    item: item.item,
                    reason: item.reason,
                })
                .collect(),
            report_url: format!("/v1/jobs/{}/report.csv", job.id),
            created_at: rfc3339(job.created_at),
            started_at: job.started_at.map(rfc3339),
            updated_at: rfc3339(job.updated_at),
            finished_at: job.finished_at.map(rfc3339),
        }
    }
}

/// A job's progress: counters, rate, and the first failures with their reasons.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs",
    responses((status = 200, body = JobBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let job = state
        .store
        .get_job(&caller.tenant, &id)?
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    let failures =
        state
            .store
            .job_items(&caller.tenant, &id, Some("failed"), -1, LISTED_FAILURES)?;
    Ok(Json(JobBody::new(&job, failures)))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct JobListQuery {
    /// Only jobs of this kind: `tickets.generate` or `quotas.adjust`.
    pub kind: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// The tenant's jobs, newest first, with their progress (failures are listed per job).
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(JobListQuery),
    responses((status = 200, body = crate::views::Page<JobBody>), (status = 400)), security(("bearer" = [])))]
pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::Query(query): crate::extract::Query<JobListQuery>,
) -> Result<Json<crate::views::Page<JobBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = super::PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .to_request()?;
    let found = state
        .store
        .list_jobs(&caller.tenant, query.kind.as_deref(), page)?;
    Ok(Json(crate::views::Page {
        items: found
            .items
            .iter()
            .map(|job| JobBody::new(job, Vec::new()))
            .collect(),
        next_cursor: found.next_cursor,
    }))
}

/// Quotes a CSV field when it needs it.
fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_line(out: &mut String, fields: &[&str]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push('\n');
}

/// A job's report being written: where the next page comes from.
struct Report {
    state: AppState,
    tenant: allot_store::TenantId,
    job_id: String,
    part: ReportPart,
}

enum ReportPart {
    /// The tickets the job issued, in id order, after a cursor.
    Tickets {
        event_id: String,
        after: Option<String>,
    },
    /// The skipped and failed items, by position.
    Items {
        after_seq: i64,
    },
    Done,
}

impl Report {
    /// The next page of CSV lines; `None` once the report is complete. A store error ends the
    /// body early (the client sees a cut-off transfer, not a shorter report that looks whole).
    fn next_page(&mut self) -> Result<Option<String>, allot_store::StoreError> {
        let mut out = String::new();
        match &mut self.part {
            ReportPart::Tickets { event_id, after } => {
                let page = self.state.store.list_tickets(
                    &self.tenant,
                    event_id,
                    None,
                    Some(&self.job_id),
                    PageRequest {
                        limit: allot_store::MAX_PAGE_SIZE,
                        after: after.take(),
                    },
                )?;
                for item in page.as_ref().map_or(&[][..], |page| &page.items[..]) {
                    csv_line(
                        &mut out,
                        &[
                            "created",
                            &item.ticket.attendee_id,
                            &item.external_id,
                            &item.ticket.id,
                            &item.ticket.code,
                            "",
                        ],
                    );
                }
                match page.and_then(|page| page.next_cursor) {
                    Some(next) => *after = Some(next),
                    None => self.part = ReportPart::Items { after_seq: -1 },
                }
            }
            ReportPart::Items { after_seq } => {
                let items = self.state.store.job_items(
                    &self.tenant,
                    &self.job_id,
                    None,
                    *after_seq,
                    allot_store::MAX_PAGE_SIZE,
                )?;
                for item in &items {
                    csv_line(
                        &mut out,
                        &[&item.outcome, &item.item, "", "", "", &item.reason],
                    );
                }
                match items.last() {
                    Some(last) if items.len() == allot_store::MAX_PAGE_SIZE => {
                        *after_seq = last.seq;
                    }
                    _ => self.part = ReportPart::Done,
                }
            }
            ReportPart::Done => return Ok(None),
        }
        Ok(Some(out))
    }
}

/// The job's report as CSV: one line per item with its outcome (`created`, `skipped` or
/// `failed`): created tickets first, then skipped and failed items with their reasons.
#[utoipa::path(get, path = "/v1/jobs/{id}/report.csv", tag = "jobs",
    responses((status = 200, content_type = "text/csv", body = String), (status = 404)),
    security(("bearer" = [])))]
pub async fn job_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let job = state
        .store
        .get_job(&caller.tenant, &id)?
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    // Ticket generation reports the tickets it issued (or last reissued) first.
    let tickets_of = (job.kind == KIND_GENERATE_TICKETS)
        .then(|| serde_json::from_value::<GenerateParams>(job.params.clone()).ok())
        .flatten()
        .map(|params| params.event_id);
    let report = Report {
        state,
        tenant: caller.tenant,
        job_id: job.id,
        part: match tickets_of {
            Some(event_id) => ReportPart::Tickets {
                event_id,
                after: None,
            },
            None => ReportPart::Items { after_seq: -1 },
        },
    };
    // Sent a page at a time, so a report of a million tickets never sits whole in memory.
    let mut header_line = String::new();
    csv_line(
        &mut header_line,
        &[
            "outcome",
            "item",
            "external_id",
            "ticket_id",
            "code",
            "reason",
        ],
    );
    let pages = futures_util::stream::unfold(report, |mut report| async move {
        let page = match report.next_page() {
            Ok(page) => Ok(page?),
            Err(error) => {
                tracing::warn!(%error, job = %report.job_id, "a job report was cut short");
                report.part = ReportPart::Done;
                Err(error)
            }
        };
        Some((page, report))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(header_line) }),
        pages,
    );
    let mut response = axum::body::Body::from_stream(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}
