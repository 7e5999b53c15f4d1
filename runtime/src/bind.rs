//! Binding a call's named arguments to a handler's typed parameters, Flash-style: every problem
//! is collected before failing, so a caller fixes all of them in one round trip.
//!
//! Generated code uses the [`bind!`](crate::bind!) macro:
//!
//! ```
//! use flash_runtime::{bind, handler::{Call, Source, HandlerError}};
//! # fn demo(mut call: Call) -> Result<(), HandlerError> {
//! let (user_id, verbose) = bind!(call, path user_id: i64, verbose: Option<bool>)?;
//! # let _ = (user_id, verbose); Ok(()) }
//! ```
//!
//! Types may also be left out (`bind!(call, path user_id, verbose)`): each variable's type is
//! then inferred from its use, typically the user's function it is passed to, which is how
//! generated code binds.
//!
//! A parameter marked `path` reports its problems under `loc: ["path", name]`; the others under
//! the call's source (`query`, `body`, `input`). A missing argument is fine only when its type is
//! an `Option<T>` (it binds `None`); any other type, `serde_json::Value` included, is a 422
//! `missing`, so a handler never runs with a `null` nobody sent.
//!
//! A parameter marked `whole` takes every argument of the call's source at once (the whole job
//! input, JSON body or query) as one value, typically an [`Input<T>`](crate::Input): bind it
//! after the path parameters, which are not part of it. Values are read as pydantic's lax mode reads them, so a FastAPI caller
//! gets what it expects (see [`lax`]): `"5"` and `"5.0"` bind to an integer, `"yes"`/`"on"`/`"1"`
//! to `true`, and every problem carries pydantic's `type`, `loc`, `msg` and `input`.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;

use crate::handler::{Call, HandlerError, Problem, Source};

use self::field::Field;

pub(crate) mod field;
pub mod lax;

/// Collects typed arguments and the problems met on the way.
pub struct Binder<'a> {
    call: &'a mut Call,
    problems: Vec<Problem>,
}

impl<'a> Binder<'a> {
    pub fn new(call: &'a mut Call) -> Binder<'a> {
        Binder {
            call,
            problems: Vec::new(),
        }
    }

    /// The argument `name` from the call's source; `None` means a problem was recorded.
    pub fn arg<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        // `bind!` passes the Rust name: `r#type` is the argument `type`.
        let name = crate::route_contract::argument_name(name);
        if let Some(v) = self.strict_from_body(name) {
            return Some(v);
        }
        let source = self.call.source;
        let value = self.call.args().remove(name);
        self.bind(name, source, value)
    }

