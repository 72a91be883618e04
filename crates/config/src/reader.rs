//! Typed access to the JSON tree that records every problem instead of
//! stopping at the first.

use std::net::Ipv4Addr;

use crate::error::Problem;
use crate::json::{Lines, Member, Node, Value, join};

/// Collects problems, each located by line and JSON path.
pub(crate) struct Reader<'t> {
    source: &'t str,
    lines: Lines,
    problems: Vec<Problem>,
    /// Definitions from `option-def`, read before any `option-data`.
    pub(crate) custom_options: Vec<crate::options::OptionDefinition>,
}

/// An object being read, with its path.
#[derive(Clone, Copy)]
pub(crate) struct Object<'n> {
    /// The object node.
    pub(crate) node: &'n Node,
    /// Its members.
    pub(crate) members: &'n [Member],
    /// Its JSON path.
    pub(crate) path: &'n str,
}

/// Which keys an object may hold.
pub(crate) struct Keys<'k> {
    /// Keys leasehold reads.
    pub(crate) supported: &'k [&'k str],
    /// Keys Kea knows but leasehold does not implement yet.
    pub(crate) unsupported: &'k [&'k str],
    /// Whether `comment` and `user-context` are allowed here, as in Kea.
    pub(crate) annotations: bool,
}

impl<'n> Object<'n> {
    /// The value of `key` (the first, if it is duplicated).
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.members
            .iter()
            .find(|member| member.key == key)
            .map(|member| &member.node)
    }

    /// The JSON path of `key` in this object.
    pub(crate) fn path_of(&self, key: &str) -> String {
        join(self.path, key)
    }
}

impl<'t> Reader<'t> {
    /// A reader for text from `source`, with `lines` indexing that text.
    pub(crate) fn new(source: &'t str, lines: Lines) -> Self {
        Self {
            source,
            lines,
            problems: Vec::new(),
            custom_options: Vec::new(),
        }
    }

