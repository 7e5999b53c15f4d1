//! Kubernetes objects (JSON values) written as YAML with saphyr's emitter.
//!
//! Kubernetes reads YAML with go-yaml's YAML 1.1 rules (`sigs.k8s.io/yaml`), where `y`, `on`,
//! `2001-12-14` or `0b101` are not strings. saphyr's emitter quotes what YAML 1.2 would misread;
//! here every string that is not plainly safe under both versions is written quoted, so a value
//! from flash.yaml reaches the cluster as the same string. The emitter does the escaping; this
//! module only chooses, per scalar, plain or quoted.

use saphyr::{Mapping, Scalar, ScalarStyle, Yaml, YamlEmitter};
use serde_json::Value;
use std::borrow::Cow;

/// Characters that YAML 1.1 readers take as line breaks or a byte-order mark even inside quotes,
/// and that saphyr's emitter writes raw: no value carrying one can cross safely.
const UNCARRIABLE: &[char] = &['\u{85}', '\u{2028}', '\u{2029}', '\u{feff}'];

/// One YAML document (`---` first) for `value`, or the path of a string it cannot carry.
pub fn document(value: &Value) -> Result<String, String> {
    let yaml = to_yaml(value, "")?;
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter
        .dump(&yaml)
        .map_err(|e| format!("cannot write YAML: {e:?}"))?;
    out.push('\n');
    Ok(out)
}

fn to_yaml<'a>(value: &'a Value, path: &str) -> Result<Yaml<'a>, String> {
    Ok(match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => return Err(format!("{path}: {n} is not an integer")),
        },
        Value::String(s) => string(s, path)?,
        Value::Array(items) => Yaml::Sequence(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_yaml(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Mapping::new();
            for (key, item) in map {
                let here = format!("{path}.{key}");
                out.insert(string(key, &here)?, to_yaml(item, &here)?);
            }
            Yaml::Mapping(out)
        }
    })
}

fn string<'a>(s: &'a str, path: &str) -> Result<Yaml<'a>, String> {
    if let Some(c) = s.chars().find(|c| UNCARRIABLE.contains(c)) {
        return Err(format!(
            "{path}: the value holds U+{:04X}, which Kubernetes' YAML reader turns into a line break; it cannot be exported",
            c as u32
        ));
    }
    if plain_safe(s) {
        return Ok(Yaml::Value(Scalar::String(Cow::Borrowed(s))));
    }
    let needs_escapes = s.chars().any(|c| c == '"' || c == '\\' || c.is_control());
    Ok(if needs_escapes {
        // saphyr quotes (and escapes) every string holding one of these.
        Yaml::Value(Scalar::String(Cow::Borrowed(s)))
    } else {
        // Nothing to escape: the string between double quotes is the string.
        Yaml::Representation(Cow::Borrowed(s), ScalarStyle::DoubleQuoted, None)
    })
}

/// Written plain, a string is read back as the same string by YAML 1.1 and 1.2 readers: it
/// starts with a letter or `/`, holds only letters, digits and `.`, `_`, `/`, `-`, and is not
/// one of YAML 1.1's boolean or null words. (A YAML 1.1 number, date or time starts with a
/// digit, a sign or a dot.)
fn plain_safe(s: &str) -> bool {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '/')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(v: Value) -> String {
        document(&v).unwrap()
    }

    #[test]
    fn plain_where_safe_and_quoted_where_yaml_1_1_would_misread() {
        let out = yaml(json!({
            "apiVersion": "apps/v1",
            "a": "y", "b": "2001-12-14", "c": "0b101", "d": "1_000", "e": "ON",
            "f": "a: b", "g": "say \"hi\"\\", "h": "line\nbreak", "i": "", "j": "12",
            "k": ".inf", "l": "~", "m": "hello world", "n": 3, "o": true,
            "Y": "key"
        }));
        assert_eq!(
            out,
            "---\n\"Y\": key\na: \"y\"\napiVersion: apps/v1\nb: \"2001-12-14\"\nc: \"0b101\"\nd: \"1_000\"\ne: \"ON\"\nf: \"a: b\"\ng: \"say \\\"hi\\\"\\\\\"\nh: \"line\\nbreak\"\ni: \"\"\nj: \"12\"\nk: \".inf\"\nl: \"~\"\nm: \"hello world\"\n\"n\": 3\no: true\n"
        );
    }

    #[test]
    fn every_string_reads_back_the_same() {
        let strings = [
            "y",
            "No",
            "2001-12-14",
            "1:20",
            "0o17",
            "-",
            "- a",
            "#x",
            "a #b",
            "&a",
            "*a",
            "!t",
            "%p",
            "@x",
            "`x",
            "{a}",
            "[a]",
            "a,b",
            "?",
            "|",
            ">",
            "'q'",
            "\"q\"",
            "\\",
            "\t",
            "\u{7f}",
            "é",
            "東京",
            " lead",
            "trail ",
            "=",
            "<<",
            "null",
            ".5",
            "+1",
            "1e3",
        ];
        for s in strings {
            let out = yaml(json!({ "k": s }));
            let docs = <saphyr::Yaml as saphyr::LoadableYamlNode>::load_from_str(&out).unwrap();
            let back = docs[0]["k"].as_str();
            assert_eq!(back, Some(s), "{s:?} → {out}");
            // Plain only when safe under YAML 1.1 too.
            if !out.contains('"') {
                assert!(plain_safe(s), "{s:?} written plain: {out}");
            }
        }
    }

    proptest::proptest! {
        /// Any string, as a key and as a value, reads back as itself (saphyr's YAML 1.2 loader);
        /// written plain only when plainly safe under YAML 1.1 too.
        #[test]
        fn any_string_round_trips(s in "\\PC*|[ -~\\n\\t]{0,12}") {
            proptest::prop_assume!(!s.contains(UNCARRIABLE));
            let out = document(&json!({ s.clone(): s.clone() })).unwrap();
            let docs = <saphyr::Yaml as saphyr::LoadableYamlNode>::load_from_str(&out).unwrap();
            let map = docs[0].as_mapping().unwrap();
            let (k, v) = map.iter().next().unwrap();
            proptest::prop_assert_eq!(k.as_str(), Some(s.as_str()), "{}", out);
            proptest::prop_assert_eq!(v.as_str(), Some(s.as_str()), "{}", out);
            if !plain_safe(&s) {
                proptest::prop_assert!(out.contains('"'), "{}", out);
            }
        }
    }

    #[test]
    fn line_separators_are_refused_with_the_path() {
        let e = document(&json!({"data": {"X": "a\u{2028}b"}})).unwrap_err();
        assert!(e.contains(".data.X") && e.contains("U+2028"), "{e}");
    }
}
