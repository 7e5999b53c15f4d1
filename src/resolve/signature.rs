//! Reading a handler's or init's signature: parameters by kind, the return shape, and which
//! types serde can carry (as far as the crate's own definitions tell).

use quote::ToTokens;
use syn::{FnArg, GenericArgument, Pat, PathArguments, ReturnType, Type, TypeParamBound};

use super::index::{tidy, CrateIndex};
use super::{Param, ParamKind, Pass, Returns};
use crate::facts::{NotSend, TypeShape};

/// A type's text as written, with rustfmt-like spacing.
pub(crate) fn ty_string(ty: &impl ToTokens) -> String {
    tidy(&ty.to_token_stream().to_string())
}

/// The last segment of a path type and its generic type arguments.
pub(crate) fn last_segment(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(p) = strip_group(ty) else {
        return None;
    };
    let last = p.path.segments.last()?;
    Some((last.ident.to_string(), type_args(&last.arguments)))
}

fn type_args(arguments: &PathArguments) -> Vec<&Type> {
    match arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn strip_group(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => strip_group(&g.elem),
        Type::Paren(p) => strip_group(&p.elem),
        other => other,
    }
}

/// A key to compare state types written differently (`crate::model::Model` and `Model`).
pub(crate) fn type_key(ty: &Type) -> String {
    match strip_group(ty) {
        Type::Path(p) => match p.path.segments.last() {
            Some(last) => {
                let args: Vec<String> = type_args(&last.arguments)
                    .into_iter()
                    .map(type_key)
                    .collect();
                if args.is_empty() {
                    last.ident.to_string()
                } else {
                    format!("{}<{}>", last.ident, args.join(","))
                }
            }
            None => ty_string(ty),
        },
        Type::Reference(r) => format!("&{}", type_key(&r.elem)),
        Type::Tuple(t) if t.elems.is_empty() => "()".to_string(),
        other => ty_string(other),
    }
}

/// How a parameter binds, or why it cannot.
pub(crate) enum ParamShape<'a> {
    Bound {
        param: Param,
        /// The argument's type, or the state's type behind `&` / `Arc`.
        ty: &'a Type,
    },
    Unbindable {
        /// The parameter as written (`name: &str`).
        text: String,
        reason: String,
        help: String,
    },
}

pub(crate) fn param_shape(arg: &FnArg) -> ParamShape<'_> {
    let typed = match arg {
        FnArg::Receiver(r) => {
            return ParamShape::Unbindable {
                text: ty_string(r),
                reason: "a handler is a free function, not a method".into(),
                help: "move it out of the `impl` block as a free `pub fn`".into(),
            }
        }
        FnArg::Typed(t) => t,
    };
    let text = ty_string(typed);
    // `Input<T>` takes the whole input or body: no name to bind by, so any pattern will do
    // (`Input(order): Input<Order>`).
    if let Some(inner) = whole_input(&typed.ty) {
        let name = match &*typed.pat {
            Pat::Ident(i) if i.subpat.is_none() => i.ident.to_string(),
            pat => ty_string(pat),
        };
        return ParamShape::Bound {
            param: Param {
                name,
                ty: ty_string(strip_group(&typed.ty)),
                kind: ParamKind::Whole,
                shape: type_shape(inner),
            },
            ty: inner,
        };
    }
    let name = match &*typed.pat {
        Pat::Ident(i) if i.subpat.is_none() => i.ident.to_string(),
        _ => {
            return ParamShape::Unbindable {
                reason: "arguments are bound by name, and a pattern has none".into(),
                help: format!(
                    "name the parameter (`value: {}`) and destructure it in the body",
                    ty_string(&*typed.ty)
                ),
                text,
            }
        }
    };
    let ty = strip_group(&typed.ty);
    let written = ty_string(ty);
    let param = |kind| Param {
        name: name.clone(),
        ty: written.clone(),
        kind,
        shape: type_shape(ty),
    };
    match ty {
        Type::Reference(r) => {
            let inner = strip_group(&r.elem);
            if r.mutability.is_some() {
                let help = if is_context(inner) {
                    "take `&Context` or `Context`".to_string()
                } else {
                    format!(
                        "take `&{0}` (or `Arc<{0}>`) for the endpoint's state and use interior mutability (`Mutex`, atomics) for what changes",
                        ty_string(inner)
                    )
                };
                return ParamShape::Unbindable {
                    text,
                    reason: "state and context are shared between calls, so they cannot be borrowed mutably".into(),
                    help,
                };
            }
            if is_context(inner) {
                return ParamShape::Bound {
                    param: param(ParamKind::Context(Pass::Ref)),
                    ty: inner,
                };
            }
            let owned = match inner {
                Type::Path(p) if p.path.is_ident("str") => Some("String".to_string()),
                Type::Slice(s) => Some(format!("Vec<{}>", ty_string(&*s.elem))),
                Type::Path(p) if p.path.is_ident("Path") => Some("PathBuf".to_string()),
                _ => None,
            };
            if let Some(owned) = owned {
                return ParamShape::Unbindable {
                    text,
                    reason: "a reference is only allowed for the endpoint's state (`&S`) and the context (`&Context`)".into(),
                    help: format!("take an owned value: `{name}: {owned}`"),
                };
            }
            ParamShape::Bound {
                param: param(ParamKind::State(Pass::Ref)),
                ty: inner,
            }
        }
        Type::ImplTrait(_) => ParamShape::Unbindable {
            text,
            reason: "generated code needs a concrete type to read the argument into".into(),
            help: "use a concrete type that implements `serde::Deserialize`".into(),
        },
        Type::Ptr(_) | Type::BareFn(_) | Type::TraitObject(_) | Type::Never(_) => {
            ParamShape::Unbindable {
                text,
                reason: "the type cannot be read from a request".into(),
                help: "use a type that implements `serde::Deserialize`".into(),
            }
        }
        _ if is_context(ty) => ParamShape::Bound {
            param: param(ParamKind::Context(Pass::Owned)),
            ty,
        },
        _ => match last_segment(ty) {
            Some((ident, args)) if ident == "Arc" && args.len() == 1 => ParamShape::Bound {
                param: param(ParamKind::State(Pass::Owned)),
                ty: args[0],
            },
            _ => ParamShape::Bound {
                param: param(ParamKind::Arg),
                ty,
            },
        },
    }
}

