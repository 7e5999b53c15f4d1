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
//! the call's source (`query`, `body`, `input`). A missing argument is fine when its type accepts
//! null (`Option<T>`); values from a path or query string are also read as JSON when the
//! string alone does not fit (`"42"` binds to an `i64`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::handler::{Args, Call, HandlerError, Problem, Source};

/// Collects typed arguments and the problems met on the way.
pub struct Binder<'a> {
    args: &'a mut Args,
    source: Source,
    problems: Vec<Problem>,
}

impl<'a> Binder<'a> {
    pub fn new(call: &'a mut Call) -> Binder<'a> {
        Binder::from_args(&mut call.args, call.source)
    }

    pub fn from_args(args: &'a mut Args, source: Source) -> Binder<'a> {
        Binder {
            args,
            source,
            problems: Vec::new(),
        }
    }

    /// The argument `name` from the call's source; `None` means a problem was recorded.
    pub fn arg<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        self.take(name, self.source)
    }

    /// The path parameter `name` (problems are reported under `path`, a bad value is a 422).
    pub fn path<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        self.take(name, Source::Path)
    }

    fn take<T: DeserializeOwned>(&mut self, name: &str, source: Source) -> Option<T> {
        // Removing (not cloning) the value: each argument is bound once.
        let Some(value) = self.args.remove(name) else {
            return match serde_json::from_value::<T>(Value::Null) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.problem(source, name, "field required", "missing");
                    None
                }
            };
        };
        let result = if matches!(source, Source::Path | Source::Query) {
            // Path and query values arrive as strings; `"42"` should still bind to a number.
            T::deserialize(&value).or_else(|e| match value.as_str() {
                Some(text) => serde_json::from_str::<T>(text).map_err(|_| e),
                None => Err(e),
            })
        } else {
            serde_json::from_value::<T>(value)
        };
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(source, name, &e.to_string(), "invalid");
                None
            }
        }
    }

    fn problem(&mut self, source: Source, name: &str, msg: &str, kind: &str) {
        self.problems.push(Problem {
            loc: vec![source.as_str().to_string(), name.to_string()],
            msg: msg.to_string(),
            kind: kind.to_string(),
        });
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

/// Binds a call's arguments to variables, all problems at once; evaluates to
/// `Result<(T1, T2, ..), HandlerError>`. Mark path parameters with `path`.
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
    use crate::handler::Progress;

    fn call(args: serde_json::Value, source: Source) -> Call {
        Call {
            args: args.as_object().cloned().unwrap_or_default(),
            source,
            request_id: "t".into(),
            progress: Progress::default(),
        }
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
        let locs: Vec<Vec<String>> = problems.iter().map(|p| p.loc.clone()).collect();
        // A body value is not reparsed: "5" is not a number in JSON.
        assert_eq!(
            locs,
            [vec!["path", "id"], vec!["body", "n"], vec!["body", "m"]]
        );
        assert_eq!(problems[2].kind, "missing");
        assert_eq!(problems[2].msg, "field required");
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
        let locs: Vec<Vec<String>> = problems.iter().map(|p| p.loc.clone()).collect();
        // `verbose` is an Option: missing is fine; `tags` is required.
        assert_eq!(locs, [vec!["path", "id"], vec!["body", "tags"]]);
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

    #[test]
    fn no_parameters_bind_to_unit() {
        let c = call(json!({"extra": 1}), Source::Body);
        crate::bind!(c).unwrap();
    }
}
