//! ISC Kea `Dhcp4` JSON configuration, parsed and validated into typed form.
//!
//! Start with [`Config::load`] (or [`Config::parse`] for text in hand). The
//! result is a [`Config`] the engine can use without looking at JSON again:
//! addresses parsed, pools checked against their subnet, `option-data`
//! encoded to wire bytes ([`options`] has the standard option table), and
//! lifetimes resolved through Kea's global -> subnet inheritance.
//!
//! The input is Kea's own format, comments (`//`, `/* */`, `#`) included, and
//! string values may hold `<NAME>` placeholders filled from the environment.
//! Every key is checked: one leasehold does not implement yet (such as
//! `dhcp-ddns` or `config-control`) is reported as unsupported and one
//! Kea does not know either is reported as unknown; neither is ignored.
//! Loading collects every problem it can find, each with its line and JSON
//! path, in one [`ConfigError`].
//!
//! What this crate does not do: it opens no sockets or lease files and does
//! not check that interfaces exist. Class `test` expressions are parsed
//! here, once ([`expression`]); the engine evaluates them. Options Kea's
//! server sets itself (53, 54, 51, 58, 59, 1...) may be configured, as in
//! Kea; which value wins is the engine's decision. Parsing never panics.

mod classes;
pub mod control;
mod database;
mod dhcp4;
mod error;
pub mod expression;
mod json;
mod model;
mod network;
mod option_data;
mod option_def;
pub mod options;
mod reader;
mod subnet;

use std::path::Path;

pub use error::{ConfigError, Problem};
pub use model::*;

use json::Lines;
use reader::Reader;

impl Config {
    /// Reads and validates a configuration file.
    ///
    /// A file that cannot be read is reported as a single problem on line 0.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            problems: vec![Problem {
                source: source.clone(),
                line: 0,
                path: String::new(),
                message: format!("cannot read the configuration: {error}"),
            }],
        })?;
        Self::parse(&text, &source)
    }

    /// Parses configuration text; `source` names it in error messages (a
    /// path or `<inline>`). Placeholders are filled from the process
    /// environment.
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        Self::parse_with_env(text, source, &|name| std::env::var(name).ok())
    }

    /// Like [`Config::parse`], with placeholders filled by `lookup` instead
    /// of the process environment (for tests and for callers with their own
    /// variables).
    pub fn parse_with_env(
        text: &str,
        source: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        // Blanking keeps every byte offset, so line numbers refer to `text`.
        let text = json::blank_hash_comments(text);
        let mut reader = Reader::new(source, Lines::new(&text));
        let mut root = match json::parse(&text) {
            Ok(root) => root,
            Err(error) => {
                reader.report(error.offset, "", error.message);
                return Err(ConfigError {
                    problems: reader.into_problems(),
                });
            }
        };
        for unset in json::fill_placeholders(&mut root, lookup) {
            let message = format!(
                "environment variable '{}' is not set (placeholder <{}>)",
                unset.name, unset.name
            );
            reader.report(unset.offset, &unset.path, message);
        }
        let raw = json::to_serde(&root);
        let config = dhcp4::read_document(&mut reader, &root, raw);
        match config {
            Some(config) if !reader.has_problems() => Ok(config),
            _ => {
                // Sections are read in a fixed order; report in file order.
                let mut problems = reader.into_problems();
                problems.sort_by_key(|problem| problem.line);
                Err(ConfigError { problems })
            }
        }
    }
}

#[cfg(test)]
mod shape_tests;
#[cfg(test)]
mod tests;
