//! `option-data` lists, encoded to wire payloads.

use crate::json::Node;
use crate::model::OptionData;
use crate::options::{self, OptionDefinition};
use crate::reader::{Keys, Object, Reader};

const KEYS: Keys<'static> = Keys {
    supported: &[
        "name",
        "code",
        "data",
        "csv-format",
        "always-send",
        "space",
        "never-send",
    ],
    unsupported: &["metadata", "client-classes"],
    annotations: true,
};

/// Reads an `option-data` list at `path`.
pub(crate) fn read_list(reader: &mut Reader<'_>, node: &Node, path: &str) -> Vec<OptionData> {
    let Some(elements) = reader.array(node, path) else {
        return Vec::new();
    };
    let mut options: Vec<OptionData> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(option) = read_one(reader, element, &element_path) else {
            continue;
        };
        // Two entries for one code at one level: the engine sends one option
        // per code, so refuse rather than pick one silently.
        if options.iter().any(|other| other.code == option.code) {
            let message = format!("option {} is already configured in this list", option.code);
            reader.report(element.offset, &element_path, message);
            continue;
        }
        options.push(option);
    }
    options
}

/// Reads the `option-data` list under `key` of `object`, if present.
pub(crate) fn read_field(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    key: &str,
) -> Vec<OptionData> {
    match object.get(key) {
        Some(node) => read_list(reader, node, &object.path_of(key)),
        None => Vec::new(),
    }
}

fn read_one(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<OptionData> {
    let object = reader.object(node, path, &KEYS)?;
    if !read_space(reader, &object) || !read_never_send(reader, &object) {
        return None;
    }
    let always_send = reader.opt_bool(&object, "always-send").unwrap_or(false);
    let csv = reader.opt_bool(&object, "csv-format");
    let data = reader.opt_string(&object, "data").unwrap_or("");
    let code = read_code(reader, &object)?;
    let name = reader.opt_string(&object, "name");
    let def = find_definition(reader, &object, name, code)?;
    let def = def.as_ref();
    let payload = match (def, csv) {
        (Some(def), csv) => options::encode(def, data, csv.unwrap_or(true)),
        // Kea sends an option without a definition as hex data, unless
        // csv-format is explicitly true.
        (None, Some(true)) => Err("there is no definition for this option, so its data \
                                   must be hex (csv-format false)"
            .into()),
        (None, _) => options::decode_hex_or_quoted(data),
    };
    let payload = match payload {
        Ok(payload) => payload,
        Err(message) => {
            let data_path = object.path_of("data");
            let offset = object.get("data").map_or(node.offset, |data| data.offset);
            reader.report(offset, &data_path, message);
            return None;
        }
    };
    let code = def.map_or(code.unwrap_or(0), |def| def.code);
    Some(OptionData {
        code,
        data: payload,
        always_send,
    })
}

/// Only the standard `dhcp4` space can be configured yet.
fn read_space(reader: &mut Reader<'_>, object: &Object<'_>) -> bool {
    let Some(space) = reader.opt_string(object, "space") else {
        return object.get("space").is_none();
    };
    if space == "dhcp4" {
        return true;
    }
    let message = format!("option space '{space}' is not supported by leasehold yet (only dhcp4)");
    if let Some(node) = object.get("space") {
        reader.report(node.offset, &object.path_of("space"), message);
    }
    false
}

/// `never-send: false` is what not saying anything means; `true` needs the
/// engine to suppress the option at every level, which it does not do yet.
fn read_never_send(reader: &mut Reader<'_>, object: &Object<'_>) -> bool {
    match reader.opt_bool(object, "never-send") {
        Some(true) => {
            let path = object.path_of("never-send");
            let offset = object.get("never-send").map_or(0, |node| node.offset);
            reader.report(
                offset,
                &path,
                "'never-send: true' is not supported by leasehold yet",
            );
            false
        }
        Some(false) => true,
        None => object.get("never-send").is_none(),
    }
}

/// The `code`, checked to be a configurable DHCPv4 code. `Some(None)` when
/// there is no `code`; `None` after a problem.
fn read_code(reader: &mut Reader<'_>, object: &Object<'_>) -> Option<Option<u8>> {
    let Some(node) = object.get("code") else {
        return Some(None);
    };
    let path = object.path_of("code");
    let code: u8 = reader.integer(node, &path)?;
    if code == 0 || code == 255 {
        let message = format!("option code {code} is reserved for PAD and END");
        reader.report(node.offset, &path, message);
        return None;
    }
    Some(Some(code))
}

/// Finds the standard or `option-def` definition from `name` and `code`,
/// which must agree. `Some(None)` for a code without a definition.
fn find_definition(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    name: Option<&str>,
    code: Option<u8>,
) -> Option<Option<OptionDefinition>> {
    let custom = reader.custom_options.iter().find(|def| {
        name.is_none_or(|name| name == def.name) && code.is_none_or(|code| code == def.code)
    });
    if let Some(custom) = custom {
        return Some(Some(*custom));
    }
    let standard = find_standard(reader, object, name, code)?;
    Some(standard.copied())
}

fn find_standard(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    name: Option<&str>,
    code: Option<u8>,
) -> Option<Option<&'static OptionDefinition>> {
    match (name, code) {
        (None, None) => {
            let message = "option data needs a 'name' or a 'code'";
            reader.report(object.node.offset, object.path, message);
            None
        }
        (Some(name), None) => {
            let def = options::standard_option(name);
            if def.is_none() {
                let path = object.path_of("name");
                let offset = object.get("name").map_or(0, |node| node.offset);
                let message = format!("unknown option name '{name}' (define it in option-def)");
                reader.report(offset, &path, message);
                return None;
            }
            Some(def)
        }
        (name, Some(code)) => {
            let def = options::standard_option_by_code(code);
            let Some(name) = name else {
                return Some(def);
            };
            if def.is_some_and(|def| def.name == name) {
                return Some(def);
            }
            let path = object.path_of("name");
            let offset = object.get("name").map_or(0, |node| node.offset);
            let message = match def {
                Some(def) => format!("option {code} is '{}', not '{name}'", def.name),
                None => format!("option {code} has no standard definition named '{name}'"),
            };
            reader.report(offset, &path, message);
            None
        }
    }
}
