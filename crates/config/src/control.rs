//! Where the control API listens: `control-socket`, `control-sockets` and
//! `hooks-libraries`.
//!
//! Kea 2.2 splits the control API in two: `kea-dhcp4` serves a unix socket
//! (`control-socket` with `socket-type: unix`) and `kea-ctrl-agent` serves
//! HTTP from its own file (`http-host`, `http-port`, `authentication`). Kea
//! 2.7 and later let `kea-dhcp4` serve HTTP itself, configured as a
//! `control-socket` (or an entry of the `control-sockets` list) with
//! `socket-type: http` and the agent's keys (`socket-address`,
//! `socket-port`, `authentication`). leasehold reads both forms: a unix
//! socket entry serves Kea's protocol on that socket, an http entry moves
//! the HTTP listener. Without an http entry the HTTP listener runs where
//! the control agent's defaults put it, 127.0.0.1:8000, without
//! authentication.
//!
//! `socket-type: https` serves the same listener over TLS, with the
//! agent's `trust-anchor`, `cert-file`, `key-file` (all three required) and
//! `cert-required` (default true: mutual TLS).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::json::{Node, Value};
use crate::model::{Authentication, BasicCredentials, ControlConfig, HttpListener, Tls};
use crate::reader::{Keys, Object, Reader};

/// The control agent's default `http-host`.
pub const DEFAULT_HTTP_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The control agent's default `http-port`.
pub const DEFAULT_HTTP_PORT: u16 = 8000;
/// The control agent's default basic authentication realm.
pub const DEFAULT_REALM: &str = "kea-control-agent";

const SOCKET_KEYS: Keys<'static> = Keys {
    supported: &[
        "socket-type",
        "socket-name",
        "socket-address",
        "socket-port",
        "authentication",
        "trust-anchor",
        "cert-file",
        "key-file",
        "cert-required",
        "http-headers",
    ],
    unsupported: &[],
    annotations: true,
};

const HEADER_KEYS: Keys<'static> = Keys {
    supported: &["name", "value"],
    unsupported: &[],
    annotations: true,
};

const AUTHENTICATION_KEYS: Keys<'static> = Keys {
    supported: &["type", "realm", "directory", "clients"],
    unsupported: &[],
    annotations: true,
};

const CLIENT_KEYS: Keys<'static> = Keys {
    supported: &["user", "password", "user-file", "password-file"],
    unsupported: &[],
    annotations: true,
};

const HOOK_KEYS: Keys<'static> = Keys {
    supported: &["library", "parameters"],
    unsupported: &[],
    annotations: false,
};

/// Hook libraries whose commands leasehold has built in.
const BUILT_IN_HOOKS: [&str; 2] = ["libdhcp_lease_cmds.so", "libdhcp_stat_cmds.so"];

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            http: HttpListener {
                address: DEFAULT_HTTP_ADDRESS,
                port: DEFAULT_HTTP_PORT,
                authentication: None,
                tls: None,
                headers: Vec::new(),
            },
            unix_socket: None,
        }
    }
}

/// Reads `control-socket`, `control-sockets` and `hooks-libraries` from the
/// `Dhcp4` map.
pub(crate) fn read(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> ControlConfig {
    check_hooks(reader, dhcp4);
    let mut config = ControlConfig::default();
    let mut sockets: Vec<(&Node, String)> = Vec::new();
    if let Some(node) = dhcp4.get("control-socket") {
        sockets.push((node, dhcp4.path_of("control-socket")));
    }
    if let Some(node) = dhcp4.get("control-sockets") {
        let path = dhcp4.path_of("control-sockets");
        for (index, entry) in reader
            .array(node, &path)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            sockets.push((entry, format!("{path}[{index}]")));
        }
    }
    let mut http_seen = false;
    for (node, path) in &sockets {
        let Some(object) = reader.object(node, path, &SOCKET_KEYS) else {
            continue;
        };
        match reader.opt_string(&object, "socket-type") {
            Some("unix") => read_unix(reader, &object, &mut config),
            Some("http" | "https") if http_seen => {
                reader.report(
                    node.offset,
                    path,
                    "only one http control socket is supported",
                );
            }
            Some(kind @ ("http" | "https")) => {
                http_seen = true;
                config.http = read_http(reader, &object);
                config.http.tls = read_tls(reader, &object, kind == "https");
            }
            Some(other) => {
                let message = format!("'{other}' is not a socket type (unix, http or https)");
                reader.report(node.offset, &object.path_of("socket-type"), message);
            }
            None => reader.report(node.offset, path, "missing required key 'socket-type'"),
        }
    }
    config
}

