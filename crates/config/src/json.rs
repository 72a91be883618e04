//! Kea-flavoured JSON: comments, byte offsets for every value, and
//! `<PLACEHOLDER>` substitution.
//!
//! Kea accepts `//`, `/* */` and `#` comments outside strings; everything else
//! is strict JSON (no trailing commas, no single quotes). `jsonc-parser` knows
//! the first two comment styles, so `#` comments are blanked out first, byte
//! for byte, which keeps every offset (and so every line number) valid.

use jsonc_parser::ast;
use jsonc_parser::{CollectOptions, ParseOptions};

/// A parsed JSON value and where it starts in the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// Byte offset of the value's first character.
    pub(crate) offset: usize,
    /// The value itself.
    pub(crate) value: Value,
}

/// A JSON value whose children carry their own offsets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, kept as written so integers are never rounded.
    Number(String),
    /// A string, escapes resolved.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, members in file order (duplicates kept, for reporting).
    Object(Vec<Member>),
}

/// One `"key": value` pair of an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    /// The key.
    pub(crate) key: String,
    /// Byte offset of the key.
    pub(crate) key_offset: usize,
    /// The value.
    pub(crate) node: Node,
}

/// A syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset of the error.
    pub(crate) offset: usize,
    /// The parser's description.
    pub(crate) message: String,
}

/// An unset environment variable named by a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnsetVariable {
    /// Byte offset of the string holding the placeholder.
    pub(crate) offset: usize,
    /// JSON path of that string.
    pub(crate) path: String,
    /// The variable's name.
    pub(crate) name: String,
}

/// Maps byte offsets to 1-based line numbers.
#[derive(Debug, Clone)]
pub(crate) struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    /// Indexes the line starts of `text`.
    pub(crate) fn new(text: &str) -> Self {
        let newlines = text.match_indices('\n').map(|(index, _)| index + 1);
        Self {
            starts: std::iter::once(0).chain(newlines).collect(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// Parses Kea JSON text. The text must already have gone through
/// [`blank_hash_comments`] for `#` comments to be accepted.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &options).map_err(
        |error| SyntaxError {
            offset: error.range().start,
            message: error.kind().to_string(),
        },
    )?;
    let Some(value) = parsed.value else {
        return Err(SyntaxError {
            offset: 0,
            message: "the configuration is empty".into(),
        });
    };
    Ok(convert(value))
}

/// Replaces every `#` comment (outside strings and other comments) with
/// spaces, keeping byte offsets and line breaks where they were.
pub(crate) fn blank_hash_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut index = 0;
    while index < bytes.len() {
        match (bytes[index], bytes.get(index + 1)) {
            (b'"', _) => index = skip_string(bytes, index),
            (b'/', Some(b'/')) => index = line_end(bytes, index),
            (b'/', Some(b'*')) => index = block_comment_end(bytes, index),
            (b'#', _) => {
                let end = line_end(bytes, index);
                out[index..end].fill(b' ');
                index = end;
            }
            _ => index += 1,
        }
    }
    // Only whole characters of a comment were replaced, and with ASCII, so the
    // bytes are still UTF-8; fall back to the input rather than panic.
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Index just past the string starting at `start` (a `"`).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut index = start + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return index + 1,
            b'\n' => return index,
            _ => index += 1,
        }
    }
    bytes.len()
}

/// Index of the newline ending the line that holds `start` (or the end).
fn line_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |position| start + position)
}

/// Index just past the `*/` closing the block comment at `start`.
fn block_comment_end(bytes: &[u8], start: usize) -> usize {
    bytes[start + 2..]
        .windows(2)
        .position(|pair| pair == b"*/")
        .map_or(bytes.len(), |position| start + 2 + position + 2)
}

fn convert(value: ast::Value<'_>) -> Node {
    match value {
        ast::Value::NullKeyword(null) => node(null.range.start, Value::Null),
        ast::Value::BooleanLit(boolean) => node(boolean.range.start, Value::Bool(boolean.value)),
        ast::Value::NumberLit(number) => {
            node(number.range.start, Value::Number(number.value.to_owned()))
        }
        ast::Value::StringLit(string) => {
            node(string.range.start, Value::String(string.value.into_owned()))
        }
        ast::Value::Array(array) => {
            let elements = array.elements.into_iter().map(convert).collect();
            node(array.range.start, Value::Array(elements))
        }
        ast::Value::Object(object) => {
            let members = object.properties.into_iter().map(convert_member).collect();
            node(object.range.start, Value::Object(members))
        }
    }
}

fn convert_member(property: ast::ObjectProp<'_>) -> Member {
    let (key, key_offset) = match property.name {
        ast::ObjectPropName::String(name) => (name.value.into_owned(), name.range.start),
        ast::ObjectPropName::Word(name) => (name.value.to_owned(), name.range.start),
    };
    Member {
        key,
        key_offset,
        node: convert(property.value),
    }
}

fn node(offset: usize, value: Value) -> Node {
    Node { offset, value }
}

