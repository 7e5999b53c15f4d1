//! Pydantic's lax mode as a serde `Deserializer` over a JSON value, so a handler's typed
//! parameters bind what a FastAPI endpoint would accept, and refuse the rest with pydantic's
//! error codes, messages and locations.
//!
//! - integers: JSON integers, floats without a fractional part (`5.0`), `true`/`false`, and
//!   strings of those (`"5"`, `" 5 "`, `"5.0"`); anything else is `int_parsing`
//!   (strings), `int_from_float` (`5.5`) or `int_type`; a value outside the Rust type's range is
//!   `greater_than_equal` / `less_than_equal`;
//! - floats: numbers, booleans and numeric strings (`"1e3"`, `"inf"`); else `float_parsing` /
//!   `float_type`;
//! - booleans: `true`/`false`, `0`/`1`, and the strings `1 true yes on t y` / `0 false no off f n`
//!   in any case; else `bool_parsing` / `bool_type`;
//! - strings: strings only (`string_type`), as pydantic v2;
//! - lists, maps and structs: JSON arrays and objects, every element bound laxly, with the
//!   element's key or index in `loc`; a path or query string holding JSON (`?tags=["a"]`) is read
//!   as that JSON;
//! - unit enums: their variant names (`enum`, listing the expected values).

use std::fmt;

use serde::de::{
    self, value::StrDeserializer, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess,
    SeqAccess, Visitor,
};
use serde_json::{json, Value};

/// A binding problem below the argument's name (boxed: results stay small on the happy path).
#[derive(Debug, Clone, PartialEq)]
pub struct LaxError(pub Box<LaxProblem>);

#[derive(Debug, Clone, PartialEq)]
pub struct LaxProblem {
    /// Keys and indexes from the argument down to the bad value.
    pub path: Vec<Value>,
    pub kind: String,
    pub msg: String,
    pub input: Option<Value>,
    pub ctx: Option<Value>,
}

impl LaxError {
    fn new(kind: &str, msg: impl Into<String>) -> LaxError {
        LaxError(Box::new(LaxProblem {
            path: Vec::new(),
            kind: kind.to_string(),
            msg: msg.into(),
            input: None,
            ctx: None,
        }))
    }

    fn ctx(mut self, ctx: Value) -> LaxError {
        self.0.ctx = Some(ctx);
        self
    }

    /// Sets the value the problem is about, if no deeper level did.
    fn input(mut self, value: &Value) -> LaxError {
        if self.0.input.is_none() {
            self.0.input = Some(value.clone());
        }
        self
    }

    fn at(mut self, seg: Value) -> LaxError {
        self.0.path.insert(0, seg);
        self
    }
}

impl fmt::Display for LaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.msg)
    }
}

impl std::error::Error for LaxError {}

impl de::Error for LaxError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        LaxError::new("value_error", format!("Value error, {msg}"))
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let exp = exp.to_string();
        let (kind, msg) = type_error_for(&exp);
        let _ = unexp;
        LaxError::new(kind, msg)
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        LaxError::new(
            "value_error",
            format!("Value error, invalid value {unexp}, expected {exp}"),
        )
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        LaxError::new(
            "value_error",
            format!("Value error, invalid length {len}, expected {exp}"),
        )
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        let expected = one_of(expected);
        LaxError::new("enum", format!("Input should be {expected}"))
            .ctx(json!({ "expected": expected }))
    }

    fn missing_field(field: &'static str) -> Self {
        LaxError::new("missing", "Field required").at(Value::from(field))
    }
}

/// `'a', 'b' or 'c'`, as pydantic lists the values of an enum.
fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn type_error_for(expected: &str) -> (&'static str, &'static str) {
    let e = expected.to_ascii_lowercase();
    if e.contains("bool") {
        ("bool_type", "Input should be a valid boolean")
    } else if e.contains("integer") || e.starts_with('i') || e.starts_with('u') {
        ("int_type", "Input should be a valid integer")
    } else if e.contains("float") || e.starts_with('f') {
        ("float_type", "Input should be a valid number")
    } else if e.contains("string") || e.contains("char") {
        ("string_type", "Input should be a valid string")
    } else if e.contains("sequence") || e.contains("tuple") || e.contains("array") {
        ("list_type", "Input should be a valid list")
    } else if e.contains("map") {
        ("dict_type", "Input should be a valid dictionary")
    } else if e.contains("struct") {
        (
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )
    } else {
        ("value_error", "Input is not valid for this parameter")
    }
}

