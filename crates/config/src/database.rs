//! SQL databases: `lease-database` of type `postgresql` or `mysql`, and
//! `hosts-database`, with Kea's connection parameters.

use crate::json::{Node, Value};
use crate::model::{OnFail, SqlBackend, SqlDatabase};
use crate::reader::{Keys, Object, Reader};

const SQL_KEYS: Keys<'static> = Keys {
    supported: &[
        "type",
        "name",
        "host",
        "port",
        "user",
        "password",
        "connect-timeout",
        "max-reconnect-tries",
        "reconnect-wait-time",
        "on-fail",
        "retry-on-startup",
        "readonly",
    ],
    unsupported: &[
        "read-timeout",
        "write-timeout",
        "tcp-user-timeout",
        "tcp-nodelay",
        "trust-anchor",
        "cert-file",
        "key-file",
        "cipher-list",
        "max-row-errors",
    ],
    annotations: false,
};

/// The `type` of a database map, reported when missing or not a string.
pub(crate) fn database_type<'n>(
    reader: &mut Reader<'_>,
    node: &'n Node,
    path: &str,
) -> Option<&'n str> {
    let Value::Object(members) = &node.value else {
        reader.report(node.offset, path, "expected an object");
        return None;
    };
    let Some(member) = members.iter().find(|member| member.key == "type") else {
        reader.report(node.offset, path, "missing required key 'type'");
        return None;
    };
    reader.string(&member.node, &format!("{path}/type"))
}

/// Reads a `postgresql` or `mysql` database map at `node`.
pub(crate) fn read_sql_database(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    backend: SqlBackend,
) -> Option<SqlDatabase> {
    let object = reader.object(node, path, &SQL_KEYS)?;
    let Some(name) = reader.opt_string(&object, "name") else {
        reader.report(node.offset, path, "missing required key 'name'");
        return None;
    };
    let on_fail = match reader.opt_string(&object, "on-fail") {
        None | Some("stop-retry-exit") => OnFail::StopRetryExit,
        Some("serve-retry-exit") => OnFail::ServeRetryExit,
        Some("serve-retry-continue") => OnFail::ServeRetryContinue,
        Some(other) => {
            let message = format!(
                "'{other}' is not stop-retry-exit, serve-retry-exit or serve-retry-continue"
            );
            reader.report_at(&object, "on-fail", message);
            OnFail::StopRetryExit
        }
    };
    let readonly = reader.opt_bool(&object, "readonly");
    if readonly == Some(false) && path.ends_with("lease-database") {
        reader.report_at(
            &object,
            "readonly",
            "readonly applies to hosts-database only",
        );
    }
    Some(SqlDatabase {
        backend,
        name: name.to_owned(),
        host: reader.opt_string(&object, "host").map(str::to_owned),
        port: reader.opt_integer(&object, "port"),
        user: reader.opt_string(&object, "user").map(str::to_owned),
        password: reader.opt_string(&object, "password").map(str::to_owned),
        connect_timeout: reader.opt_integer(&object, "connect-timeout").unwrap_or(5),
        max_reconnect_tries: reader
            .opt_integer(&object, "max-reconnect-tries")
            .unwrap_or(0),
        reconnect_wait_time: reader
            .opt_integer(&object, "reconnect-wait-time")
            .unwrap_or(0),
        on_fail,
        retry_on_startup: reader
            .opt_bool(&object, "retry-on-startup")
            .unwrap_or(false),
    })
}

/// `hosts-database`: reservations kept in Kea's host tables.
pub(crate) fn read_hosts_database(
    reader: &mut Reader<'_>,
    dhcp4: &Object<'_>,
) -> Option<SqlDatabase> {
    let path = "Dhcp4/hosts-database";
    let node = dhcp4.get("hosts-database")?;
    let kind = database_type(reader, node, path)?;
    let backend = match kind {
        "postgresql" => SqlBackend::Postgresql,
        "mysql" => SqlBackend::Mysql,
        other => {
            let message = format!("'{other}' is not a hosts database type (mysql or postgresql)");
            let offset = type_offset(node);
            reader.report(offset, &format!("{path}/type"), message);
            return None;
        }
    };
    read_sql_database(reader, node, path, backend)
}

/// Where the `type` member of a database map is, for reports.
pub(crate) fn type_offset(node: &Node) -> usize {
    match &node.value {
        Value::Object(members) => members
            .iter()
            .find(|member| member.key == "type")
            .map_or(node.offset, |member| member.node.offset),
        _ => node.offset,
    }
}