    /// Records a problem at byte `offset`.
    pub(crate) fn report(&mut self, offset: usize, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            source: self.source.to_owned(),
            line: self.lines.line(offset),
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Reports a problem with `key` of `object`, at the key's line when it is
    /// there, else at the map's.
    pub(crate) fn report_at(&mut self, object: &Object<'_>, key: &str, message: impl Into<String>) {
        let offset = object
            .get(key)
            .map_or(object.node.offset, |node| node.offset);
        self.report(offset, &object.path_of(key), message);
    }

    /// Whether any problem has been recorded.
    pub(crate) fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// The problems recorded so far.
    pub(crate) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// `node` as an object, after checking its keys against `keys`.
    pub(crate) fn object<'n>(
        &mut self,
        node: &'n Node,
        path: &'n str,
        keys: &Keys<'_>,
    ) -> Option<Object<'n>> {
        let Value::Object(members) = &node.value else {
            self.report(node.offset, path, "expected an object");
            return None;
        };
        self.check_keys(members, path, keys);
        Some(Object {
            node,
            members,
            path,
        })
    }

    fn check_keys(&mut self, members: &[Member], path: &str, keys: &Keys<'_>) {
        for (index, member) in members.iter().enumerate() {
            let key = member.key.as_str();
            let key_path = join(path, key);
            if let Some(first) = members[..index].iter().find(|other| other.key == key) {
                let line = self.lines.line(first.key_offset);
                let message = format!("duplicate key '{key}' (first given on line {line})");
                self.report(member.key_offset, &key_path, message);
            } else if keys.supported.contains(&key)
                || (keys.annotations && (key == "user-context" || key.starts_with("comment")))
            {
                self.check_annotation(member, &key_path);
            } else if is_known_unsupported(key, keys.unsupported) {
                let message = format!("'{key}' is not supported by leasehold yet");
                self.report(member.key_offset, &key_path, message);
            } else {
                self.report(member.key_offset, &key_path, format!("unknown key '{key}'"));
            }
        }
    }

    /// Kea wants `user-context` to be a map and `comment` a string.
    fn check_annotation(&mut self, member: &Member, path: &str) {
        let node = &member.node;
        if member.key == "user-context" && !matches!(node.value, Value::Object(_)) {
            self.report(node.offset, path, "expected an object");
        } else if member.key.starts_with("comment") && !matches!(node.value, Value::String(_)) {
            self.report(node.offset, path, "expected a string");
        }
    }

    /// `node` as an array.
    pub(crate) fn array<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        let Value::Array(elements) = &node.value else {
            self.report(node.offset, path, "expected an array");
            return None;
        };
        Some(elements)
    }

    /// `node` as a string.
    pub(crate) fn string<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n str> {
        let Value::String(text) = &node.value else {
            self.report(node.offset, path, "expected a string");
            return None;
        };
        Some(text)
    }

    /// `node` as a boolean.
    pub(crate) fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        let Value::Bool(value) = node.value else {
            self.report(node.offset, path, "expected true or false");
            return None;
        };
        Some(value)
    }

    /// `node` as an integer of type `T`.
    pub(crate) fn integer<T>(&mut self, node: &Node, path: &str) -> Option<T>
    where
        T: TryFrom<i64> + Bounded,
    {
        let Value::Number(text) = &node.value else {
            self.report(node.offset, path, "expected an integer");
            return None;
        };
        let Ok(number) = text.parse::<i64>() else {
            self.report(node.offset, path, format!("{text} is not an integer"));
            return None;
        };
        let Ok(value) = T::try_from(number) else {
            let message = format!("{number} is out of range {}..={}", T::MIN, T::MAX);
            self.report(node.offset, path, message);
            return None;
        };
        Some(value)
    }

    /// `node` as an IPv4 address in a string.
    pub(crate) fn ipv4(&mut self, node: &Node, path: &str) -> Option<Ipv4Addr> {
        let text = self.string(node, path)?;
        let Ok(address) = text.trim().parse() else {
            self.report(
                node.offset,
                path,
                format!("'{text}' is not an IPv4 address"),
            );
            return None;
        };
        Some(address)
    }

    /// The string at `key`, if present.
    pub(crate) fn opt_string<'n>(&mut self, object: &Object<'n>, key: &str) -> Option<&'n str> {
        let node = object.get(key)?;
        self.string(node, &object.path_of(key))
    }

    /// The boolean at `key`, if present.
    pub(crate) fn opt_bool(&mut self, object: &Object<'_>, key: &str) -> Option<bool> {
        let node = object.get(key)?;
        self.boolean(node, &object.path_of(key))
    }

    /// The integer at `key`, if present.
    pub(crate) fn opt_integer<T>(&mut self, object: &Object<'_>, key: &str) -> Option<T>
    where
        T: TryFrom<i64> + Bounded,
    {
        let node = object.get(key)?;
        self.integer(node, &object.path_of(key))
    }

    /// The IPv4 address at `key`, if present.
    pub(crate) fn opt_ipv4(&mut self, object: &Object<'_>, key: &str) -> Option<Ipv4Addr> {
        let node = object.get(key)?;
        self.ipv4(node, &object.path_of(key))
    }

    /// The value at `key`, reporting its absence.
    pub(crate) fn required<'n>(&mut self, object: &Object<'n>, key: &str) -> Option<&'n Node> {
        let node = object.get(key);
        if node.is_none() {
            let message = format!("missing required key '{key}'");
            self.report(object.node.offset, object.path, message);
        }
        node
    }
}

/// Kea keys in families (`ddns-*`) count as known.
fn is_known_unsupported(key: &str, unsupported: &[&str]) -> bool {
    unsupported
        .iter()
        .any(|known| match known.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => *known == key,
        })
}

/// Integer types with printable bounds, for range messages.
pub(crate) trait Bounded: Sized {
    /// The smallest value.
    const MIN: i64;
    /// The largest value.
    const MAX: i64;
}

macro_rules! bounded {
    ($($type:ty),*) => {
        $(impl Bounded for $type {
            const MIN: i64 = <$type>::MIN as i64;
            const MAX: i64 = <$type>::MAX as i64;
        })*
    };
}

bounded!(u8, u16, u32);

/// `u64` values above `i64::MAX` cannot be written in a configuration anyway.
impl Bounded for u64 {
    const MIN: i64 = 0;
    const MAX: i64 = i64::MAX;
}
