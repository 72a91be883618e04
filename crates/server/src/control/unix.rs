//! Kea's unix control socket (`control-socket` with `socket-type: unix`):
//! a client writes one command document, the server answers with one
//! answer document (not a list, unlike HTTP) and closes the connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::Control;
use super::http::MAX_REQUEST;

/// A bound unix socket and its path, removed when the listener stops.
pub(crate) struct UnixSocket {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

/// Binds `path`, replacing a stale socket file left by an earlier run.
pub(crate) fn bind(path: &Path) -> std::io::Result<UnixSocket> {
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    Ok(UnixSocket {
        listener,
        path: path.to_path_buf(),
    })
}

/// Serves `socket` (if any) until `stopped` turns true.
pub(crate) async fn serve(
    control: Arc<Control>,
    socket: Option<UnixSocket>,
    mut stopped: watch::Receiver<bool>,
) {
    let Some(socket) = socket else {
        return;
    };
    let listener = match tokio::net::UnixListener::from_std(socket.listener) {
        Ok(listener) => listener,
        Err(error) => {
            warn!(%error, "unix control socket cannot start");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(answer(Arc::clone(&control), stream));
            }
            Err(error) => {
                debug!(%error, "unix control accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let _ = std::fs::remove_file(&socket.path);
}

/// Reads until the bytes form a whole JSON document, then answers.
async fn answer(control: Arc<Control>, mut stream: tokio::net::UnixStream) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 8192];
    let document = loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await;
        let Ok(Ok(read)) = read else {
            return;
        };
        request.extend_from_slice(&chunk[..read]);
        if let Ok(document) = serde_json::from_slice::<serde_json::Value>(&request) {
            break document;
        }
        if read == 0 || request.len() > MAX_REQUEST {
            return;
        }
    };
    let Ok(answer) = tokio::task::spawn_blocking(move || control.execute(&document)).await else {
        return;
    };
    let _ = stream
        .write_all(answer.to_json().to_string().as_bytes())
        .await;
    let _ = stream.shutdown().await;
}
