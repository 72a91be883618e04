//! Kea's answer document: `{"result": R, "text": T, "arguments": A}`.

use serde_json::{Map, Value, json};

/// `result` 0: the command succeeded.
pub(crate) const SUCCESS: i64 = 0;
/// `result` 1: the command failed.
pub(crate) const ERROR: i64 = 1;
/// `result` 2: the command is not supported.
pub(crate) const UNSUPPORTED: i64 = 2;
/// `result` 3: the command succeeded but found nothing.
pub(crate) const EMPTY: i64 = 3;

/// One answer to one command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) result: i64,
    pub(crate) text: Option<String>,
    pub(crate) arguments: Option<Value>,
}

impl Answer {
    pub(crate) fn new(result: i64, text: impl Into<String>) -> Self {
        Self {
            result,
            text: Some(text.into()),
            arguments: None,
        }
    }

    pub(crate) fn success(text: impl Into<String>) -> Self {
        Self::new(SUCCESS, text)
    }

    pub(crate) fn error(text: impl Into<String>) -> Self {
        Self::new(ERROR, text)
    }

    pub(crate) fn empty(text: impl Into<String>) -> Self {
        Self::new(EMPTY, text)
    }

    pub(crate) fn unsupported(command: &str) -> Self {
        Self::new(UNSUPPORTED, format!("'{command}' command not supported."))
    }

    /// A success without text, as Kea's `createAnswer(0, arguments)`.
    pub(crate) fn arguments_only(arguments: Value) -> Self {
        Self {
            result: SUCCESS,
            text: None,
            arguments: Some(arguments),
        }
    }

    pub(crate) fn with_arguments(mut self, arguments: Value) -> Self {
        self.arguments = Some(arguments);
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut answer = Map::new();
        answer.insert("result".into(), json!(self.result));
        if let Some(text) = &self.text {
            answer.insert("text".into(), json!(text));
        }
        if let Some(arguments) = &self.arguments {
            answer.insert("arguments".into(), arguments.clone());
        }
        Value::Object(answer)
    }
}
