//! [`Args`]: the named arguments of one call.
//!
//! A call carries a handful of arguments and binding takes each one once, so they live in a
//! small vector searched by name rather than in a map: for a two-field JSON POST the B-tree's
//! insert, remove and drop cost ~1,300 instructions (a twentieth of the whole request, measured
//! with callgrind), the vector's a few hundred. Building from many pairs (a hostile body or
//! query with thousands of keys) stays linear: duplicates are removed with a hash set, never by
//! searching pair by pair.

use std::{collections::HashMap, fmt, ops::Index};

use serde::{
    de::{MapAccess, Visitor},
    ser::SerializeMap,
    Deserialize, Deserializer, Serialize, Serializer,
};
use serde_json::{Map, Value};

/// The named arguments of one call: path parameters, query parameters, the fields of a JSON
/// body, or the fields of a queue job's `input`, by name, each name once (a later value for a
/// name replaces the earlier one, as in a JSON object read by Python). Serializes as a JSON
/// object, in arrival order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args(Vec<(String, Value)>);

/// Up to this many pairs, duplicates are found by comparing names directly.
const SMALL: usize = 16;

impl Args {
    pub fn new() -> Args {
        Args(Vec::new())
    }

    /// The arguments from `pairs` in order; of several pairs with one name the last wins (at the
    /// position of the first).
    pub fn from_pairs(mut pairs: Vec<(String, Value)>) -> Args {
        if pairs.len() <= SMALL {
            let distinct = pairs
                .iter()
                .enumerate()
                .all(|(i, (k, _))| pairs[..i].iter().all(|(seen, _)| seen != k));
            if distinct {
                return Args(pairs);
            }
            let mut args = Args(Vec::with_capacity(pairs.len()));
            for (k, v) in pairs {
                args.insert(k, v);
            }
            return args;
        }
        // Each name's last value, moved to the name's first position.
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(pairs.len());
        let mut moves: Vec<(usize, usize)> = Vec::new();
        for (i, (k, _)) in pairs.iter().enumerate() {
            match first.get(k.as_str()) {
                Some(&at) => moves.push((at, i)),
                None => {
                    first.insert(k.as_str(), i);
                }
            }
        }
        drop(first);
        if moves.is_empty() {
            return Args(pairs);
        }
        let mut dropped = vec![false; pairs.len()];
        for (at, later) in moves {
            let value = std::mem::take(&mut pairs[later].1);
            pairs[at].1 = value;
            dropped[later] = true;
        }
        let mut index = 0;
        pairs.retain(|_| {
            let keep = !dropped[index];
            index += 1;
            keep
        });
        Args(pairs)
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => Some(std::mem::replace(old, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Takes `key`'s value out.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(name, value)` in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The arguments as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0.into_iter().collect()
    }
}

impl Index<&str> for Args {
    type Output = Value;

    /// The value of `key`, or `null` when there is none (as indexing a `serde_json::Value`).
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl From<Map<String, Value>> for Args {
    fn from(map: Map<String, Value>) -> Args {
        // A map's names are distinct already.
        Args(map.into_iter().collect())
    }
}

impl FromIterator<(String, Value)> for Args {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Args {
        Args::from_pairs(iter.into_iter().collect())
    }
}

impl IntoIterator for Args {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Args {
    /// A JSON object's fields, straight into the vector.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Args, D::Error> {
        struct ArgsVisitor;

        impl<'de> Visitor<'de> for ArgsVisitor {
            type Value = Args;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Args, A::Error> {
                let mut pairs = Vec::with_capacity(access.size_hint().unwrap_or(0).min(SMALL));
                while let Some(pair) = access.next_entry::<String, Value>()? {
                    pairs.push(pair);
                }
                Ok(Args::from_pairs(pairs))
            }
        }

        deserializer.deserialize_map(ArgsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pairs(n: usize, names: usize) -> Vec<(String, Value)> {
        (0..n)
            .map(|i| (format!("k{}", i % names), Value::from(i)))
            .collect()
    }

    #[test]
    fn the_last_value_of_a_name_wins_at_its_first_position() {
        let small: Args = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(serde_json::to_string(&small).unwrap(), r#"{"a":3,"b":2}"#);
        // The same above the small size, through the hash path.
        let large = Args::from_pairs(pairs(100, 40));
        assert_eq!(large.len(), 40);
        assert_eq!(large["k0"], json!(80));
        assert_eq!(large["k39"], json!(79));
        assert_eq!(large.iter().next().unwrap().0, "k0");
        let distinct = Args::from_pairs(pairs(100, 100));
        assert_eq!(distinct.len(), 100);
    }

    #[test]
    fn insert_replaces_and_remove_takes() {
        let mut args = Args::new();
        assert_eq!(args.insert("a".into(), json!(1)), None);
        assert_eq!(args.insert("a".into(), json!(2)), Some(json!(1)));
        assert_eq!(args["a"], json!(2));
        assert_eq!(args["nope"], Value::Null);
        assert_eq!(args.remove("a"), Some(json!(2)));
        assert!(args.is_empty());
    }

    #[test]
    fn a_map_and_back() {
        let map = json!({"x": [1], "y": {"z": null}})
            .as_object()
            .cloned()
            .unwrap();
        let args = Args::from(map.clone());
        assert_eq!(args.clone().into_map(), map);
        let text = serde_json::to_string(&args).unwrap();
        assert_eq!(serde_json::from_str::<Args>(&text).unwrap(), args);
    }
}
