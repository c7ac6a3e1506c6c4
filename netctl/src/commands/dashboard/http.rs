//! The dashboard's HTTP/1 server (hyper, as the processes' metrics
//! endpoints): `/` is the page, `/api/state` the latest snapshot.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use super::Latest;
use crate::NetctlError;

const PAGE: &str = include_str!("page.html");
/// Browsers watching at once; one more waits for a place.
const MAX_CONNECTIONS: usize = 32;
/// A client that has not sent its request head by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn response(status: StatusCode, kind: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let headers = r.headers_mut();
    if let Ok(v) = kind.parse() {
        headers.insert(hyper::header::CONTENT_TYPE, v);
    }
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

fn answer(latest: &Latest, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return response(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    }
    match req.uri().path() {
        "/" | "/index.html" => response(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/api/state" => {
            let json = latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
            response(StatusCode::OK, "application/json", json)
        }
        _ => response(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

pub fn serve(listen: SocketAddr, latest: Latest) -> Result<(), NetctlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NetctlError::Dashboard(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(accept_loop(listen, latest))
}

async fn accept_loop(listen: SocketAddr, latest: Latest) -> Result<(), NetctlError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| NetctlError::Dashboard(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| NetctlError::Dashboard(format!("cannot read the bound address: {e}")))?;
    // The contract's first line: scripts and tests read the address here.
    println!("dashboard http://{local}/");
    let _ = std::io::stdout().flush();
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let place = tokio::select! {
            _ = &mut stop => return Ok(()),
            place = places.clone().acquire_owned() => place,
        };
        let Ok(place) = place else { return Ok(()) };
        let stream = tokio::select! {
            _ = &mut stop => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "dashboard accept failed");
                    continue;
                }
            },
        };
        let latest = latest.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let r = answer(&latest, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(place);
        });
    }
}

async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