/// `Input<T>` (`flash_runtime::Input<T>`): `T`. A type of that name without exactly one type
/// argument is the crate's own, bound by name as any other.
fn whole_input(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = strip_group(ty) else {
        return None;
    };
    if p.qself.is_some() {
        return None;
    }
    match last_segment(ty) {
        Some((ident, args)) if ident == "Input" && args.len() == 1 => Some(args[0]),
        _ => None,
    }
}

/// The JSON a type reads or writes, as far as its syntax tells.
pub(crate) fn type_shape(ty: &Type) -> TypeShape {
    match strip_group(ty) {
        Type::Reference(r) => match strip_group(&r.elem) {
            Type::Path(p) if p.path.is_ident("str") => TypeShape::String,
            _ => TypeShape::Any,
        },
        Type::Tuple(t) if t.elems.is_empty() => TypeShape::Null,
        Type::Path(_) => {
            let Some((ident, args)) = last_segment(ty) else {
                return TypeShape::Any;
            };
            match (ident.as_str(), args.as_slice()) {
                ("Option", [inner]) => TypeShape::Optional(Box::new(type_shape(inner))),
                ("Vec" | "VecDeque" | "HashSet" | "BTreeSet", [inner]) => {
                    TypeShape::List(Box::new(type_shape(inner)))
                }
                ("HashMap" | "BTreeMap", [_, ..]) => TypeShape::Map,
                ("i8" | "i16" | "i32" | "i64" | "i128" | "isize", []) => TypeShape::Integer,
                ("u8" | "u16" | "u32" | "u64" | "u128" | "usize", []) => TypeShape::Unsigned,
                ("f32" | "f64", []) => TypeShape::Number,
                ("bool", []) => TypeShape::Boolean,
                ("String" | "char", []) => TypeShape::String,
                _ => TypeShape::Any,
            }
        }
        _ => TypeShape::Any,
    }
}

/// The shape of what a handler answers: the value, the `Ok` value, or each stream item as
/// written (no return type: `null`).
pub(crate) fn answer_shape(output: &ReturnType) -> TypeShape {
    let ty = match output {
        ReturnType::Default => return TypeShape::Null,
        ReturnType::Type(_, ty) => strip_group(ty),
    };
    if let Some(item) = stream_item(ty) {
        return type_shape(item);
    }
    match last_segment(ty) {
        Some((ident, args)) if ident == "Result" && !args.is_empty() => type_shape(args[0]),
        _ => type_shape(ty),
    }
}