    /// The path parameter `name` (problems are reported under `path`, a bad value is a 422).
    pub fn path<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let name = crate::route_contract::argument_name(name);
        // Path parameters are never in the body: no need to read it.
        let value = self.call.known_args().remove(name);
        self.bind(name, Source::Path, value)
    }

    /// `name` taken straight from an unread JSON body, strictly (a JSON value of the type
    /// itself): when that works the lax reading would give the same value, so the body is not
    /// read into a map. `None` leaves the lax path to decide, with its exact problems.
    fn strict_from_body<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        if self.call.known_args().contains_key(name) {
            return None; // a path parameter of the same name wins: the lax path knows
        }
        let (body, index) = self.call.unread_body()?;
        match index.field::<T>(body, name) {
            Field::Found(v) => Some(v),
            // Missing is fine for an `Option<T>`, as on the lax path.
            Field::Missing => from_missing::<T>(),
            Field::Unsure => None,
        }
    }

    /// Binds `value` (taken out of the arguments: each is bound once) laxly, recording problems.
    fn bind<T: DeserializeOwned>(
        &mut self,
        name: &str,
        source: Source,
        value: Option<Value>,
    ) -> Option<T> {
        let Some(value) = value else {
            return match from_missing::<T>() {
                Some(v) => Some(v),
                None => {
                    self.problems.push(Problem::new(
                        vec![source.as_str().into(), name.into()],
                        "Field required",
                        "missing",
                    ));
                    None
                }
            };
        };
        // Pydantic's lax mode; path and query strings may also hold JSON for compound types.
        let strings = matches!(source, Source::Path | Source::Query);
        self.lax(value, strings, vec![source.as_str().into(), name.into()])
    }

    /// `value` read laxly as a `T`; a problem is recorded under `loc` and the path inside it.
    fn lax<T: DeserializeOwned>(
        &mut self,
        value: Value,
        strings: bool,
        loc: Vec<Value>,
    ) -> Option<T> {
        match T::deserialize(lax::Lax::new(&value, strings)) {
            Ok(v) => Some(v),
            Err(e) => {
                let e = *e.0;
                let mut loc = loc;
                loc.extend(e.path);
                self.problems.push(Problem {
                    kind: e.kind,
                    loc,
                    msg: e.msg,
                    input: e.input.unwrap_or(value),
                    ctx: e.ctx,
                });
                None
            }
        }
    }

    /// Every argument of the call's source not bound yet, as one value: the whole job input,
    /// JSON body or query (path parameters bound before are not part of it). `name` is the
    /// parameter's, for nothing but symmetry with [`Binder::arg`]: problems are located
    /// under the source alone (`["body", "title"]`), as FastAPI locates a whole-body model's.
    pub fn whole<T: DeserializeOwned>(&mut self, _name: &str) -> Option<T> {
        let source = self.call.source;
        let value = Value::Object(std::mem::take(self.call.args()).into_map());
        self.lax(
            value,
            matches!(source, Source::Query),
            vec![source.as_str().into()],
        )
    }

    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Every problem recorded so far, as a 422.
    pub fn into_error(self) -> HandlerError {
        HandlerError::Invalid(self.problems)
    }

    /// `Ok` when every argument bound.
    pub fn finish(self) -> Result<(), HandlerError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }
}

/// What a missing argument binds to: `None` for an `Option<T>` (and `()` for a unit), nothing
/// for any other type. Deserializing from `null` instead would let `serde_json::Value` (and any
/// type that reads `null`) bind a value the caller never sent.
fn from_missing<T: DeserializeOwned>() -> Option<T> {
    T::deserialize(Missing).ok()
}

/// A deserializer with no value: only `Option` (as `None`) and `()` read it.
struct Missing;

