//! Small path-aware helpers for decoding a `serde_json::Value` against a
//! schema while collecting every problem (instead of stopping at the first).

use serde_json::{Map, Value};

use super::error::{ConfigIssue, IssueKind};
use super::substitute::child_path;

/// Collects schema problems while decoding.
#[derive(Debug, Default)]
pub(crate) struct Issues {
    list: Vec<ConfigIssue>,
}

impl Issues {
    pub(crate) fn push(&mut self, path: &str, kind: IssueKind) {
        self.list.push(ConfigIssue {
            path: path.to_owned(),
            kind,
        });
    }

    pub(crate) fn invalid_type(&mut self, path: &str, expected: &'static str, found: &Value) {
        self.push(
            path,
            IssueKind::InvalidType {
                expected,
                found: type_name(found),
            },
        );
    }

    pub(crate) fn invalid_value(&mut self, path: &str, message: impl Into<String>) {
        self.push(path, IssueKind::InvalidValue(message.into()));
    }

    pub(crate) fn into_vec(self) -> Vec<ConfigIssue> {
        self.list
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The JSON type name used in messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One object being decoded at `path`.
pub(crate) struct Obj<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) path: String,
}

impl<'a> Obj<'a> {
    /// `value` as an object, or an `expected object` issue.
    pub(crate) fn new(value: &'a Value, path: &str, issues: &mut Issues) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self {
                map,
                path: path.to_owned(),
            }),
            other => {
                issues.invalid_type(path, "object", other);
                None
            }
        }
    }

    pub(crate) fn child(&self, key: &str) -> String {
        child_path(&self.path, key)
    }

    /// Reports every key not in `allowed` as unknown.
    pub(crate) fn deny_unknown(&self, allowed: &[&str], issues: &mut Issues) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                issues.push(&self.child(key), IssueKind::UnknownKey);
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(crate) fn string(&self, key: &str, issues: &mut Issues) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                issues.invalid_type(&self.child(key), "string", other);
                None
            }
        }
    }

    pub(crate) fn boolean(&self, key: &str, issues: &mut Issues) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                issues.invalid_type(&self.child(key), "boolean", other);
                None
            }
        }
    }

    pub(crate) fn strings(&self, key: &str, issues: &mut Issues) -> Option<Vec<String>> {
        let value = self.get(key)?;
        let path = self.child(key);
        let Value::Array(items) = value else {
            issues.invalid_type(&path, "array of strings", value);
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => {
                    issues.invalid_type(&format!("{path}[{index}]"), "string", other);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(
        &self,
        key: &str,
        min: i64,
        max: i64,
        issues: &mut Issues,
    ) -> Option<i64> {
        let value = self.get(key)?;
        let path = self.child(key);
        let Value::Number(n) = value else {
            issues.invalid_type(&path, "integer", value);
            return None;
        };
        let int = n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        });
        match int {
            Some(i) if (min..=max).contains(&i) => Some(i),
            Some(_) if max == i64::MAX => {
                issues.invalid_value(&path, format!("must be an integer >= {min}"));
                None
            }
            Some(_) => {
                issues.invalid_value(&path, format!("must be an integer between {min} and {max}"));
                None
            }
            None => {
                issues.invalid_value(&path, "must be an integer");
                None
            }
        }
    }

    /// A finite number greater than zero.
    pub(crate) fn positive_number(&self, key: &str, issues: &mut Issues) -> Option<f64> {
        let value = self.get(key)?;
        let path = self.child(key);
        let Value::Number(n) = value else {
            issues.invalid_type(&path, "number", value);
            return None;
        };
        match n.as_f64() {
            Some(f) if f.is_finite() && f > 0.0 => Some(f),
            _ => {
                issues.invalid_value(&path, "must be a number greater than 0");
                None
            }
        }
    }

    /// A duration: a non-negative number of seconds or a duration string
    /// (see [`super::duration::parse_duration`]).
    pub(crate) fn duration(&self, key: &str, issues: &mut Issues) -> Option<std::time::Duration> {
        let value = self.get(key)?;
        let path = self.child(key);
        let parsed = match value {
            Value::Number(n) => n.as_f64().and_then(super::duration::duration_from_secs),
            Value::String(s) => super::duration::parse_duration(s),
            other => {
                issues.invalid_type(&path, "number or duration string", other);
                return None;
            }
        };
        if parsed.is_none() {
            issues.invalid_value(&path, super::duration::DURATION_HINT);
        }
        parsed
    }

    /// An absolute `http://` or `https://` URL.
    pub(crate) fn url(&self, key: &str, issues: &mut Issues) -> Option<String> {
        let raw = self.string(key, issues)?;
        if is_http_url(&raw) {
            Some(raw)
        } else {
            issues.invalid_value(&self.child(key), "expected an http:// or https:// URL");
            None
        }
    }
}

/// `true` for `http(s)://host…` (surrounding whitespace allowed, as `new URL` trims it).
pub(crate) fn is_http_url(raw: &str) -> bool {
    let trimmed = raw.trim();
    let lower = trimmed.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            !host.is_empty()
                && !host.starts_with(':')
                && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}
