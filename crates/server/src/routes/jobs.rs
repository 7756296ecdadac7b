//! Background jobs: progress, failures and the final report.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Path;
use crate::jobs::params::{GenerateParams, KIND_GENERATE_TICKETS};
use crate::page::Page;
use crate::state::AppState;
use crate::views::JobBody;
use crate::views::jobs::LISTED_FAILURES;
use allot_core::page::MAX_PAGE_SIZE;
use allot_store::{PageRequest, Role, Store, StoreError, TenantId};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A job's progress: counters, rate, and the first failures with their reasons.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs",
    responses((status = 200, body = JobBody), (status = 404)), security(("bearer" = [])))]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobBody>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let (tenant, read_id) = (caller.tenant, id.clone());
    let found = state
        .read(move |store| {
            let Some(job) = store.get_job(&tenant, &read_id)? else {
                return Ok(None);
            };
            let failures =
                store.job_items(&tenant, &read_id, Some("failed"), -1, LISTED_FAILURES)?;
            Ok(Some((job, failures)))
        })
        .await?;
    let (job, failures) = found.ok_or_else(|| ApiError::not_found("job", &id))?;
    Ok(Json(JobBody::new(&job, failures)))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Only jobs of this kind: `tickets.generate` or `quotas.adjust`.
    pub kind: Option<String>,
    /// 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
}

/// The tenant's jobs, newest first, with their progress (failures are listed per job).
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(JobListQuery),
    responses((status = 200, body = Page<JobBody>), (status = 400)), security(("bearer" = [])))]
pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::Query(query): crate::extract::Query<JobListQuery>,
) -> Result<Json<Page<JobBody>>, ApiError> {
    let caller = caller.require(Role::Viewer)?;
    let page = crate::page::request(query.limit, query.cursor)?;
    let tenant = caller.tenant;
    let found = state
        .read(move |store| store.list_jobs(&tenant, query.kind.as_deref(), page))
        .await?;
    Ok(Json(Page::of(&found, |job| JobBody::new(job, Vec::new()))))
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
    tenant: TenantId,
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
    fn next_page(&mut self, store: &dyn Store) -> Result<Option<String>, StoreError> {
        let mut out = String::new();
        match &mut self.part {
            ReportPart::Tickets { event_id, after } => {
                let page = store.list_tickets(
                    &self.tenant,
                    event_id,
                    None,
                    Some(&self.job_id),
                    PageRequest {
                        limit: MAX_PAGE_SIZE,
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
                let items =
                    store.job_items(&self.tenant, &self.job_id, None, *after_seq, MAX_PAGE_SIZE)?;
                for item in &items {
                    csv_line(
                        &mut out,
                        &[&item.outcome, &item.item, "", "", "", &item.reason],
                    );
                }
                match items.last() {
                    Some(last) if items.len() == MAX_PAGE_SIZE => {
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
    let (tenant, read_id) = (caller.tenant.clone(), id.clone());
    let job = state
        .read(move |store| store.get_job(&tenant, &read_id))
        .await?
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    // Ticket generation reports the tickets it issued (or last reissued) first.
    let tickets_of = (job.kind == KIND_GENERATE_TICKETS)
        .then(|| serde_json::from_value::<GenerateParams>(job.params.clone()).ok())
        .flatten()
        .map(|params| params.event_id);
    let report = Report {
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
    // A store error ends the stream after yielding it, so the transfer is cut off.
    let pages = futures_util::stream::unfold(Some((state, report)), |next| async move {
        let (state, report) = next?;
        let job_id = report.job_id.clone();
        let read = state
            .read(move |store| {
                let mut report = report;
                let page = report.next_page(store)?;
                Ok((page, report))
            })
            .await;
        match read {
            Ok((Some(page), report)) => Some((Ok(page), Some((state, report)))),
            Ok((None, _)) => None,
            Err(error) => {
                tracing::warn!(%error, job = %job_id, "a job report was cut short");
                Some((Err(error), None))
            }
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, crate::state::ReadError>(header_line) }),
        pages,
    );
    let mut response = axum::body::Body::from_stream(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}