/// Deserializes one value laxly. `strings` marks a path or query value: a string there may hold
/// JSON for a list, map or struct.
#[derive(Clone, Copy)]
pub struct Lax<'a> {
    value: &'a Value,
    strings: bool,
}

impl<'a> Lax<'a> {
    pub fn new(value: &'a Value, strings: bool) -> Lax<'a> {
        Lax { value, strings }
    }

    /// A string holding JSON (`?tags=["a"]`), when `strings` allows it.
    fn embedded_json(&self) -> Option<Value> {
        match self.value {
            Value::String(s) if self.strings => serde_json::from_str(s).ok(),
            _ => None,
        }
    }

    fn int(&self) -> Result<i128, LaxError> {
        let parsing = || {
            LaxError::new(
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            )
        };
        match self.value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(i.into())
                } else if let Some(u) = n.as_u64() {
                    Ok(u.into())
                } else {
                    float_to_int(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::Bool(b) => Ok(i128::from(*b)),
            Value::String(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i128>() {
                    return Ok(i);
                }
                // `"5.0"`, `"5."`, `"5.000"`: a decimal with a zero fraction is an integer.
                match t.split_once('.') {
                    Some((whole, frac)) if !whole.is_empty() && frac.bytes().all(|b| b == b'0') => {
                        whole.parse::<i128>().map_err(|_| parsing())
                    }
                    _ => Err(parsing()),
                }
            }
            _ => Err(LaxError::new("int_type", "Input should be a valid integer")),
        }
        .map_err(|e| e.input(self.value))
    }

    fn ranged(&self, min: i128, max: i128) -> Result<i128, LaxError> {
        let i = self.int()?;
        if i < min {
            Err(LaxError::new(
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
            )
            .ctx(json!({ "ge": min as i64 }))
            .input(self.value))
        } else if i > max {
            let le = if max > i64::MAX as i128 {
                json!(max as u64)
            } else {
                json!(max as i64)
            };
            Err(LaxError::new(
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
            )
            .ctx(json!({ "le": le }))
            .input(self.value))
        } else {
            Ok(i)
        }
    }

    fn float(&self) -> Result<f64, LaxError> {
        match self.value {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| LaxError::new("float_type", "Input should be a valid number")),
            Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
                LaxError::new(
                    "float_parsing",
                    "Input should be a valid number, unable to parse string as a number",
                )
            }),
            _ => Err(LaxError::new(
                "float_type",
                "Input should be a valid number",
            )),
        }
        .map_err(|e| e.input(self.value))
    }

    fn bool(&self) -> Result<bool, LaxError> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Ok(false),
                Some(1) => Ok(true),
                _ => Err(LaxError::new(
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                )),
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" | "t" | "y" => Ok(true),
                "0" | "false" | "no" | "off" | "f" | "n" => Ok(false),
                _ => Err(LaxError::new(
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                )),
            },
            _ => Err(LaxError::new(
                "bool_type",
                "Input should be a valid boolean",
            )),
        }
        .map_err(|e| e.input(self.value))
    }

    fn string(&self) -> Result<&'a str, LaxError> {
        match self.value {
            Value::String(s) => Ok(s),
            other => {
                Err(LaxError::new("string_type", "Input should be a valid string").input(other))
            }
        }
    }
}

fn float_to_int(f: f64) -> Result<i128, LaxError> {
    if !f.is_finite() {
        Err(LaxError::new(
            "finite_number",
            "Input should be a finite number",
        ))
    } else if f.fract() != 0.0 {
        Err(LaxError::new(
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
        ))
    } else if f.abs() < 1.7e38 {
        Ok(f as i128)
    } else {
        Err(LaxError::new(
            "int_parsing",
            "Input should be a valid integer",
        ))
    }
}

macro_rules! lax_int {
    ($($method:ident $ty:ty => $visit:ident $as:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
            let i = self.ranged(<$ty>::MIN as i128, <$ty>::MAX as i128)?;
            visitor.$visit::<LaxError>(i as $as).map_err(|e| e.input(self.value))
        }
    )*};
}

