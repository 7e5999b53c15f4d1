//! Typed views of the tree: `serde` deserialisation straight from a [`Node`], so rules and
//! lowering get `model` types without a detour through `serde_json::Value`.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{IntoDeserializer, Visitor};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};

use super::tree::{Node, Value};

/// Deserialises `T` from `node`.
pub fn from_node<'de, T: Deserialize<'de>>(node: &'de Node) -> Result<T, Error> {
    T::deserialize(NodeDeserializer(node))
}

#[derive(Clone, Copy)]
pub struct NodeDeserializer<'de>(&'de Node);

impl<'de> IntoDeserializer<'de, Error> for NodeDeserializer<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for NodeDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            // The schema (like JSON Schema everywhere) counts `60.0` as an integer, so typed
            // integer fields must accept it too, or the endpoint would silently lose its rules.
            Value::Float(f)
                if f.fract() == 0.0 && f.abs() <= super::LARGEST_EXACT_INTEGER as f64 =>
            {
                visitor.visit_i64(*f as i64)
            }
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => {
                visitor.visit_seq(SeqDeserializer::new(items.iter().map(NodeDeserializer)))
            }
            Value::Map(entries) => visitor.visit_map(MapDeserializer::new(
                entries
                    .iter()
                    .map(|e| (e.key.as_str(), NodeDeserializer(&e.value))),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Unit variants are written as plain strings (`type: queue`).
        match &self.0.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use crate::load::{load, Limits};
    use crate::model::{Endpoint, Workers};

    #[test]
    fn reads_model_types_with_untagged_enums_and_shared_settings() {
        let (root, _) = load(
            b"type: queue\nhandler: a::b\nworkers: [1, 4]\ngpu: [ADA_24]\nmin_cuda_version: 12.8\n",
            Limits::default(),
        );
        let endpoint = Endpoint::from_node(root.as_ref().expect("tree")).expect("valid endpoint");
        assert_eq!(endpoint.handler.as_deref(), Some("a::b"));
        assert_eq!(endpoint.settings.workers, Some(Workers::Range([1, 4])));
        assert_eq!(
            endpoint.settings.min_cuda_version.map(|v| v.0),
            Some("12.8".to_string())
        );
    }
}
