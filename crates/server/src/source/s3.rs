//! Fetching an `s3://bucket/key` object with the AWS SDK.
//!
//! Credentials, region and endpoint come from the SDK's usual chain:
//! environment variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`), the
//! shared profile files (`~/.aws/credentials`, `~/.aws/config`,
//! `AWS_PROFILE`, `credential_process`), web identity tokens, ECS container
//! credentials and EC2 instance metadata. AWS SSO profiles are not built in.
//! With a custom endpoint, buckets are addressed by path
//! (`ENDPOINT/bucket/key`), which S3-compatible stores expect.
//!
//! The server's threads are not async: a fetcher owns a small
//! current-thread runtime and blocks on it for each fetch.

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tokio::runtime::Runtime;

use super::{FETCH_TIMEOUT, SourceError};

/// The environment variables that point the SDK at another endpoint.
const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"];

/// An object in a bucket, from an `s3://bucket/key` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Object {
    /// The bucket name.
    pub(crate) bucket: String,
    /// The object's key, slashes included.
    pub(crate) key: String,
}

impl S3Object {
    /// Splits `s3://bucket/key`; `None` when the bucket or the key is empty.
    pub(crate) fn parse(url: &str) -> Option<Self> {
        let rest = url.get("s3://".len()..)?;
        let (bucket, key) = rest.split_once('/')?;
        if bucket.is_empty() || key.is_empty() {
            return None;
        }
        Some(Self {
            bucket: bucket.into(),
            key: key.into(),
        })
    }
}

impl std::fmt::Display for S3Object {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "s3://{}/{}", self.bucket, self.key)
    }
}

/// An S3 client and the runtime it runs on, kept across polls so that
/// credentials are cached and refreshed by the SDK.
pub(crate) struct S3Fetcher {
    runtime: Runtime,
    client: aws_sdk_s3::Client,
}

impl S3Fetcher {
    /// Loads the SDK configuration (no request is made yet).
    pub(crate) fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = runtime.block_on(client());
        Ok(Self { runtime, client })
    }

    /// Fetches `object` and returns its body as text.
    pub(crate) fn fetch(&self, object: &S3Object) -> Result<String, SourceError> {
        let failed = |message: String| SourceError::Fetch {
            url: object.to_string(),
            message,
        };
        let request = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send();
        let body = self.runtime.block_on(async {
            let Ok(response) = tokio::time::timeout(FETCH_TIMEOUT, request).await else {
                return Err(failed(format!("no answer within {FETCH_TIMEOUT:?}")));
            };
            let response = response.map_err(|error| failed(describe(&error)))?;
            let body = tokio::time::timeout(FETCH_TIMEOUT, response.body.collect()).await;
            match body {
                Ok(Ok(body)) => Ok(body.into_bytes()),
                Ok(Err(error)) => Err(failed(chain(&error))),
                Err(_) => Err(failed(format!("body not read within {FETCH_TIMEOUT:?}"))),
            }
        })?;
        String::from_utf8(body.to_vec()).map_err(|_| failed("the object is not UTF-8 text".into()))
    }
}

/// Builds the client from the SDK's default chain, over rustls with ring.
async fn client() -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    let custom_endpoint = shared.endpoint_url().is_some()
        || ENDPOINT_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The SDK error with its causes, and the S3 error code when there is one
/// (NoSuchBucket, NoSuchKey, AccessDenied, ...).
fn describe<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("service error"),
            service.message().unwrap_or("no message")
        ),
        None => chain(error),
    }
}

/// An error and its causes, `: `-separated, each once (the SDK's messages
/// often repeat their source's).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_key() {
        let object = S3Object::parse("s3://configs/dhcp/kea-dhcp4.json").unwrap();
        assert_eq!(object.bucket, "configs");
        assert_eq!(object.key, "dhcp/kea-dhcp4.json");
        assert_eq!(object.to_string(), "s3://configs/dhcp/kea-dhcp4.json");
        for url in ["s3://configs", "s3://configs/", "s3:///key", "s3://"] {
            assert_eq!(S3Object::parse(url), None, "{url}");
        }
    }
}