fn is_context(ty: &Type) -> bool {
    matches!(strip_group(ty), Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Context" && s.arguments.is_none()))
}

/// The return shape, and the type whose values are sent (the value, `Ok`, or stream item).
pub(crate) fn returns(output: &ReturnType) -> (Returns, Option<&Type>) {
    let ty = match output {
        ReturnType::Default => return (Returns::Value { ty: "()".into() }, None),
        ReturnType::Type(_, ty) => strip_group(ty),
    };
    if let Some(item) = stream_item(ty) {
        let (fallible, sent) = match last_segment(item) {
            Some((ident, args)) if ident == "Result" && !args.is_empty() => (true, args[0]),
            _ => (false, item),
        };
        return (
            Returns::Stream {
                item: ty_string(item),
                fallible,
            },
            Some(sent),
        );
    }
    if let Some((ident, args)) = last_segment(ty) {
        if ident == "Result" && !args.is_empty() {
            let err = match args.get(1) {
                Some(e) => ty_string(*e),
                // `anyhow::Result<T>`, `io::Result<T>`: the alias's module names the error.
                None => match ty {
                    Type::Path(p) if p.path.segments.len() > 1 => {
                        let segments: Vec<String> = p
                            .path
                            .segments
                            .iter()
                            .take(p.path.segments.len() - 1)
                            .map(|s| s.ident.to_string())
                            .collect();
                        format!("{}::Error", segments.join("::"))
                    }
                    _ => "Error".to_string(),
                },
            };
            return (
                Returns::Result {
                    ok: ty_string(args[0]),
                    err,
                },
                Some(args[0]),
            );
        }
    }
    (Returns::Value { ty: ty_string(ty) }, Some(ty))
}

/// `impl Stream<Item = T>` (any path ending in `Stream`): `T`.
fn stream_item(ty: &Type) -> Option<&Type> {
    let Type::ImplTrait(i) = ty else {
        return None;
    };
    i.bounds.iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last()?;
        if last.ident != "Stream" {
            return None;
        }
        let PathArguments::AngleBracketed(a) = &last.arguments else {
            return None;
        };
        a.args.iter().find_map(|g| match g {
            GenericArgument::AssocType(at) if at.ident == "Item" => Some(&at.ty),
            _ => None,
        })
    })
}

/// Why values of `ty` cannot be serialized, with the fix; `None` when they can (or when the
/// type is foreign and flashc cannot tell).
pub(crate) struct TypeProblem<'i> {
    pub reason: String,
    pub help: String,
    /// The crate type lacking the derive, to point at.
    pub def: Option<&'i super::index::TypeDef>,
}

