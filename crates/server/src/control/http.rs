//! The HTTP listener, as Kea's control agent serves it: `POST /` with a
//! command document, answered with a list of answers; HTTP basic
//! authentication when configured; plus `GET /metrics` (Prometheus) and
//! `GET /health` (200 while serving, never authenticated, so load
//! balancers need no credentials). Every response carries the configured
//! `http-headers`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use leasehold_config::Authentication;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use super::Control;
use super::statistics;

/// Largest request body accepted (a whole configuration for `config-set`).
pub(crate) const MAX_REQUEST: usize = 16 * 1024 * 1024;
/// A connection idle this long between requests is closed.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

type Body = Full<Bytes>;

/// Accepts connections, over TLS when `tls` is given, until `stopped`
/// turns true.
pub(crate) async fn serve(
    control: Arc<Control>,
    listener: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            warn!(%error, "control listener cannot start");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                debug!(%error, "control accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let control = Arc::clone(&control);
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return connection(control, stream, peer).await;
            };
            match tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => connection(control, stream, peer).await,
                Ok(Err(error)) => debug!(%error, %peer, "control TLS handshake failed"),
                Err(_) => debug!(%peer, "control TLS handshake timed out"),
            }
        });
    }
}

/// Serves the requests of one connection, plain or TLS.
async fn connection<S>(control: Arc<Control>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let control = Arc::clone(&control);
        async move { Ok::<_, Infallible>(respond(control, request).await) }
    });
    let connection = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = connection.await {
        debug!(%error, %peer, "control connection ended with an error");
    }
}

/// The answer to `request`, with the configured `http-headers` added.
async fn respond(control: Arc<Control>, request: Request<Incoming>) -> Response<Body> {
    let engine = control.shared.engine.load_full();
    let mut response = answer(control, request).await;
    for (name, value) in &engine.config().control.http.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        response.headers_mut().append(name, value);
    }
    response
}

async fn answer(control: Arc<Control>, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && path == "/health" {
        return plain(StatusCode::OK, "text/plain", "serving\n".into());
    }
    let authentication = control
        .shared
        .engine
        .load()
        .config()
        .control
        .http
        .authentication
        .clone();
    if let Some(authentication) = authentication
        && !is_authorized(&authentication, &request)
    {
        return unauthorized(&authentication.realm);
    }
    match (request.method(), path.as_str()) {
        (&Method::GET, "/metrics") => {
            let text = tokio::task::spawn_blocking(move || statistics::prometheus(&control))
                .await
                .unwrap_or_default();
            plain(StatusCode::OK, "text/plain; version=0.0.4", text)
        }
        (&Method::POST, _) => command(control, request).await,
        _ => kea_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn command(control: Arc<Control>, request: Request<Incoming>) -> Response<Body> {
    let body = match Limited::new(request.into_body(), MAX_REQUEST)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return kea_error(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
        }
        Err(_) => return kea_error(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return kea_error(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let answer = tokio::task::spawn_blocking(move || control.execute(&document)).await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            warn!(%error, "control command failed");
            super::Answer::error("Error during command processing")
        }
    };
    let body = serde_json::Value::Array(vec![answer.to_json()]).to_string();
    plain(StatusCode::OK, "application/json", body)
}

fn is_authorized(authentication: &Authentication, request: &Request<Incoming>) -> bool {
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return false;
    };
    let Some(encoded) = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = decoded.split_once(':') else {
        return false;
    };
    authentication
        .clients
        .iter()
        .any(|client| client.user == user && client.password == password)
}

fn plain(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Kea's control agent answers HTTP-level errors with
/// `{ "result": <status>, "text": <reason> }`.
fn kea_error(status: StatusCode, text: &str) -> Response<Body> {
    let body = serde_json::json!({ "result": status.as_u16(), "text": text }).to_string();
    plain(status, "application/json", body)
}

fn unauthorized(realm: &str) -> Response<Body> {
    let mut response = kea_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    let challenge = format!("Basic realm=\"{}\"", realm.replace('"', ""));
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}
