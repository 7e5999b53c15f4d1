//! The fields of a JSON object body, found in one pass and read straight from its bytes.
//!
//! A small body is checked once when the request arrives ([`BodyIndex::of`]): one pass that
//! validates it as an object and notes where each top-level key's value lies, allocating
//! nothing but that list. `bind!` then deserializes each parameter from its value's bytes,
//! strictly (a JSON value of the type itself). Anything unusual (a field given twice, a value
//! that needs pydantic's lax reading) answers [`Field::Unsure`], and the caller reads the body
//! into arguments and binds laxly, which reports problems exactly.

use std::{fmt, ops::Range};

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Bodies up to this size are indexed; larger ones are read into arguments at once (their
/// index would be large too, and one parse does both jobs).
pub const INDEXED_BODY: usize = 16 * 1024;

/// Where each top-level field of a JSON object body lies, in order.
#[derive(Debug, Clone, Default)]
pub struct BodyIndex(Vec<(Key, Range<usize>)>);

#[derive(Debug, Clone)]
enum Key {
    /// The key's text is these bytes of the body (it has no escapes).
    At(Range<usize>),
    /// An escaped key, unescaped.
    Owned(String),
}

pub enum Field<T> {
    /// The field, once, with a value of the type itself.
    Found(T),
    /// No such key in the object.
    Missing,
    /// Given twice, or not of the type as is: the lax path decides.
    Unsure,
}

impl BodyIndex {
    /// The index of `body` if it is one JSON object (and nothing else).
    pub fn of(body: &[u8]) -> Option<BodyIndex> {
        // Raw values are skipped without serde_json's nesting limit, which reading the body into
        // arguments applies: a body it refuses is not indexed either (it gets that 422).
        if !nesting_within(body, MAX_NESTING) {
            return None;
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let index = serde::Deserializer::deserialize_map(&mut de, Indexer { body }).ok()?;
        de.end().ok()?;
        Some(index)
    }

    /// The field `name` of `body` (the bytes this index was made of).
    pub fn field<T: DeserializeOwned>(&self, body: &[u8], name: &str) -> Field<T> {
        let mut found = None;
        for (key, value) in &self.0 {
            let matches = match key {
                Key::At(r) => &body[r.clone()] == name.as_bytes(),
                Key::Owned(k) => k == name,
            };
            if matches {
                if found.is_some() {
                    return Field::Unsure;
                }
                found = Some(value.clone());
            }
        }
        match found {
            None => Field::Missing,
            Some(r) => match serde_json::from_slice::<T>(&body[r]) {
                Ok(v) => Field::Found(v),
                Err(_) => Field::Unsure,
            },
        }
    }
}

/// The deepest nesting (the body's own object counted) serde_json reads; a test pins it.
const MAX_NESTING: usize = 127;

/// Whether no array or object in `json` (outside strings) nests deeper than `limit`, and every
/// `\u` escape in its strings is one serde_json reads as a string: serde_json skips raw values
/// without pairing surrogates (`"\ud800"` passes), while reading the body into arguments
/// refuses a lone one, so the index must refuse it too.
fn nesting_within(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => match skip_string(json, i + 1) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => return false,
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

/// Where the string whose contents start at `i` ends (past its closing quote); `None` when it
/// is unterminated or holds a `\u` escape serde_json refuses in a string (bad hex, a lone or
/// reversed surrogate).
fn skip_string(json: &[u8], mut i: usize) -> Option<usize> {
    let unit = |at: usize| -> Option<u16> {
        let hex = std::str::from_utf8(json.get(at..at + 4)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    };
    while i < json.len() {
        match json[i] {
            b'"' => return Some(i + 1),
            b'\\' if json.get(i + 1) == Some(&b'u') => {
                let first = unit(i + 2)?;
                i += 6;
                match first {
                    0xD800..=0xDBFF => {
                        if json.get(i..i + 2) != Some(b"\\u") {
                            return None;
                        }
                        if !(0xDC00..=0xDFFF).contains(&unit(i + 2)?) {
                            return None;
                        }
                        i += 6;
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => {}
                }
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Builds the index while serde_json validates the object.
struct Indexer<'b> {
    body: &'b [u8],
}

impl<'b> Indexer<'b> {
    /// Where `part`, a slice of the body, lies in it.
    fn range(&self, part: &[u8]) -> Range<usize> {
        let start = part.as_ptr() as usize - self.body.as_ptr() as usize;
        start..start + part.len()
    }
}

impl<'de> Visitor<'de> for Indexer<'de> {
    type Value = BodyIndex;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BodyIndex, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let key = match key {
                KeyText::Borrowed(text) => Key::At(self.range(text.as_bytes())),
                KeyText::Owned(text) => Key::Owned(text),
            };
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, self.range(value.get().as_bytes())));
        }
        Ok(BodyIndex(fields))
    }
}

enum KeyText<'de> {
    Borrowed(&'de str),
    Owned(String),
}

/// A key, borrowed from the body when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = KeyText<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<KeyText<'de>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = KeyText<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<KeyText<'de>, E> {
        Ok(KeyText::Borrowed(key))
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<KeyText<'de>, E> {
        Ok(KeyText::Owned(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: DeserializeOwned>(body: &str, name: &str) -> Field<T> {
        match BodyIndex::of(body.as_bytes()) {
            Some(index) => index.field(body.as_bytes(), name),
            None => Field::Unsure,
        }
    }

    #[test]
    fn finds_skips_and_declines() {
        assert!(matches!(
            read::<i64>(r#"{"a":1,"b":[2,{"a":3}]}"#, "a"),
            Field::Found(1)
        ));
        assert!(matches!(
            read::<Vec<Option<i64>>>(r#"{"b":[2,null]}"#, "b"),
            Field::Found(v) if v == [Some(2), None]
        ));
        assert!(
            matches!(read::<String>(r#"{"k\u0061y":"v"}"#, "kay"), Field::Found(v) if v == "v")
        );
        assert!(matches!(
            read::<i64>(r#" { "b" : 2 } "#, "a"),
            Field::Missing
        ));
        // Lax cases and duplicates are the lax path's.
        assert!(matches!(read::<i64>(r#"{"a":"5"}"#, "a"), Field::Unsure));
        assert!(matches!(read::<i64>(r#"{"a":5.0}"#, "a"), Field::Unsure));
        assert!(matches!(
            read::<i64>(r#"{"a":1,"a":2}"#, "a"),
            Field::Unsure
        ));
    }

    #[test]
    fn bodies_too_deep_for_serde_json_are_not_indexed() {
        let nested =
            |depth: usize| format!("{{\"a\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
        // Exactly where reading the body into arguments starts to fail.
        let deepest = (1..300)
            .take_while(|d| serde_json::from_str::<serde_json::Value>(&nested(*d)).is_ok())
            .last()
            .unwrap();
        assert!(BodyIndex::of(nested(deepest).as_bytes()).is_some());
        assert!(BodyIndex::of(nested(deepest + 1).as_bytes()).is_none());
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\": \"{}\\\"\"}}", "[".repeat(500));
        assert!(BodyIndex::of(quoted.as_bytes()).is_some(), "{quoted}");
    }

    /// Issue 19 item 10: the index is taken only for a body that reading it into arguments
    /// (`body_args`, what bodies over the index's size get) accepts, so both paths agree on
    /// every input: hand-written malformed JSON (lone and reversed surrogates, bad escapes,
    /// control characters, bad numbers) and a few thousand byte mutations of valid bodies.
    #[test]
    fn the_index_accepts_only_what_reading_the_body_accepts() {
        let agree = |body: &[u8]| {
            let indexed = BodyIndex::of(body).is_some();
            // What `body_args` reads an object body with.
            let read = serde_json::from_slice::<crate::handler::Args>(body).is_ok();
            assert!(
                !indexed || read,
                "indexed but refused when read: {:?}",
                String::from_utf8_lossy(body)
            );
        };
        let malformed = [
            r#"{"value":"\ud800"}"#,
            r#"{"value":"\udc00"}"#,
            r#"{"value":"\udc00\ud800"}"#,
            r#"{"value":"\ud800\u0041"}"#,
            r#"{"value":"\ud800x"}"#,
            r#"{"value":"\ud800\"}"#,
            r#"{"v":["\uDBFF"]}"#,
            r#"{"v":{"k":"\uD83D"}}"#,
            r#"{"\ud800":1}"#,
            r#"{"value":"\x41"}"#,
            r#"{"value":"\u12"}"#,
            r#"{"value":"\uZZZZ"}"#,
            "{\"value\":\"a\u{1}b\"}",
            "{\"value\":\"tab\there\"}",
            r#"{"value":01}"#,
            r#"{"value":1.}"#,
            r#"{"value":-}"#,
            r#"{"value":NaN}"#,
            r#"{"value":[1,]}"#,
            r#"{"value":1,}"#,
            r#"{"value":"unterminated}"#,
        ];
        for body in malformed {
            agree(body.as_bytes());
        }
        // Valid escapes still take the index.
        for body in [
            r#"{"value":"\ud83d\ude00"}"#,
            r#"{"value":"\u00e9\n\"\\\/"}"#,
            r#"{"\ud83d\ude00":"\uDBFF\uDFFF"}"#,
        ] {
            assert!(BodyIndex::of(body.as_bytes()).is_some(), "{body}");
            agree(body.as_bytes());
        }
        let seeds = [
            r#"{"a": 1, "b": "x\u00e9", "c": [1, 2.5e3, null, true], "d": {"e": "\ud83d\ude00"}}"#,
            r#"{"value": "\u0041\\n", "n": -0.5}"#,
        ];
        let alphabet = b"\\u\\ud800dcDC0\"{}[],:-.eE+ 1a\x01\x7f\xc3\xa9";
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..4000 {
            let mut body = seeds[(next() % 2) as usize].as_bytes().to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % (body.len() + 1);
                let byte = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 if at < body.len() => body[at] = byte,
                    1 if at < body.len() => {
                        body.remove(at);
                    }
                    _ => body.insert(at, byte),
                }
            }
            agree(&body);
        }
    }

    #[test]
    fn only_one_object_is_indexed() {
        for body in ["[1]", r#"{"a":1} x"#, r#"{"a":1"#, "1", "", r#"{"a":}"#] {
            assert!(BodyIndex::of(body.as_bytes()).is_none(), "{body}");
        }
        assert!(BodyIndex::of(b"{}").is_some());
    }
}