fn read_unix(reader: &mut Reader<'_>, object: &Object<'_>, config: &mut ControlConfig) {
    let Some(node) = reader.required(object, "socket-name") else {
        return;
    };
    let Some(name) = reader.string(node, &object.path_of("socket-name")) else {
        return;
    };
    if config.unix_socket.is_some() {
        reader.report(
            node.offset,
            object.path,
            "only one unix control socket is supported",
        );
        return;
    }
    config.unix_socket = Some(PathBuf::from(name));
}

fn read_http(reader: &mut Reader<'_>, object: &Object<'_>) -> HttpListener {
    let address = match object.get("socket-address") {
        None => DEFAULT_HTTP_ADDRESS,
        Some(node) => {
            let path = object.path_of("socket-address");
            let text = reader.string(node, &path).unwrap_or("127.0.0.1");
            text.parse().unwrap_or_else(|_| {
                reader.report(node.offset, &path, format!("'{text}' is not an IP address"));
                DEFAULT_HTTP_ADDRESS
            })
        }
    };
    let port = reader
        .opt_integer(object, "socket-port")
        .unwrap_or(DEFAULT_HTTP_PORT);
    let authentication = object
        .get("authentication")
        .and_then(|node| read_authentication(reader, node, &object.path_of("authentication")));
    let headers = object
        .get("http-headers")
        .map(|node| read_headers(reader, node, &object.path_of("http-headers")))
        .unwrap_or_default();
    HttpListener {
        address,
        port,
        authentication,
        tls: None,
        headers,
    }
}

/// `http-headers`: a list of `{ "name": ..., "value": ... }`, each a valid
/// HTTP header (a token name; a value of visible characters and spaces).
fn read_headers(reader: &mut Reader<'_>, node: &Node, path: &str) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (index, entry) in reader
        .array(node, path)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("{path}[{index}]");
        let Some(object) = reader.object(entry, &path, &HEADER_KEYS) else {
            continue;
        };
        let mut field = |key: &str, valid: fn(char) -> bool| {
            let node = reader.required(&object, key)?;
            let text = reader.string(node, &object.path_of(key))?;
            if text.is_empty() || !text.chars().all(valid) {
                let message = format!("'{text}' is not a valid HTTP header {key}");
                reader.report(node.offset, &object.path_of(key), message);
                return None;
            }
            Some(text.to_owned())
        };
        let name = field("name", |c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
        });
        let value = field("value", |c| c.is_ascii_graphic() || c == ' ' || c == '\t');
        if let (Some(name), Some(value)) = (name, value) {
            headers.push((name, value));
        }
    }
    headers
}

/// The TLS keys of an http control socket: required with `https`, refused
/// without it (Kea would serve plain HTTP while the operator expects TLS).
fn read_tls(reader: &mut Reader<'_>, object: &Object<'_>, https: bool) -> Option<Tls> {
    const FILES: [&str; 3] = ["trust-anchor", "cert-file", "key-file"];
    if !https {
        for key in FILES.into_iter().chain(["cert-required"]) {
            if let Some(node) = object.get(key) {
                let message = format!("'{key}' needs socket-type https");
                reader.report(node.offset, &object.path_of(key), message);
            }
        }
        return None;
    }
    let mut paths = Vec::with_capacity(FILES.len());
    for key in FILES {
        let node = reader.required(object, key)?;
        let path = reader.string(node, &object.path_of(key))?;
        if path.is_empty() {
            reader.report(node.offset, &object.path_of(key), "must not be empty");
            return None;
        }
        paths.push(PathBuf::from(path));
    }
    let cert_required = reader.opt_bool(object, "cert-required").unwrap_or(true);
    let [trust_anchor, cert_file, key_file] = <[PathBuf; 3]>::try_from(paths).ok()?;
    Some(Tls {
        trust_anchor,
        cert_file,
        key_file,
        cert_required,
    })
}

