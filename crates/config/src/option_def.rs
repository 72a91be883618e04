//! `option-def`: custom option definitions in the `dhcp4` space.
//!
//! A definition gives `option-data` a name and a type for a code the standard table lacks, so
//! the data is encoded exactly as Kea encodes it (`option_definition.cc`). The encoder works on
//! [`OptionDefinition`]s with `'static` names and record layouts, so a custom definition's
//! name and record layout are leaked: a few bytes per definition and configuration load.

use crate::json::Node;
use crate::model::OptionDef;
use crate::options::{self, OptionDefinition, OptionType};
use crate::reader::{Keys, Object, Reader};

const KEYS: Keys<'static> = Keys {
    supported: &[
        "name",
        "code",
        "type",
        "array",
        "record-types",
        "space",
        "encapsulate",
    ],
    unsupported: &[],
    annotations: true,
};

/// Reads the `option-def` list and registers each definition with `reader`, so later
/// `option-data` entries can use it.
pub(crate) fn read(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> Vec<OptionDef> {
    let Some(node) = dhcp4.get("option-def") else {
        return Vec::new();
    };
    let path = dhcp4.path_of("option-def");
    let Some(elements) = reader.array(node, &path) else {
        return Vec::new();
    };
    let mut defs: Vec<OptionDef> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        let Some(def) = read_one(reader, element, &element_path) else {
            continue;
        };
        let clash = defs
            .iter()
            .find(|other| other.code == def.code || other.name == def.name);
        if let Some(other) = clash {
            let message = format!(
                "option '{}' ({}) clashes with option-def '{}' ({})",
                def.name, def.code, other.name, other.code
            );
            reader.report(element.offset, &element_path, message);
            continue;
        }
        reader.custom_options.push(def.definition);
        defs.push(def);
    }
    defs
}

fn read_one(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<OptionDef> {
    let object = reader.object(node, path, &KEYS)?;
    let name = reader.required(&object, "name");
    let name = name.and_then(|node| reader.string(node, &object.path_of("name")));
    let code = reader.required(&object, "code");
    let code: Option<u8> = code.and_then(|node| reader.integer(node, &object.path_of("code")));
    let kind = reader.required(&object, "type");
    let kind = kind.and_then(|node| reader.string(node, &object.path_of("type")));
    let array = reader.opt_bool(&object, "array").unwrap_or(false);
    let records = reader.opt_string(&object, "record-types").unwrap_or("");
    let space = reader.opt_string(&object, "space").unwrap_or("dhcp4");
    let encapsulate = reader.opt_string(&object, "encapsulate").unwrap_or("");
    let (name, code, kind) = (name?, code?, kind?);

    let problem = |reader: &mut Reader<'_>, key: &str, message: String| {
        let offset = object.get(key).map_or(node.offset, |node| node.offset);
        reader.report(offset, &object.path_of(key), message);
    };
    if !is_valid_name(name) {
        problem(
            reader,
            "name",
            format!("'{name}' is not a valid option name"),
        );
        return None;
    }
    if code == 0 || code == 255 {
        problem(reader, "code", format!("option code {code} is reserved"));
        return None;
    }
    if space != "dhcp4" {
        let message = format!("option space '{space}' is not supported by leasehold yet");
        problem(reader, "space", message);
        return None;
    }
    if !encapsulate.is_empty() {
        let message = "encapsulated option spaces are not supported by leasehold yet".to_owned();
        problem(reader, "encapsulate", message);
        return None;
    }
    if let Some(standard) = options::standard_option_by_code(code) {
        let message = format!("option {code} is the standard option '{}'", standard.name);
        problem(reader, "code", message);
        return None;
    }
    if let Some(standard) = options::standard_option(name) {
        let message = format!("'{name}' is the name of standard option {}", standard.code);
        problem(reader, "name", message);
        return None;
    }
    let kind = match parse_kind(kind, records, array) {
        Ok(kind) => kind,
        Err((key, message)) => {
            problem(reader, key, message);
            return None;
        }
    };
    let definition = OptionDefinition {
        name: Box::leak(name.to_owned().into_boxed_str()),
        code,
        kind,
        array,
    };
    Some(OptionDef {
        name: name.to_owned(),
        code,
        space: space.to_owned(),
        definition,
    })
}

/// Kea's option names: letters, digits, `-` and `_`, not all digits.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit())
}

fn parse_kind(
    kind: &str,
    records: &str,
    array: bool,
) -> Result<OptionType, (&'static str, String)> {
    if kind != "record" {
        if !records.trim().is_empty() {
            let message = "record-types is only allowed with type 'record'".to_owned();
            return Err(("record-types", message));
        }
        let scalar = scalar(kind).ok_or_else(|| ("type", unknown_type(kind)))?;
        if array && matches!(scalar, OptionType::String | OptionType::Empty) {
            return Err((
                "array",
                format!("an option of type '{kind}' cannot be an array"),
            ));
        }
        return Ok(scalar);
    }
    let mut fields = Vec::new();
    for field in records.split(',').map(str::trim) {
        let scalar = scalar(field)
            .filter(|scalar| *scalar != OptionType::Empty)
            .ok_or_else(|| ("record-types", unknown_type(field)))?;
        fields.push(scalar);
    }
    if fields.len() < 2 {
        let message = "a record needs at least two record-types".to_owned();
        return Err(("record-types", message));
    }
    if array && fields.last() == Some(&OptionType::String) {
        let message = "an array record cannot end in a string".to_owned();
        return Err(("array", message));
    }
    Ok(OptionType::Record(Box::leak(fields.into_boxed_slice())))
}

fn unknown_type(kind: &str) -> String {
    format!("'{kind}' is not an option type")
}

fn scalar(kind: &str) -> Option<OptionType> {
    Some(match kind {
        "binary" => OptionType::Binary,
        "boolean" => OptionType::Boolean,
        "empty" => OptionType::Empty,
        "fqdn" => OptionType::Fqdn,
        "int8" => OptionType::Int8,
        "int16" => OptionType::Int16,
        "int32" => OptionType::Int32,
        "uint8" => OptionType::Uint8,
        "uint16" => OptionType::Uint16,
        "uint32" => OptionType::Uint32,
        "ipv4-address" => OptionType::Ipv4Address,
        "ipv6-address" => OptionType::Ipv6Address,
        "ipv6-prefix" => OptionType::Ipv6Prefix,
        "psid" => OptionType::Psid,
        "string" => OptionType::String,
        "tuple" => OptionType::Tuple,
        _ => return None,
    })
}