/// Fills `<NAME>` placeholders in every string value from `lookup`.
///
/// NAME is `[A-Z_][A-Z0-9_]*`. Keys are left alone. Each placeholder whose
/// variable `lookup` does not know is returned, with the path of its string;
/// the placeholder text then stays in place.
pub(crate) fn fill_placeholders(
    root: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<UnsetVariable> {
    let mut unset = Vec::new();
    fill_node(root, "", lookup, &mut unset);
    unset
}

fn fill_node(
    node: &mut Node,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<UnsetVariable>,
) {
    match &mut node.value {
        Value::String(text) => {
            let (filled, missing) = substitute(text, lookup);
            *text = filled;
            unset.extend(missing.into_iter().map(|name| UnsetVariable {
                offset: node.offset,
                path: path.to_owned(),
                name,
            }));
        }
        Value::Array(elements) => {
            for (index, element) in elements.iter_mut().enumerate() {
                fill_node(element, &format!("{path}[{index}]"), lookup, unset);
            }
        }
        Value::Object(members) => {
            for member in members {
                let child = join(path, &member.key);
                fill_node(&mut member.node, &child, lookup, unset);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `path/key`, or `key` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}/{key}")
    }
}

/// Replaces the placeholders in `text`; returns the new text and the names
/// `lookup` could not resolve.
fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(name) = placeholder_name(after) else {
            out.push('<');
            rest = after;
            continue;
        };
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => {
                out.push_str(&rest[open..open + name.len() + 2]);
                missing.push(name.to_owned());
            }
        }
        rest = &after[name.len() + 1..];
    }
    out.push_str(rest);
    (out, missing)
}

/// The NAME of a `NAME>` prefix of `text`, if it is a valid placeholder.
fn placeholder_name(text: &str) -> Option<&str> {
    let close = text.find('>')?;
    let name = &text[..close];
    let mut chars = name.chars();
    let first = chars.next()?;
    let valid_first = first.is_ascii_uppercase() || first == '_';
    let valid_rest = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (valid_first && valid_rest).then_some(name)
}

/// The value as `serde_json`, for `config-get`. Numbers that `serde_json`
/// cannot represent (none that the parser accepts) become `null`.
pub(crate) fn to_serde(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(value) => serde_json::Value::Bool(*value),
        Value::Number(text) => text
            .parse::<serde_json::Number>()
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(text) => serde_json::Value::String(text.clone()),
        Value::Array(elements) => elements.iter().map(to_serde).collect(),
        Value::Object(members) => members
            .iter()
            .map(|member| (member.key.clone(), to_serde(&member.node)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "LEASE_DIR" => Some("/var/lib/leasehold".into()),
            "QUOTE" => Some("a \"b\"\nc".into()),
            _ => None,
        }
    }

    fn parse_text(text: &str) -> Node {
        parse(&blank_hash_comments(text)).expect("valid JSON")
    }

    #[test]
    fn lines_are_one_based() {
        let lines = Lines::new("a\nbc\n\nd");
        assert_eq!(lines.line(0), 1);
        assert_eq!(lines.line(1), 1);
        assert_eq!(lines.line(2), 2);
        assert_eq!(lines.line(5), 3);
        assert_eq!(lines.line(6), 4);
    }

    #[test]
    fn hash_comments_are_blanked_in_place() {
        let text = "{ # comment \"with quote\"\n \"a#b\": 1 // # not mine\n}";
        let blanked = blank_hash_comments(text);
        assert_eq!(blanked.len(), text.len());
        assert_eq!(
            blanked,
            "{                       \n \"a#b\": 1 // # not mine\n}"
        );
    }

    #[test]
    fn hash_inside_block_comment_is_left_alone() {
        let text = "/* # */ {}";
        assert_eq!(blank_hash_comments(text), text);
    }

    #[test]
    fn all_three_comment_styles_parse() {
        let node = parse_text("# hash\n// slashes\n/* block\n */ {\"a\": [1, 2] # tail\n}");
        let Value::Object(members) = node.value else {
            panic!("not an object")
        };
        assert_eq!(members[0].key, "a");
        assert_eq!(
            Lines::new("# hash\n// slashes\n/* block\n */ {").line(members[0].key_offset),
            4
        );
    }

    #[test]
    fn strict_json_otherwise() {
        for text in [
            "{\"a\": 1,}",
            "{\"a\": 1 \"b\": 2}",
            "{'a': 1}",
            "{a: 1}",
            "{\"a\": 0x10}",
            "",
        ] {
            assert!(parse(text).is_err(), "{text} accepted");
        }
    }

    #[test]
    fn syntax_error_has_an_offset() {
        let text = "{\n\"a\": 1,\n\"b\": }";
        let error = parse(text).unwrap_err();
        assert_eq!(Lines::new(text).line(error.offset), 3);
    }

    #[test]
    fn placeholders_are_filled_from_the_lookup() {
        let mut node = parse_text(r#"{"name": "<LEASE_DIR>/leases.csv", "x": "<QUOTE>"}"#);
        let unset = fill_placeholders(&mut node, &env);
        assert!(unset.is_empty());
        let raw = to_serde(&node);
        assert_eq!(raw["name"], "/var/lib/leasehold/leases.csv");
        assert_eq!(raw["x"], "a \"b\"\nc");
    }

    #[test]
    fn unset_placeholders_are_reported_with_their_path() {
        let mut node = parse_text(r#"{"a": [{"b": "<NOPE> and <LEASE_DIR> and <ALSO_NOT>"}]}"#);
        let unset = fill_placeholders(&mut node, &env);
        let names: Vec<_> = unset.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["NOPE", "ALSO_NOT"]);
        assert_eq!(unset[0].path, "a[0]/b");
        assert_eq!(
            to_serde(&node)["a"][0]["b"],
            "<NOPE> and /var/lib/leasehold and <ALSO_NOT>"
        );
    }

    #[test]
    fn things_that_are_not_placeholders_stay() {
        let (text, missing) = substitute("<lower> <1X> <> <A B> a<b <_OK", &env);
        assert_eq!(text, "<lower> <1X> <> <A B> a<b <_OK");
        assert!(missing.is_empty());
    }

    #[test]
    fn keys_are_not_substituted() {
        let mut node = parse_text(r#"{"<NOPE>": 1}"#);
        assert!(fill_placeholders(&mut node, &env).is_empty());
    }
}