fn read_authentication(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<Authentication> {
    let object = reader.object(node, path, &AUTHENTICATION_KEYS)?;
    match reader.opt_string(&object, "type") {
        Some("basic") => {}
        Some(other) => {
            let message = format!("unsupported authentication type '{other}' (only basic)");
            reader.report(node.offset, &object.path_of("type"), message);
            return None;
        }
        None => {
            reader.report(node.offset, path, "missing required key 'type'");
            return None;
        }
    }
    let realm = reader
        .opt_string(&object, "realm")
        .unwrap_or(DEFAULT_REALM)
        .to_owned();
    let directory = reader.opt_string(&object, "directory").map(PathBuf::from);
    let mut clients = Vec::new();
    if let Some(list) = object.get("clients") {
        let list_path = object.path_of("clients");
        for (index, entry) in reader
            .array(list, &list_path)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let entry_path = format!("{list_path}[{index}]");
            if let Some(client) = read_client(reader, entry, &entry_path, directory.as_ref()) {
                clients.push(client);
            }
        }
    }
    Some(Authentication { realm, clients })
}

/// One client: `user` and `password` given inline, or read from
/// `user-file` and `password-file` (relative to `directory`), as Kea does.
fn read_client(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    directory: Option<&PathBuf>,
) -> Option<BasicCredentials> {
    let object = reader.object(node, path, &CLIENT_KEYS)?;
    let user = secret(reader, &object, "user", "user-file", directory)?;
    let password = secret(reader, &object, "password", "password-file", directory)?;
    if user.contains(':') {
        reader.report(node.offset, path, "user must not contain ':'");
        return None;
    }
    Some(BasicCredentials { user, password })
}

fn secret(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    inline: &str,
    file_key: &str,
    directory: Option<&PathBuf>,
) -> Option<String> {
    if let Some(value) = reader.opt_string(object, inline) {
        return Some(value.to_owned());
    }
    let Some(file) = reader.opt_string(object, file_key) else {
        let message = format!("missing required key '{inline}' (or '{file_key}')");
        reader.report(object.node.offset, object.path, message);
        return None;
    };
    let full = directory.map_or_else(|| PathBuf::from(file), |dir| dir.join(file));
    match std::fs::read_to_string(&full) {
        // Kea takes the first line of the file.
        Ok(text) => Some(text.lines().next().unwrap_or_default().to_owned()),
        Err(error) => {
            let message = format!("cannot read {}: {error}", full.display());
            reader.report_at(object, file_key, message);
            None
        }
    }
}

