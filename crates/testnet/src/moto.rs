//! An S3 endpoint for tests: moto's server (`python3 -m moto.server`, PyPI `moto[server]`) run
//! inside a test network's namespace, so that a server in that namespace reaches it on its own
//! loopback.
//!
//! Buckets and objects are written with plain HTTP requests that carry an `Authorization`
//! header but no real signature: moto does not check signatures unless told to, and treats a
//! request without the header as anonymous (held to the objects' ACLs). What reads them back,
//! the server under test, signs its requests with the test credentials.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::net::{Side, TestNet};
use crate::process;

/// The port moto listens on inside the namespace (a fresh namespace has every port free).
pub const MOTO_PORT: u16 = 5000;
/// How long [`MotoServer::start`] waits for moto to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// A SigV4 header for the test credentials whose signature moto does not check.
const UNCHECKED_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=testing/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
/// How long one request to moto may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// moto's S3 server in one namespace of a [`TestNet`]; killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Option<Child>,
    namespace: String,
    log: PathBuf,
}

impl MotoServer {
    /// Whether moto's server is installed (`python3 -c 'import moto.server'` succeeds).
    pub fn is_available() -> bool {
        Command::new("python3")
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Starts moto on 127.0.0.1:[`MOTO_PORT`] in `side`'s namespace and waits until it answers.
    pub fn start(net: &TestNet, side: Side) -> Result<Self> {
        let log = net.unique_path("moto", "log");
        let port = MOTO_PORT.to_string();
        let command = net.command(
            side,
            &[
                "python3",
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port,
            ],
        );
        let mut moto = Self {
            child: Some(process::spawn_logged(command, &log)?),
            namespace: net.namespace(side).to_owned(),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while moto.request("GET", "/", b"").is_err() {
            let exited = moto
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                return Err(Error::Command {
                    command: "python3 -m moto.server".into(),
                    status: format!("{exited:?}, not answering"),
                    output: process::read_lossy(&moto.log),
                });
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// The endpoint URL, as seen from inside the namespace (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{MOTO_PORT}")
    }

    /// The environment a client of this endpoint needs: test credentials, a region and the
    /// endpoint, as `NAME=VALUE` for `env`.
    pub fn client_env(&self) -> Vec<String> {
        vec![
            "AWS_ACCESS_KEY_ID=testing".into(),
            "AWS_SECRET_ACCESS_KEY=testing".into(),
            "AWS_REGION=us-east-1".into(),
            format!("AWS_ENDPOINT_URL={}", self.endpoint()),
            // Nothing from the machine's own AWS setup leaks in.
            "AWS_CONFIG_FILE=/dev/null".into(),
            "AWS_SHARED_CREDENTIALS_FILE=/dev/null".into(),
            "AWS_EC2_METADATA_DISABLED=true".into(),
        ]
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        self.request("PUT", &format!("/{bucket}"), b"").map(drop)
    }

    /// Writes `body` as object `key` of `bucket`.
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) -> Result<()> {
        self.request("PUT", &format!("/{bucket}/{key}"), body)
            .map(drop)
    }

    /// Everything moto has logged so far.
    pub fn log(&self) -> String {
        process::read_lossy(&self.log)
    }

    /// Stops moto: connections to the endpoint are refused from now on.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// One HTTP/1.1 request made from inside the namespace; the response when its status is
    /// 2xx.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<String> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{MOTO_PORT}\r\n\
             Authorization: {UNCHECKED_AUTHORIZATION}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        let response = crate::in_namespace(&self.namespace, move || exchange(&request))?
            .map_err(|source| Error::system(format!("{method} {path} to moto"), source))?;
        let status = response.split(' ').nth(1).unwrap_or_default();
        if !status.starts_with('2') {
            return Err(Error::Command {
                command: format!("{method} {path} to moto"),
                status: status.to_owned(),
                output: response,
            });
        }
        Ok(response)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `request` to moto and reads the whole response.
fn exchange(request: &[u8]) -> std::io::Result<String> {
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, MOTO_PORT);
    let mut stream = TcpStream::connect_timeout(&address.into(), REQUEST_TIMEOUT)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.write_all(request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}