impl<'de> Deserializer<'de> for Lax<'_> {
    type Error = LaxError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        match self.value {
            Value::Null => visitor.visit_unit::<LaxError>(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Seq::new(items)),
            Value::Object(map) => visitor.visit_map(Map::new(map)),
        }
        .map_err(|e| e.input(self.value))
    }

    lax_int! {
        deserialize_i8 i8 => visit_i64 i64,
        deserialize_i16 i16 => visit_i64 i64,
        deserialize_i32 i32 => visit_i64 i64,
        deserialize_i64 i64 => visit_i64 i64,
        deserialize_u8 u8 => visit_u64 u64,
        deserialize_u16 u16 => visit_u64 u64,
        deserialize_u32 u32 => visit_u64 u64,
        deserialize_u64 u64 => visit_u64 u64,
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        visitor.visit_i128(self.int()?)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        let i = self.ranged(0, i128::MAX)?;
        visitor.visit_u128(i as u128)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        visitor.visit_bool(self.bool()?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        visitor.visit_f32(self.float()? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        let s = self.string()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(
                LaxError::new("string_type", "Input should be a single character")
                    .input(self.value),
            ),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        visitor
            .visit_str::<LaxError>(self.string()?)
            .map_err(|e| e.input(self.value))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            other => Err(LaxError::new("none_required", "Input should be None").input(other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, LaxError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, LaxError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        match self.value {
            Value::Array(items) => visitor
                .visit_seq(Seq::new(items))
                .map_err(|e| e.input(self.value)),
            _ => match self.embedded_json() {
                Some(parsed @ Value::Array(_)) => Lax::new(&parsed, false).deserialize_seq(visitor),
                _ => {
                    Err(LaxError::new("list_type", "Input should be a valid list")
                        .input(self.value))
                }
            },
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, LaxError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, LaxError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        match self.value {
            Value::Object(map) => visitor
                .visit_map(Map::new(map))
                .map_err(|e| e.input(self.value)),
            _ => match self.embedded_json() {
                Some(parsed @ Value::Object(_)) => {
                    Lax::new(&parsed, false).deserialize_map(visitor)
                }
                _ => Err(
                    LaxError::new("dict_type", "Input should be a valid dictionary")
                        .input(self.value),
                ),
            },
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LaxError> {
        match self.value {
            // A missing field's `input` is the object it is missing from, as pydantic reports it.
            Value::Object(map) => visitor
                .visit_map(Map::new(map))
                .map_err(|e| e.input(self.value)),
            _ => match self.embedded_json() {
                Some(parsed @ Value::Object(_)) => {
                    Lax::new(&parsed, false).deserialize_struct(name, fields, visitor)
                }
                _ => Err(LaxError::new(
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                )
                .input(self.value)),
            },
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, LaxError> {
        match self.value {
            Value::String(s) => {
                let de: StrDeserializer<'_, LaxError> = s.as_str().into_deserializer();
                visitor.visit_enum(de).map_err(|e| e.input(self.value))
            }
            // `{"Variant": payload}`: serde_json's own reading, its error mapped.
            other => other
                .clone()
                .deserialize_enum(name, variants, visitor)
                .map_err(|e| {
                    LaxError::new("enum", format!("Input should be {}", one_of(variants)))
                        .ctx(json!({ "expected": one_of(variants), "error": e.to_string() }))
                        .input(other)
                }),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LaxError> {
        visitor.visit_unit()
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'a> Seq<'a> {
    fn new(items: &'a [Value]) -> Seq<'a> {
        Seq {
            items: items.iter(),
            index: 0,
        }
    }
}

impl<'de> SeqAccess<'de> for Seq<'_> {
    type Error = LaxError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, LaxError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Lax::new(item, false))
            .map(Some)
            .map_err(|e| e.input(item).at(Value::from(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    entries: serde_json::map::Iter<'a>,
    value: Option<(&'a String, &'a Value)>,
}

impl<'a> Map<'a> {
    fn new(map: &'a serde_json::Map<String, Value>) -> Map<'a> {
        Map {
            entries: map.iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Map<'_> {
    type Error = LaxError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, LaxError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        // Keys are strings; a map with integer keys reads them laxly (`"1"` → 1).
        let key_value = Value::String(key.clone());
        seed.deserialize(Lax::new(&key_value, true))
            .map(Some)
            .map_err(|e| e.at(Value::from(key.as_str())))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, LaxError> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| LaxError::new("value_error", "a map value without its key"))?;
        seed.deserialize(Lax::new(value, false))
            .map_err(|e| e.input(value).at(Value::from(key.as_str())))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