/// Accepts the lease and statistics command hooks, whose commands are
/// built in, and refuses every other library (the HA hook included) as not
/// supported yet.
fn check_hooks(reader: &mut Reader<'_>, dhcp4: &Object<'_>) {
    let Some(node) = dhcp4.get("hooks-libraries") else {
        return;
    };
    let path = dhcp4.path_of("hooks-libraries");
    for (index, entry) in reader
        .array(node, &path)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let entry_path = format!("{path}[{index}]");
        let Some(object) = reader.object(entry, &entry_path, &HOOK_KEYS) else {
            continue;
        };
        let Some(library) = reader.required(&object, "library") else {
            continue;
        };
        let Some(name) = reader.string(library, &object.path_of("library")) else {
            continue;
        };
        let file = name.rsplit('/').next().unwrap_or(name);
        if !BUILT_IN_HOOKS.contains(&file) {
            let message = format!("hook library '{file}' is not supported by leasehold yet");
            reader.report(library.offset, &object.path_of("library"), message);
        }
        if let Some(parameters) = object.get("parameters")
            && !matches!(parameters.value, Value::Object(_))
        {
            reader.report(
                parameters.offset,
                &object.path_of("parameters"),
                "expected an object",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::PathBuf;

    use crate::Config;

    fn parse(dhcp4_extra: &str) -> Result<Config, crate::ConfigError> {
        let text = format!(
            r#"{{ "Dhcp4": {{ "interfaces-config": {{ "interfaces": ["eth0"] }} {dhcp4_extra} }} }}"#
        );
        Config::parse(&text, "<test>")
    }

    #[test]
    fn default_is_the_control_agent_default() {
        let config = parse("").unwrap();
        assert_eq!(config.control.http.address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.control.http.port, 8000);
        assert!(config.control.http.authentication.is_none());
        assert!(config.control.unix_socket.is_none());
    }

    #[test]
    fn reads_http_and_unix_sockets() {
        let config = parse(
            r#", "control-sockets": [
                { "socket-type": "http", "socket-address": "0.0.0.0", "socket-port": 8080,
                  "authentication": { "type": "basic",
                                      "clients": [ { "user": "a", "password": "hunter2" } ] } },
                { "socket-type": "unix", "socket-name": "/run/kea/sock" } ],
               "hooks-libraries": [ { "library": "/usr/lib/kea/hooks/libdhcp_lease_cmds.so" },
                                    { "library": "libdhcp_stat_cmds.so" } ]"#,
        )
        .unwrap();
        let http = &config.control.http;
        assert_eq!(
            (http.address.to_string(), http.port),
            ("0.0.0.0".into(), 8080)
        );
        let authentication = http.authentication.as_ref().unwrap();
        assert_eq!(authentication.realm, "kea-control-agent");
        assert_eq!(authentication.clients[0].user, "a");
        assert_eq!(
            config.control.unix_socket,
            Some(PathBuf::from("/run/kea/sock"))
        );
        assert!(
            !format!("{authentication:?}").contains("hunter2"),
            "password in debug output"
        );
    }

    #[test]
    fn kea_2_2_unix_control_socket_is_read() {
        let socket = r#", "control-socket": { "socket-type": "unix", "socket-name": "/tmp/s" }"#;
        let config = parse(socket).unwrap();
        assert_eq!(config.control.unix_socket, Some(PathBuf::from("/tmp/s")));
    }

    #[test]
    fn https_needs_its_three_files_and_http_takes_none() {
        let https = parse(
            r#", "control-socket": { "socket-type": "https", "socket-port": 8443,
                  "trust-anchor": "/etc/kea/ca.pem", "cert-file": "/etc/kea/cert.pem",
                  "key-file": "/etc/kea/key.pem", "cert-required": false }"#,
        )
        .unwrap();
        let tls = https.control.http.tls.expect("TLS configured");
        assert_eq!(tls.key_file, PathBuf::from("/etc/kea/key.pem"));
        assert!(!tls.cert_required);
        let default = parse(
            r#", "control-socket": { "socket-type": "https", "trust-anchor": "a",
                  "cert-file": "c", "key-file": "k" }"#,
        );
        assert!(default.unwrap().control.http.tls.unwrap().cert_required);
        let missing = parse(r#", "control-socket": { "socket-type": "https", "cert-file": "c" }"#);
        assert!(missing.unwrap_err().to_string().contains("trust-anchor"));
        let plain = parse(r#", "control-socket": { "socket-type": "http", "cert-file": "c" }"#);
        assert!(
            plain
                .unwrap_err()
                .to_string()
                .contains("needs socket-type https")
        );
    }

    #[test]
    fn http_headers_are_read_and_checked() {
        let config = parse(
            r#", "control-socket": { "socket-type": "http", "http-headers": [
                  { "name": "X-Frame-Options", "value": "DENY" } ] }"#,
        )
        .unwrap();
        let headers = &config.control.http.headers;
        assert_eq!(
            headers,
            &[("X-Frame-Options".to_owned(), "DENY".to_owned())]
        );
        let bad = parse(
            r#", "control-socket": { "socket-type": "http", "http-headers": [
                  { "name": "Bad Name", "value": "x" } ] }"#,
        );
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("not a valid HTTP header name")
        );
    }

    #[test]
    fn refuses_the_ha_hook() {
        let ha = parse(r#", "hooks-libraries": [ { "library": "/usr/lib/libdhcp_ha.so" } ]"#);
        assert!(ha.unwrap_err().to_string().contains("libdhcp_ha.so"));
    }
}
