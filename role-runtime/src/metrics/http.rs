//! The metrics listener's HTTP/1.1 side (hyper): `GET /metrics`,
//! `/health/live`, `/health/ready`, each connection bounded in time like
//! every other listener's, and cut at the drain.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tracing::{debug, warn};
use wire_format::{Health, StatusReport};

use super::MetricsSettings;
use super::encode::{CONTENT_TYPE as METRICS_TYPE, Facts, Snapshot, render};
use super::health::{StoreErrors, one_line, readiness};
use crate::server::{RequestHandler, Service, Session};

/// A client has this long to send a request's headers (also the wait for
/// the next request on a kept-alive connection).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// No connection lasts longer: a scraper reconnects, a slow client goes.
const CONNECTION_BOUND: Duration = Duration::from_secs(60);
/// The status report is the role's; one that takes longer is a process
/// that is not serving.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// Request headers larger than this are refused (the least hyper takes).
const MAX_HEADERS: usize = 8 * 1024;

/// The listener's service: the role's status source and what it adds.
pub struct Endpoint<H> {
    pub handler: H,
    pub settings: MetricsSettings,
    pub store_errors: StoreErrors,
    /// The node's name, from the first report that gave it.
    node: OnceLock<String>,
}

/// What one request saw of the process.
struct Seen {
    report: Option<StatusReport>,
    /// Why it is not ready; None: ready.
    unready: Option<String>,
    degraded: bool,
}

impl<H: RequestHandler> Endpoint<H> {
    pub fn new(handler: H, settings: MetricsSettings) -> Endpoint<H> {
        Endpoint {
            handler,
            settings,
            store_errors: StoreErrors::default(),
            node: OnceLock::new(),
        }
    }

    /// The role's report, degraded as the wire loop's would be when a store
    /// has failed; a report that fails or hangs is no report, and not ready.
    async fn see(&self) -> Seen {
        let report = match tokio::time::timeout(STATUS_TIMEOUT, self.handler.status()).await {
            Ok(Ok(report)) => report,
            Ok(Err(reason)) => return Seen::failed(format!("status report failed: {reason}")),
            Err(_) => return Seen::failed("the status report timed out".into()),
        };
        let mut report = report;
        if report.health == Health::Ok
            && let Some(fault) = store_file::faults().into_iter().next()
        {
            report.health = Health::Degraded(fault.to_string());
        }
        let _ = self.node.set(report.node.to_string());
        let bound = self.settings.ready_lag_seconds;
        let unready = readiness(&report, bound, crate::now_ms()).err();
        Seen {
            degraded: report.health != Health::Ok,
            report: Some(report),
            unready,
        }
    }

    async fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match request.uri().path() {
            "/health/live" => text(StatusCode::OK, "live\n"),
            "/health/ready" => match self.see().await.unready {
                None => text(StatusCode::OK, "ready\n"),
                Some(reason) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("not ready: {}\n", one_line(&reason)),
                ),
            },
            "/metrics" => self.metrics().await,
            _ => text(
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /health/live, /health/ready\n",
            ),
        }
    }

    async fn metrics(&self) -> Response<Full<Bytes>> {
        let seen = self.see().await;
        let facts = Facts {
            report: seen.report.as_ref(),
            degraded: seen.degraded,
            ready: seen.unready.is_none(),
            store_errors: self.store_errors.observe(),
            binary: self.settings.binary,
            version: self.settings.version,
            node: self.node.get().map_or("", String::as_str),
        };
        match render(Snapshot::take(&facts)) {
            Ok(body) => {
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_TYPE));
                response
            }
            Err(e) => {
                warn!(error = %e, "metrics could not be written");
                text(StatusCode::INTERNAL_SERVER_ERROR, "metrics failed\n")
            }
        }
    }
}

impl Seen {
    fn failed(reason: String) -> Seen {
        Seen {
            report: None,
            unready: Some(reason),
            degraded: true,
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl<H: RequestHandler> Service for Endpoint<H> {
    fn busy_reply(&self) -> Vec<u8> {
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
          Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n"
            .to_vec()
    }

    async fn serve(self: Arc<Self>, stream: TcpStream, session: Session) {
        let endpoint = Arc::clone(&self);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let endpoint = Arc::clone(&endpoint);
            async move { Ok::<_, Infallible>(endpoint.answer(&request).await) }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEADERS);
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::select! {
            served = tokio::time::timeout(CONNECTION_BOUND, connection) => match served {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(error = %e, "metrics connection ended"),
                Err(_) => debug!("metrics connection closed at its time bound"),
            },
            // Nothing here is worth holding the drain for.
            () = session.shutdown.draining() => {}
        }
    }
}
