//! Structural comparison of the JSON a fixture expects with the JSON a plugin
//! answered, as a list of readable differences, one per line, each with its
//! JSON path (`events[0].event.text: expected "hi", got "hello"`).
//!
//! Rules, so that fixtures stay short: the string `"{{any}}"` matches any
//! value (e.g. an id the plugin derives from the clock); a key the fixture
//! leaves out matches `null`, `[]` and `{}`; in [`Match::Subset`] it matches
//! anything.

use serde_json::Value;

/// The value that matches any value.
pub const ANY: &str = "{{any}}";

/// At most this many differences are listed.
const MAX_DIFFERENCES: usize = 20;

/// How keys missing from the expected object are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every key the actual value has must be expected, unless it is empty
    /// (`null`, `[]`, `{}`).
    Exact,
    /// Only the keys the expected object names are compared.
    Subset,
}

/// The differences between `expected` and `actual`, under the path `root`.
/// Empty when they match.
pub fn differences(root: &str, expected: &Value, actual: &Value, mode: Match) -> Vec<String> {
    let mut found = Vec::new();
    compare(root, expected, actual, mode, &mut found);
    if found.len() > MAX_DIFFERENCES {
        let more = found.len() - MAX_DIFFERENCES;
        found.truncate(MAX_DIFFERENCES);
        found.push(format!("… and {more} more"));
    }
    found
}

fn compare(path: &str, expected: &Value, actual: &Value, mode: Match, found: &mut Vec<String>) {
    if expected.as_str() == Some(ANY) {
        return;
    }
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want_value) in want {
                let at = join(path, key);
                match got.get(key) {
                    Some(got_value) => compare(&at, want_value, got_value, mode, found),
                    None => found.push(format!("{at}: expected {}, missing", short(want_value))),
                }
            }
            if mode == Match::Exact {
                for (key, got_value) in got {
                    if !want.contains_key(key) && !is_empty(got_value) {
                        found.push(format!(
                            "{}: not in the fixture, got {}",
                            join(path, key),
                            short(got_value)
                        ));
                    }
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            for (n, (w, g)) in want.iter().zip(got).enumerate() {
                compare(&format!("{path}[{n}]"), w, g, mode, found);
            }
            if want.len() != got.len() {
                found.push(format!(
                    "{}: expected {} item(s), got {}",
                    if path.is_empty() { "(top)" } else { path },
                    want.len(),
                    got.len()
                ));
                for (n, extra) in got.iter().enumerate().skip(want.len()) {
                    found.push(format!("{path}[{n}]: unexpected {}", short(extra)));
                }
                for (n, missing) in want.iter().enumerate().skip(got.len()) {
                    found.push(format!("{path}[{n}]: expected {}, missing", short(missing)));
                }
            }
        }
        (want, got) if !same(want, got) => {
            found.push(format!(
                "{}: expected {}, got {}",
                if path.is_empty() { "(top)" } else { path },
                short(want),
                short(got)
            ));
        }
        _ => {}
    }
}

/// Equal, counting `1` and `1.0` as the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A value in one line, shortened to about 100 characters.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 100 {
        text
    } else {
        let cut: String = text.chars().take(97).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_values_have_no_differences() {
        let v = json!([{"type": "message", "event": {"text": "hi", "n": 1}}]);
        assert!(differences("events", &v, &v, Match::Exact).is_empty());
        assert!(differences("x", &json!(1.0), &json!(1), Match::Exact).is_empty());
    }

    #[test]
    fn differences_name_their_path() {
        let want = json!([{"event": {"text": "hi", "id": "m-1"}}]);
        let got = json!([{"event": {"text": "hello", "extra": 3, "none": null, "list": []}}]);
        assert_eq!(
            differences("events", &want, &got, Match::Exact),
            [
                "events[0].event.id: expected \"m-1\", missing",
                "events[0].event.text: expected \"hi\", got \"hello\"",
                "events[0].event.extra: not in the fixture, got 3",
            ]
        );
        assert_eq!(
            differences("events", &json!([1]), &json!([1, 2]), Match::Exact),
            ["events: expected 1 item(s), got 2", "events[1]: unexpected 2"]
        );
    }

    #[test]
    fn wildcards_and_subsets() {
        let want = json!({"id": "{{any}}", "code": "network"});
        let got = json!({"id": "m-1767", "code": "network", "message": "denied"});
        assert!(differences("error", &want, &got, Match::Subset).is_empty());
        assert_eq!(
            differences("error", &want, &got, Match::Exact),
            ["error.message: not in the fixture, got \"denied\""]
        );
    }
}