pub(crate) fn serialize_problem<'i>(ty: &Type, index: &'i CrateIndex) -> Option<TypeProblem<'i>> {
    let mut stack = vec![ty];
    while let Some(ty) = stack.pop() {
        match strip_group(ty) {
            Type::Reference(r) => {
                let owned = match strip_group(&r.elem) {
                    Type::Path(p) if p.path.is_ident("str") => "String".to_string(),
                    Type::Slice(s) => format!("Vec<{}>", ty_string(&*s.elem)),
                    other => ty_string(other),
                };
                return Some(TypeProblem {
                    reason: format!("`{}` is a reference", ty_string(ty)),
                    help: format!("return an owned value such as `{owned}`"),
                    def: None,
                });
            }
            Type::Ptr(_) | Type::BareFn(_) | Type::Never(_) | Type::Infer(_) => {
                return Some(TypeProblem {
                    reason: format!("`{}` is not data", ty_string(ty)),
                    help: "return a value that implements `serde::Serialize`".into(),
                    def: None,
                })
            }
            Type::ImplTrait(_) => {
                return Some(TypeProblem {
                    reason: format!(
                        "`{}` is an opaque type, and only `impl Stream<Item = T>` is understood",
                        ty_string(ty)
                    ),
                    help: "return a concrete type that implements `serde::Serialize`, or `impl Stream<Item = T>` for a stream".into(),
                    def: None,
                })
            }
            Type::TraitObject(_) => {
                return Some(TypeProblem {
                    reason: format!("`{}` is a trait object", ty_string(ty)),
                    help: "return a concrete type that implements `serde::Serialize`".into(),
                    def: None,
                })
            }
            Type::Tuple(t) => stack.extend(t.elems.iter()),
            Type::Array(a) => stack.push(&a.elem),
            Type::Slice(s) => stack.push(&s.elem),
            Type::Path(p) => {
                let last = p.path.segments.last();
                if let Some(last) = last {
                    if last.ident == "Box" {
                        if let Some(Type::TraitObject(_)) = type_args(&last.arguments).first().map(|t| strip_group(t)) {
                            return Some(TypeProblem {
                                reason: format!("`{}` is a trait object", ty_string(ty)),
                                help: "return a concrete type that implements `serde::Serialize`".into(),
                                def: None,
                            });
                        }
                    }
                    stack.extend(type_args(&last.arguments));
                }
                let defs = index.crate_types(p);
                if !defs.is_empty() && defs.iter().all(|d| !d.serialize) {
                    let def = defs[0];
                    return Some(TypeProblem {
                        reason: format!("`{}` does not implement `serde::Serialize`", def.name),
                        help: format!(
                            "add `#[derive(serde::Serialize)]` to `{}` in `{}`",
                            def.name,
                            index.display(&def.span.file)
                        ),
                        def: Some(def),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

/// A crate type in an argument's type that lacks `Deserialize`.
pub(crate) fn deserialize_problem<'i>(ty: &Type, index: &'i CrateIndex) -> Option<TypeProblem<'i>> {
    let mut stack = vec![ty];
    while let Some(ty) = stack.pop() {
        match strip_group(ty) {
            Type::Tuple(t) => stack.extend(t.elems.iter()),
            Type::Array(a) => stack.push(&a.elem),
            Type::Path(p) => {
                if let Some(last) = p.path.segments.last() {
                    stack.extend(type_args(&last.arguments));
                }
                let defs = index.crate_types(p);
                if !defs.is_empty() && defs.iter().all(|d| !d.deserialize) {
                    let def = defs[0];
                    return Some(TypeProblem {
                        reason: format!("`{}` does not implement `serde::Deserialize`", def.name),
                        help: format!(
                            "add `#[derive(serde::Deserialize)]` to `{}` in `{}`",
                            def.name,
                            index.display(&def.span.file)
                        ),
                        def: Some(def),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

const QUERY_SCALARS: &[&str] = &[
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "f32",
    "f64",
    "bool",
    "String",
    "char",
    "NonZeroU8",
    "NonZeroU16",
    "NonZeroU32",
    "NonZeroU64",
    "NonZeroUsize",
    "NonZeroI32",
    "NonZeroI64",
];

const QUERY_COLLECTIONS: &[&str] = &[
    "Vec", "VecDeque", "HashMap", "BTreeMap", "HashSet", "BTreeSet", "IndexMap", "IndexSet",
    "Value", "Map",
];

/// Why a GET argument of this type cannot come from a query string; `None` when it can (or
/// when it is a foreign type flashc cannot see into).
pub(crate) fn query_problem(ty: &Type, index: &CrateIndex) -> Option<String> {
    match strip_group(ty) {
        Type::Tuple(t) if t.elems.is_empty() => Some("`()` carries nothing".into()),
        Type::Tuple(_) => Some("a tuple".into()),
        Type::Array(_) | Type::Slice(_) => Some("an array".into()),
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            let ident = last.ident.to_string();
            if QUERY_SCALARS.contains(&ident.as_str()) {
                return None;
            }
            if ident == "Option" {
                return type_args(&last.arguments)
                    .first()
                    .and_then(|inner| query_problem(inner, index));
            }
            let defs = index.crate_types(p);
            if let Some(def) = defs.first() {
                if defs.iter().all(|d| d.is_struct) {
                    return Some(format!("`{}` is a struct", def.name));
                }
                if defs.iter().all(|d| !d.is_struct && !d.unit_only) {
                    return Some(format!("`{}` is an enum with data", def.name));
                }
                return None;
            }
            if QUERY_COLLECTIONS.contains(&ident.as_str()) {
                if ident == "Value" || ident == "Map" {
                    // `serde_json::Value`; a foreign `Value` of another crate is unknown.
                    let first = p.path.segments.first().map(|s| s.ident.to_string());
                    if p.path.segments.len() > 1 && first.as_deref() != Some("serde_json") {
                        return None;
                    }
                }
                return Some(format!("`{ident}` is structured"));
            }
            None
        }
        _ => None,
    }
}

/// The first part of `ty` that is not `Send`, if any.
pub(crate) fn not_send(ty: &Type) -> Option<NotSend> {
    struct Finder(Option<NotSend>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
            if self.0.is_some() {
                return;
            }
            if let Some(last) = p.path.segments.last() {
                let name = last.ident.to_string();
                if matches!(name.as_str(), "Rc" | "RefCell" | "Cell") {
                    self.0 = Some(NotSend::Type(name));
                    return;
                }
            }
            syn::visit::visit_type_path(self, p);
        }
        fn visit_type_trait_object(&mut self, t: &'ast syn::TypeTraitObject) {
            if self.0.is_some() {
                return;
            }
            let has_send = t.bounds.iter().any(|b| {
                matches!(b, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == "Send"))
            });
            if !has_send {
                self.0 = Some(NotSend::TraitObject(ty_string(&Type::TraitObject(
                    t.clone(),
                ))));
                return;
            }
            syn::visit::visit_type_trait_object(self, t);
        }
        // `impl Stream<Item = T>`: the items are checked; the stream's own auto traits leak
        // through `impl Trait`, so rustc decides those.
    }
    let mut finder = Finder(None);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}