impl<'de> Deserializer<'de> for Missing {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("missing"))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_none()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// Binds a call's arguments to variables, all problems at once; evaluates to
/// `Result<(T1, T2, ..), HandlerError>`. Mark path parameters with `path`, and a parameter that
/// takes the whole input or body with `whole` (after the path parameters).
///
/// A parameter's type may be written (`name: String`) or left out (`name`): then it is inferred
/// from how the variable is used, typically the user's function it is passed to, so generated
/// code never spells a type:
///
/// ```
/// use flash_runtime::{bind, handler::{Call, HandlerError}};
/// fn get_user(id: i64, verbose: Option<bool>) -> String { format!("{id} {verbose:?}") }
/// # fn demo(mut call: Call) -> Result<String, HandlerError> {
/// let (id, verbose) = bind!(call, path id, verbose)?;
/// Ok(get_user(id, verbose))
/// # }
/// ```
#[macro_export]
macro_rules! bind {
    ($call:expr $(,)?) => {{
        let _ = &$call;
        ::core::result::Result::<(), $crate::handler::HandlerError>::Ok(())
    }};
    ($call:expr, $($params:tt)+) => {
        $crate::bind!(@munch $call; []; $($params)+)
    };
    (@munch $call:expr; [$($acc:tt)*]; path $name:ident : $ty:ty $(, $($rest:tt)*)?) => {
        $crate::bind!(@munch $call; [$($acc)* (path $name $ty)]; $($($rest)*)?)
    };
    (@munch $call:expr; [$($acc:tt)*]; path $name:ident $(, $($rest:tt)*)?) => {
        $crate::bind!(@munch $call; [$($acc)* (path $name _)]; $($($rest)*)?)
    };
    (@munch $call:expr; [$($acc:tt)*]; whole $name:ident : $ty:ty $(, $($rest:tt)*)?) => {
        $crate::bind!(@munch $call; [$($acc)* (whole $name $ty)]; $($($rest)*)?)
    };
    (@munch $call:expr; [$($acc:tt)*]; whole $name:ident $(, $($rest:tt)*)?) => {
        $crate::bind!(@munch $call; [$($acc)* (whole $name _)]; $($($rest)*)?)
    };
    (@munch $call:expr; [$($acc:tt)*]; $name:ident : $ty:ty $(, $($rest:tt)*)?) => {
        $crate::bind!(@munch $call; [$($acc)* (arg $name $ty)]; $($($rest)*)?)
    };
    (@munch $call:expr; [$($acc:tt)*]; $name:ident $(, $($rest:tt)*)?) => {
        $crate::bind!(@munch $call; [$($acc)* (arg $name _)]; $($($rest)*)?)
    };
    (@munch $call:expr; [$(($kind:ident $name:ident $ty:ty))*]; ) => {{
        let mut binder = $crate::bind::Binder::new(&mut $call);
        $( let $name = binder.$kind::<$ty>(::core::stringify!($name)); )*
        match ($($name,)*) {
            ($(::core::option::Option::Some($name),)*) if binder.is_ok() => {
                ::core::result::Result::Ok(($($name,)*))
            }
            _ => ::core::result::Result::Err(binder.into_error()),
        }
    }};
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::handler::{Args, Progress};

    fn call(args: serde_json::Value, source: Source) -> Call {
        Call::new(
            args.as_object()
                .cloned()
                .map(Args::from)
                .unwrap_or_default(),
            source,
            "t".into(),
            Progress::default(),
        )
    }

    /// A JSON body bound straight from its bytes gives exactly what binding it after reading it
    /// into arguments gives: the same values, the same problems.
    #[test]
    fn a_body_bound_in_place_binds_as_a_parsed_one() {
        type Bound = Result<(i64, Option<String>, Vec<u8>), HandlerError>;
        /// Both bindings, and whether the in-place one left the body unread (took every
        /// parameter straight from its bytes).
        fn both(body: &str, path_a: Option<&str>) -> (Bound, Bound, bool) {
            let known = || {
                let mut args = Args::new();
                if let Some(a) = path_a {
                    args.insert("a".into(), Value::String(a.into()));
                }
                args
            };
            let index = field::BodyIndex::of(body.as_bytes()).unwrap();
            let mut in_place = Call::new(known(), Source::Body, "t".into(), Progress::default())
                .with_json_body(axum::body::Bytes::copy_from_slice(body.as_bytes()), index);
            let mut read = serde_json::from_str::<Args>(body).unwrap();
            for (k, v) in known() {
                read.insert(k, v);
            }
            let mut parsed = Call::new(read, Source::Body, "t".into(), Progress::default());
            let fast: Bound = crate::bind!(in_place, a, b, c);
            let slow: Bound = crate::bind!(parsed, a, b, c);
            (fast, slow, in_place.unread_body().is_some())
        }
        let bodies = [
            r#"{"a": 1, "b": "x", "c": [1, 2]}"#,
            r#"{"a": "5", "b": null, "c": []}"#,
            r#"{"a": 5.0, "c": [1]}"#,
            r#"{"a": 5.5, "c": [300]}"#,
            r#"{"a": 1, "a": 2, "b": "y", "c": []}"#,
            r#"{"b": 3}"#,
            r#"{"a": true, "c": "[1]", "zzz": {"deep": [1, {"a": 9}]}}"#,
            r#"{"\u0061": 7, "c": [0]}"#,
            r#"{"a": 99999999999999999999, "c": [1]}"#,
            r#"{"a": 1, "b": "\ud83d\ude00\u00e9\n\"", "c": [1]}"#,
            r#"{"\u0062": "\u0041", "a": 2, "c": []}"#,
            r#"{}"#,
        ];
        for body in bodies {
            for path_a in [None, Some("42")] {
                let (fast, slow, _) = both(body, path_a);
                assert_eq!(fast, slow, "{body} with path a = {path_a:?}");
            }
        }
        // The comparison means something only if the plain case does bind in place.
        let (_, _, unread) = both(bodies[0], None);
        assert!(unread, "a plain body was read into arguments");
        let (_, _, unread) = both(bodies[1], None);
        assert!(!unread, "a lax value was bound without reading the body");
    }

    #[test]
    fn binds_typed_values_and_optional_missing_ones() {
        let mut c = call(json!({"a": 1, "b": "x"}), Source::Body);
        let (a, b, c2) = crate::bind!(c, a: i64, b: String, c: Option<u8>).unwrap();
        assert_eq!((a, b.as_str(), c2), (1, "x", None));
    }

    #[test]
    fn strings_from_path_and_query_parse_as_json() {
        let mut c = call(json!({"id": "42", "on": "true", "s": "007"}), Source::Query);
        let (id, on, s) = crate::bind!(c, path id: u32, on: bool, s: String).unwrap();
        assert_eq!((id, on, s.as_str()), (42, true, "007"));
    }

    #[test]
    fn every_problem_at_once_with_its_location() {
        let mut c = call(json!({"id": "x", "n": "5"}), Source::Body);
        let err = crate::bind!(c, path id: u32, n: u32, m: String).unwrap_err();
        let HandlerError::Invalid(problems) = err else {
            panic!("not a 422: {err:?}");
        };
        let locs: Vec<String> = problems.iter().map(Problem::loc_text).collect();
        // Pydantic's lax mode: "5" in a JSON body binds to an integer; "x" in the path does not.
        assert_eq!(locs, ["path.id", "body.m"]);
        assert_eq!(problems[0].kind, "int_parsing");
        assert_eq!(problems[0].input, json!("x"));
        assert_eq!(problems[1].kind, "missing");
        assert_eq!(problems[1].msg, "Field required");
        assert_eq!(problems[1].input, Value::Null);
    }

    /// Issue 19, item 18: a `Value` parameter the caller did not send is a 422, not `null`;
    /// only an `Option` binds a missing argument.
    #[test]
    fn a_missing_argument_binds_only_an_option() {
        let mut c = call(json!({"other": 1}), Source::Input);
        let err = crate::bind!(c, data: Value).unwrap_err();
        let HandlerError::Invalid(problems) = err else {
            panic!("not a 422: {err:?}");
        };
        assert_eq!(problems[0].loc_text(), "input.data");
        assert_eq!(problems[0].kind, "missing");
        let mut c = call(json!({"other": 1}), Source::Input);
        let (data, unit) = crate::bind!(c, data: Option<Value>, unit: ()).unwrap();
        assert_eq!((data, unit), (None, ()));
        // A null that was sent is a value: `Value::Null`, and `None` for an `Option`.
        let mut c = call(json!({"data": null, "opt": null}), Source::Body);
        let (data, opt) = crate::bind!(c, data: Value, opt: Option<u8>).unwrap();
        assert_eq!((data, opt), (Value::Null, None));
        // The same through a body bound straight from its bytes.
        let body = r#"{"other": 1}"#;
        let index = field::BodyIndex::of(body.as_bytes()).unwrap();
        let mut c = Call::new(Args::new(), Source::Body, "t".into(), Progress::default())
            .with_json_body(axum::body::Bytes::from_static(body.as_bytes()), index);
        let err = crate::bind!(c, data: Value).unwrap_err();
        assert!(matches!(err, HandlerError::Invalid(_)), "{err:?}");
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Order {
        item: String,
        quantity: u32,
    }

    #[test]
    fn whole_takes_the_input_as_one_value() {
        let mut c = call(json!({"your": "data", "n": [1, 2]}), Source::Input);
        let (input,) = crate::bind!(c, whole input: crate::Input<Value>).unwrap();
        assert_eq!(input.0, json!({"your": "data", "n": [1, 2]}));
        // Path parameters bound before are not part of it; the body's fields are read laxly.
        let mut c = call(
            json!({"id": "7", "item": "tea", "quantity": "3"}),
            Source::Body,
        );
        let (id, order) = crate::bind!(c, path id: u64, whole order: crate::Input<Order>).unwrap();
        assert_eq!(id, 7);
        assert_eq!(
            order.into_inner(),
            Order {
                item: "tea".into(),
                quantity: 3
            }
        );
        // Problems are located under the source alone, as FastAPI's whole-body model's are.
        let mut c = call(json!({"item": "tea", "quantity": "many"}), Source::Body);
        let err = crate::bind!(c, whole order: crate::Input<Order>).unwrap_err();
        let HandlerError::Invalid(problems) = err else {
            panic!("not a 422: {err:?}");
        };
        let locs: Vec<String> = problems.iter().map(Problem::loc_text).collect();
        assert_eq!(locs, ["body.quantity"]);
        let mut c = call(json!({"item": "tea"}), Source::Body);
        let err = crate::bind!(c, whole order: crate::Input<Order>).unwrap_err();
        let HandlerError::Invalid(problems) = err else {
            panic!("not a 422: {err:?}");
        };
        assert_eq!(problems[0].kind, "missing");
        assert_eq!(problems[0].loc_text(), "body.quantity");
    }

    fn get_user(id: u32, verbose: Option<bool>, tags: Vec<String>) -> String {
        format!("{id} {verbose:?} {tags:?}")
    }

    #[test]
    fn untyped_parameters_take_their_types_from_use() {
        let mut c = call(
            json!({"id": "42", "verbose": "true", "tags": "[\"a\"]"}),
            Source::Query,
        );
        // No types: `id: u32`, `verbose: Option<bool>`, `tags: Vec<String>` come from `get_user`.
        let (id, verbose, tags) = crate::bind!(c, path id, verbose, tags).unwrap();
        assert_eq!(get_user(id, verbose, tags), "42 Some(true) [\"a\"]");
    }

    #[test]
    fn untyped_parameters_report_problems_like_typed_ones() {
        let mut c = call(json!({"id": "x"}), Source::Body);
        let err = crate::bind!(c, path id, verbose, tags)
            .map(|(id, verbose, tags)| get_user(id, verbose, tags))
            .unwrap_err();
        let HandlerError::Invalid(problems) = err else {
            panic!("not a 422: {err:?}");
        };
        let locs: Vec<String> = problems.iter().map(Problem::loc_text).collect();
        // `verbose` is an Option: missing is fine; `tags` is required.
        assert_eq!(locs, ["path.id", "body.tags"]);
    }

    #[test]
    fn typed_and_untyped_mix_and_a_parameter_may_be_called_path() {
        let mut c = call(json!({"path": "/a", "n": 2, "id": "7"}), Source::Body);
        let (path, n, id) = crate::bind!(c, path: String, n, path id: u64,).unwrap();
        fn sum(a: u64, b: u64) -> u64 {
            a + b
        }
        let path: String = path;
        assert_eq!((path.as_str(), sum(n, id)), ("/a", 9));
        let mut c = call(json!({"path": "/b"}), Source::Body);
        let (path,) = crate::bind!(c, path).unwrap();
        let path: String = path;
        assert_eq!(path, "/b");
    }

    /// Pydantic's lax mode, value by value: what binds, and the problem of what does not.
    #[test]
    fn pydantic_lax_mode() {
        #[allow(clippy::result_large_err)]
        fn bind_one<T: DeserializeOwned>(v: Value, source: Source) -> Result<T, Problem> {
            let mut c = call(json!({ "v": v }), source);
            match crate::bind!(c, v: T) {
                Ok((v,)) => Ok(v),
                Err(HandlerError::Invalid(mut p)) => Err(p.remove(0)),
                Err(other) => panic!("{other:?}"),
            }
        }
        let q = Source::Query;
        let b = Source::Body;
        assert_eq!(bind_one::<i64>(json!("5"), q), Ok(5));
        assert_eq!(bind_one::<i64>(json!(" 5 "), q), Ok(5));
        assert_eq!(bind_one::<i64>(json!("5.0"), q), Ok(5));
        assert_eq!(bind_one::<i64>(json!("-7"), q), Ok(-7));
        assert_eq!(bind_one::<i64>(json!("1"), b), Ok(1));
        assert_eq!(bind_one::<i64>(json!(5.0), b), Ok(5));
        assert_eq!(bind_one::<i64>(json!(true), b), Ok(1));
        assert_eq!(bind_one::<f64>(json!("2.5"), q), Ok(2.5));
        assert_eq!(bind_one::<f64>(json!(3), b), Ok(3.0));
        for t in ["1", "true", "True", "yes", "on", "t", "y", "ON"] {
            assert_eq!(bind_one::<bool>(json!(t), q), Ok(true), "{t}");
        }
        for f in ["0", "false", "no", "off", "f", "n", "FALSE"] {
            assert_eq!(bind_one::<bool>(json!(f), q), Ok(false), "{f}");
        }
        assert_eq!(bind_one::<bool>(json!(1), b), Ok(true));
        assert_eq!(bind_one::<Option<u8>>(json!("7"), q), Ok(Some(7)));
        assert_eq!(
            bind_one::<Vec<u32>>(json!(["1", 2, 3.0]), b),
            Ok(vec![1, 2, 3])
        );
        assert_eq!(
            bind_one::<Vec<String>>(json!("[\"a\"]"), q),
            Ok(vec!["a".to_string()])
        );

        let p = bind_one::<i64>(json!("5.5"), q).unwrap_err();
        assert_eq!(
            (p.kind.as_str(), p.msg.as_str(), &p.input),
            (
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                &json!("5.5")
            )
        );
        let p = bind_one::<i64>(json!(5.5), b).unwrap_err();
        assert_eq!(p.kind, "int_from_float");
        let p = bind_one::<i64>(json!([1]), b).unwrap_err();
        assert_eq!(p.kind, "int_type");
        let p = bind_one::<bool>(json!("maybe"), q).unwrap_err();
        assert_eq!(
            (p.kind.as_str(), p.msg.as_str()),
            (
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input"
            )
        );
        let p = bind_one::<f64>(json!("x"), q).unwrap_err();
        assert_eq!(p.kind, "float_parsing");
        let p = bind_one::<String>(json!(5), b).unwrap_err();
        assert_eq!(
            (p.kind.as_str(), p.msg.as_str()),
            ("string_type", "Input should be a valid string")
        );
        let p = bind_one::<u8>(json!("300"), q).unwrap_err();
        assert_eq!(
            (p.kind.as_str(), p.msg.as_str(), &p.ctx),
            (
                "less_than_equal",
                "Input should be less than or equal to 255",
                &Some(json!({"le": 255}))
            )
        );
        let p = bind_one::<u32>(json!(-1), b).unwrap_err();
        assert_eq!(p.kind, "greater_than_equal");

        // Nested values: the key and index path in `loc`, the bad value as `input`.
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Item {
            qty: u32,
            name: String,
        }
        assert_eq!(
            bind_one::<Vec<Item>>(json!([{"qty": "2", "name": "a"}]), b),
            Ok(vec![Item {
                qty: 2,
                name: "a".into()
            }])
        );
        let p = bind_one::<Vec<Item>>(
            json!([{"qty": 1, "name": "a"}, {"qty": "x", "name": "b"}]),
            b,
        )
        .unwrap_err();
        assert_eq!(
            p.loc,
            vec![json!("body"), json!("v"), json!(1), json!("qty")]
        );
        assert_eq!((p.kind.as_str(), &p.input), ("int_parsing", &json!("x")));
        let p = bind_one::<Item>(json!({"qty": 1}), b).unwrap_err();
        assert_eq!(p.loc, vec![json!("body"), json!("v"), json!("name")]);
        assert_eq!((p.kind.as_str(), &p.input), ("missing", &json!({"qty": 1})));
        let p = bind_one::<Item>(json!("nope"), b).unwrap_err();
        assert_eq!(p.kind, "model_attributes_type");

        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Color {
            Red,
            Green,
            Blue,
        }
        assert_eq!(bind_one::<Color>(json!("green"), q), Ok(Color::Green));
        let p = bind_one::<Color>(json!("pink"), q).unwrap_err();
        assert_eq!(
            (p.kind.as_str(), p.msg.as_str(), &p.input),
            (
                "enum",
                "Input should be 'red', 'green' or 'blue'",
                &json!("pink")
            )
        );
        let _ = (Color::Red, Color::Blue);
        // The 422 entry as FastAPI writes it.
        let p = bind_one::<i64>(json!("abc"), Source::Path).unwrap_err();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"type":"int_parsing","loc":["path","v"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}"#
        );
    }

    #[test]
    fn no_parameters_bind_to_unit() {
        let c = call(json!({"extra": 1}), Source::Body);
        crate::bind!(c).unwrap();
    }
}
