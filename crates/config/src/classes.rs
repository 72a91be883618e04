//! `client-classes`: named classes with a `test` expression, options and fixed fields.

use crate::expression::{self, Condition, OptionNames};
use crate::json::{Node, Value};
use crate::model::{ClientClass, ValidLifetime};
use crate::options::{self, OptionDefinition, OptionType};
use crate::reader::{Keys, Object, Reader};
use crate::{option_data, subnet};

const CLASS_KEYS: Keys<'static> = Keys {
    supported: &[
        "name",
        "test",
        "only-if-required",
        "option-data",
        "next-server",
        "server-hostname",
        "boot-file-name",
        "valid-lifetime",
        "min-valid-lifetime",
        "max-valid-lifetime",
    ],
    unsupported: &[
        "option-def",
        "template-test",
        "only-in-additional-list",
        "offer-lifetime",
    ],
    annotations: true,
};

/// Kea's built-in classes; they cannot be defined.
pub(crate) const BUILT_IN: [&str; 4] = ["ALL", "KNOWN", "UNKNOWN", "BOOTP"];

/// Option names for expressions: `option-def` entries, then the standard table.
struct Names<'d> {
    custom: &'d [OptionDefinition],
}

impl Names<'_> {
    fn definition(&self, code: u8) -> Option<OptionDefinition> {
        let custom = self.custom.iter().find(|def| def.code == code).copied();
        custom.or_else(|| options::standard_option_by_code(code).copied())
    }
}

impl OptionNames for Names<'_> {
    fn code_of(&self, name: &str) -> Option<u8> {
        let custom = self.custom.iter().find(|def| def.name == name);
        custom
            .map(|def| def.code)
            .or_else(|| options::standard_option(name).map(|def| def.code))
    }

    fn holds_addresses(&self, code: u8) -> bool {
        self.definition(code)
            .is_some_and(|def| def.kind == OptionType::Ipv4Address)
    }
}

/// Reads `client-classes`. A class may only refer (`member`) to built-in classes and classes
/// defined before it, as in Kea.
pub(crate) fn read(reader: &mut Reader<'_>, dhcp4: &Object<'_>) -> Vec<ClientClass> {
    let Some(node) = dhcp4.get("client-classes") else {
        return Vec::new();
    };
    let path = dhcp4.path_of("client-classes");
    let Some(elements) = reader.array(node, &path) else {
        return Vec::new();
    };
    let mut classes: Vec<ClientClass> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let element_path = format!("{path}[{index}]");
        if let Some(class) = read_class(reader, element, &element_path, &classes) {
            classes.push(class);
        }
    }
    classes
}

fn read_class(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    earlier: &[ClientClass],
) -> Option<ClientClass> {
    let object = reader.object(node, path, &CLASS_KEYS)?;
    let name = reader.required(&object, "name");
    let name = name.and_then(|name| reader.string(name, &object.path_of("name")))?;
    let name_offset = object.get("name").map_or(node.offset, |node| node.offset);
    if name.is_empty() || BUILT_IN.contains(&name) || name.starts_with("VENDOR_CLASS_") {
        let message = format!("'{name}' cannot be defined: it is empty or a built-in class");
        reader.report(name_offset, &object.path_of("name"), message);
        return None;
    }
    if earlier.iter().any(|class| class.name == name) {
        let message = format!("class '{name}' is already defined");
        reader.report(name_offset, &object.path_of("name"), message);
        return None;
    }
    let test = read_test(reader, &object, earlier);
    let options = option_data::read_field(reader, &object, "option-data");
    let next_server = reader.opt_ipv4(&object, "next-server");
    let server_hostname = subnet::read_fixed_field(reader, &object, "server-hostname", 63);
    let boot_file_name = subnet::read_fixed_field(reader, &object, "boot-file-name", 127);
    let only_if_required = reader
        .opt_bool(&object, "only-if-required")
        .unwrap_or(false);
    let valid_lifetime = read_lifetime(reader, &object);
    let test = test?;
    let depends_on_known = test.as_ref().is_some_and(|test| {
        test.members().into_iter().any(|member| {
            member == "KNOWN"
                || member == "UNKNOWN"
                || earlier
                    .iter()
                    .any(|class| class.name == member && class.depends_on_known)
        })
    });
    Some(ClientClass {
        name: name.to_owned(),
        test,
        only_if_required,
        options,
        next_server: next_server.filter(|address| !address.is_unspecified()),
        server_hostname: server_hostname.filter(|name| !name.is_empty()),
        boot_file_name: boot_file_name.filter(|name| !name.is_empty()),
        valid_lifetime,
        depends_on_known,
        user_context: object.get("user-context").map(crate::json::to_serde),
    })
}

/// A class's lifetime keys, read as Kea reads them in a class: on their
/// own, not inherited. An unset bound is the lifetime; a bound alone is
/// the lifetime too; both bounds without the lifetime are an error.
fn read_lifetime(reader: &mut Reader<'_>, object: &Object<'_>) -> Option<ValidLifetime> {
    let min: Option<u32> = reader.opt_integer(object, "min-valid-lifetime");
    let valid: Option<u32> = reader.opt_integer(object, "valid-lifetime");
    let max: Option<u32> = reader.opt_integer(object, "max-valid-lifetime");
    let lifetime = match (min, valid, max) {
        (None, None, None) => return None,
        (Some(_), None, Some(_)) => {
            let key = "min-valid-lifetime";
            let message = "min-valid-lifetime and max-valid-lifetime need a valid-lifetime";
            reader.report_at(object, key, message);
            return None;
        }
        (_, Some(valid), _) => ValidLifetime {
            min: min.unwrap_or(valid),
            default: valid,
            max: max.unwrap_or(valid),
        },
        (Some(only), None, None) | (None, None, Some(only)) => ValidLifetime {
            min: only,
            default: only,
            max: only,
        },
    };
    crate::dhcp4::check_lifetime_order(
        reader,
        object,
        lifetime.min,
        lifetime.default,
        lifetime.max,
    );
    Some(lifetime)
}

/// `Some(None)` without a test (or an empty one); `None` after a problem.
fn read_test(
    reader: &mut Reader<'_>,
    object: &Object<'_>,
    earlier: &[ClientClass],
) -> Option<Option<Condition>> {
    let Some(node) = object.get("test") else {
        return Some(None);
    };
    let path = object.path_of("test");
    let text = reader.string(node, &path)?;
    if text.trim().is_empty() {
        return Some(None);
    }
    let names = Names {
        custom: &reader.custom_options,
    };
    let parsed = expression::parse(text, &names);
    let condition = match parsed {
        Ok(condition) => condition,
        Err(error) => {
            let message = format!(
                "bad test expression at character {}: {} (in \"{text}\")",
                error.position + 1,
                error.message
            );
            reader.report(string_offset(node, error.position), &path, message);
            return None;
        }
    };
    for member in condition.members() {
        let known = BUILT_IN.contains(&member) || earlier.iter().any(|class| class.name == member);
        if !known {
            let message =
                format!("member('{member}') refers to a class not defined before this one");
            reader.report(node.offset, &path, message);
            return None;
        }
    }
    Some(Some(condition))
}

/// The byte offset of character `position` inside a JSON string node (past the opening
/// quote), so a problem on a later line of a long string is reported on that line.
fn string_offset(node: &Node, position: usize) -> usize {
    match node.value {
        Value::String(_) => node.offset + 1 + position,
        _ => node.offset,
    }
}
