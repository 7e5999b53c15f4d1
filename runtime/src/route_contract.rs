//! The route contract: what a route key of flash.yaml means, shared by the compiler and the
//! runtime so the two can never disagree.
//!
//! flashc checks routes with these functions (it includes this file with `#[path]`), the
//! runtime's router registers routes with them, and both decide here where a handler's
//! argument comes from. It owns:
//! - the grammar of a route key (`"GET /users/{id}"`: a method, one space, a path) and of its
//!   path (segments of plain text or whole `{name}` parameters);
//! - a route's [`RouteShape`]: the path with its parameters unnamed. Two routes of one method
//!   with the same shape are the same route, whatever they call their parameters;
//! - the paths the worker serves itself, and the variable that carries an endpoint's id.
//!
//! It uses nothing but `std` (tests/layers.rs holds it to that), so it compiles the same inside
//! flashc and inside every generated worker.

use std::fmt;

/// A route's method. `Ws` is a WebSocket route: an upgraded GET, routed apart from a plain
/// GET of the same path (as in Starlette and FastAPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Ws,
}

impl Method {
    /// Every method, in the order messages list them.
    pub const ALL: [Method; 6] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Ws,
    ];

    /// The method as written in a route key (upper case only).
    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Ws => "WS",
        }
    }

    /// Where the arguments that are not path parameters come from: a GET's query string;
    /// any other method's JSON body; a WebSocket route's first message, read like a body.
    pub fn arguments_from(self) -> ArgSource {
        match self {
            Method::Get => ArgSource::Query,
            _ => ArgSource::Body,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one argument of a handler comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgSource {
    /// A `{name}` segment of the route's path.
    Path,
    /// A query-string parameter (GET routes).
    Query,
    /// A top-level field of the JSON body (other methods, and a WebSocket's first message).
    Body,
    /// A top-level field of a queue job's `input`.
    Input,
}

impl ArgSource {
    /// Where the argument `name` of a route's handler comes from, given the route's path
    /// parameters: a path parameter of that name wins, else the method decides.
    pub fn of_route_argument(name: &str, method: Method, path_params: &[&str]) -> ArgSource {
        if path_params.contains(&name) {
            ArgSource::Path
        } else {
            method.arguments_from()
        }
    }
}

/// The name a request uses for a handler's parameter: the Rust name without a raw
/// identifier's `r#` (`r#type` binds `{type}`, `?type=` and a body field `type`).
pub fn argument_name(rust_name: &str) -> &str {
    rust_name.strip_prefix("r#").unwrap_or(rust_name)
}

/// One segment of a route's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
}

/// A parsed `"METHOD /path"`. Parsing checks the key's shape (method, one space, a path
/// starting with `/`); the path's own grammar is [`path_problems`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteKey<'a> {
    pub method: Method,
    pub path: &'a str,
}

/// What is wrong with a route key or path, with the fix where one is clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKeyError {
    pub kind: RouteKeyErrorKind,
    pub message: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKeyErrorKind {
    /// Not a method and a path.
    Shape,
    /// A method and a path, but not separated by exactly one space.
    Spacing,
    /// A method that is none of [`Method::ALL`]; the help is set only for a lower-case one
    /// (the compiler adds a "did you mean" otherwise).
    UnknownMethod,
    /// The path does not start with `/`.
    Relative,
    /// A problem of the path's grammar ([`path_problems`]).
    Path,
}

impl RouteKeyError {
    fn new(kind: RouteKeyErrorKind, message: String, help: Option<String>) -> Self {
        RouteKeyError {
            kind,
            message,
            help,
        }
    }
}

impl fmt::Display for RouteKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<'a> RouteKey<'a> {
    pub fn parse(key: &'a str) -> Result<RouteKey<'a>, RouteKeyError> {
        use RouteKeyErrorKind as K;
        let trimmed = key.trim();
        let Some((method, path)) = trimmed.split_once(char::is_whitespace) else {
            let help = if trimmed.starts_with('/') {
                format!("add a method: `\"GET {trimmed}\"`")
            } else {
                "write the method, a space and the path: `\"GET /users\"`".to_string()
            };
            return Err(RouteKeyError::new(
                K::Shape,
                format!("route `{key}` must be a method and a path, such as `GET /users`"),
                Some(help),
            ));
        };
        let path = path.trim();
        let canonical = key.len() == method.len() + 1 + path.len()
            && key.starts_with(method)
            && key.ends_with(path)
            && key.as_bytes().get(method.len()) == Some(&b' ');
        if !canonical {
            return Err(RouteKeyError::new(
                K::Spacing,
                format!("route `{key}` must be written as the method, one space and the path"),
                Some(format!("write `\"{method} {path}\"`")),
            ));
        }
        let Some(parsed) = Method::parse(method) else {
            let upper = method.to_ascii_uppercase();
            let help = Method::parse(&upper)
                .map(|_| format!("methods are upper case: `\"{upper} {path}\"`"));
            return Err(RouteKeyError::new(
                K::UnknownMethod,
                format!(
                    "unknown method `{method}` in route `{key}`: expected GET, POST, PUT, DELETE, PATCH or WS"
                ),
                help,
            ));
        };
        if !path.starts_with('/') {
            return Err(RouteKeyError::new(
                K::Relative,
                format!("path `{path}` of route `{key}` must start with `/`"),
                Some(format!("write `\"{method} /{path}\"`")),
            ));
        }
        Ok(RouteKey {
            method: parsed,
            path,
        })
    }

    /// The path's segments (see [`segments`]).
    pub fn segments(&self) -> impl Iterator<Item = Segment<'a>> {
        segments(self.path)
    }

    /// The names of the path's parameters, in order.
    pub fn params(&self) -> Vec<&'a str> {
        params(self.path)
    }

    pub fn shape(&self) -> RouteShape {
        RouteShape::of(self.path)
    }

    /// Whether `self` and `other` would match the same requests: one method, one shape.
    pub fn conflicts_with(&self, other: &RouteKey<'_>) -> bool {
        self.method == other.method && self.shape() == other.shape()
    }
}

/// The segments of a path (which starts with `/`); its grammar is checked by [`path_problems`].
pub fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('/').skip(1).map(
        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => Segment::Param(name),
            None => Segment::Literal(s),
        },
    )
}

/// The names of a path's parameters, in order.
pub fn params(path: &str) -> Vec<&str> {
    segments(path)
        .filter_map(|s| match s {
            Segment::Param(name) => Some(name),
            Segment::Literal(_) => None,
        })
        .collect()
}

/// A path with its parameters unnamed: `/users/{id}` and `/users/{user_id}` have one shape.
///
/// Its text is also the template the runtime registers with its router, the parameters named
/// by their position (`/users/{p0}/posts/{p1}`): two routes that share a prefix then agree on
/// every parameter's name in it, which the router requires, and each route binds its own names
/// by position ([`RouteShape::param_count`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteShape(String);

impl RouteShape {
    /// The shape of a path that [`path_problems`] accepts.
    pub fn of(path: &str) -> RouteShape {
        let mut template = String::with_capacity(path.len());
        let mut n = 0;
        for segment in segments(path) {
            template.push('/');
            match segment {
                Segment::Literal(text) => template.push_str(text),
                Segment::Param(_) => {
                    template.push_str("{p");
                    template.push_str(&n.to_string());
                    template.push('}');
                    n += 1;
                }
            }
        }
        RouteShape(template)
    }

    /// The router template: the path with parameters named `p0`, `p1`, … by position.
    pub fn template(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RouteShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Problems with a path's grammar, all of them: RFC 3986 path characters without `%`-escapes,
/// no empty segment but a trailing one, a parameter is a whole `{name}` segment named as an
/// identifier and used once, and a plain segment does not start with `:` or `*` (the router's
/// parameter and wildcard markers). What passes here the runtime's router accepts.
pub fn path_problems(path: &str) -> Vec<RouteKeyError> {
    let problem = |message: String, help: Option<String>| {
        RouteKeyError::new(RouteKeyErrorKind::Path, message, help)
    };
    let mut problems = Vec::new();
    if let Some(bad) = path.chars().find(|c| !is_path_char(*c)) {
        let what = match bad {
            '?' => {
                "a query string is not part of a route; query parameters bind by name".to_string()
            }
            '#' => "a fragment is never sent to the server".to_string(),
            c if c.is_whitespace() => "a path cannot contain spaces".to_string(),
            c => format!("`{c}` is not allowed in a path"),
        };
        problems.push(problem(
            format!("path `{path}` contains `{bad}`: {what}"),
            Some(
                "use letters, digits, `-`, `_`, `.`, `~` and `{name}` parameters between `/`"
                    .to_string(),
            ),
        ));
        return problems;
    }
    if !path.starts_with('/') {
        problems.push(problem(
            format!("path `{path}` must start with `/`"),
            Some(format!("write `/{path}`")),
        ));
        return problems;
    }
    if path.len() > 1 && path[1..].split('/').rev().skip(1).any(str::is_empty) {
        problems.push(problem(
            format!("path `{path}` has an empty segment (`//`)"),
            Some(format!("write `{}`", collapse_slashes(path))),
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        if let Some(name) = segment.strip_prefix(':') {
            problems.push(problem(
                format!("path parameter `{segment}` uses `:name` syntax"),
                Some(format!("write `{{{name}}}`")),
            ));
            continue;
        }
        if let Some(rest) = segment.strip_prefix('*') {
            let name = if is_identifier(rest) { rest } else { "name" };
            problems.push(problem(
                format!(
                    "path segment `{segment}` starts with `*`: wildcard segments are not supported"
                ),
                Some(format!(
                    "name the segment as a parameter, `{{{name}}}`, or write it without `*`"
                )),
            ));
            continue;
        }
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens == 0 && closes == 0 {
            continue;
        }
        let whole = opens == 1 && closes == 1 && segment.starts_with('{') && segment.ends_with('}');
        if !whole {
            problems.push(problem(
                format!(
                    "path segment `{segment}` must be a whole `{{name}}` parameter or plain text"
                ),
                Some("put the parameter in a segment of its own: `/users/{id}`".to_string()),
            ));
            continue;
        }
        let name = &segment[1..segment.len() - 1];
        if !is_identifier(name) {
            problems.push(problem(
                format!("path parameter `{{{name}}}` must be named with letters, digits and `_`, not starting with a digit"),
                (!name.is_empty()).then(|| format!("write `{{{}}}`", to_identifier(name))),
            ));
        } else if names.contains(&name) {
            problems.push(problem(
                format!("path parameter `{{{name}}}` appears twice in `{path}`"),
                Some("give each parameter its own name".to_string()),
            ));
        } else {
            names.push(name);
        }
    }
    problems
}

/// Characters a route path may hold: RFC 3986 path characters, without `%`-escapes (write the
/// character itself), plus the braces of parameters.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@{}".contains(c)
}

fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// A name a parameter may have: ASCII letters, digits and `_`, not starting with a digit.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn to_identifier(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Paths the worker serves itself: the platform's health check, its Kubernetes probes beside
/// it (`/ping/ready`, `/ping/live`), and Runpod's `/execute`.
pub const RESERVED_PATHS: &[&str] = &["/ping", "/ping/ready", "/ping/live", "/execute"];

/// The variable that carries the endpoint `name`'s id (on Runpod) or base URL (locally) to the
/// other endpoints of its project: `FLASH_ENDPOINT_` and the name upper-cased, `-` → `_`
/// (`gpu-backend` → `FLASH_ENDPOINT_GPU_BACKEND`).
pub fn endpoint_id_env(name: &str) -> String {
    let mut out = String::with_capacity(15 + name.len());
    out.push_str("FLASH_ENDPOINT_");
    out.extend(name.chars().map(|c| match c {
        '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_do_not_change_a_routes_shape() {
        let a = RouteKey::parse("GET /users/{id}").unwrap();
        let b = RouteKey::parse("GET /users/{user_id}").unwrap();
        let post = RouteKey::parse("POST /users/{user_id}").unwrap();
        let ws = RouteKey::parse("WS /users/{x}").unwrap();
        assert_eq!(a.shape(), b.shape());
        assert!(a.conflicts_with(&b));
        // One shape, other methods: separate routes (a WebSocket route apart from a GET).
        assert!(!a.conflicts_with(&post) && !a.conflicts_with(&ws));
        assert_eq!(a.shape().template(), "/users/{p0}");
        assert_eq!(RouteShape::of("/a/{x}/b/{y}").template(), "/a/{p0}/b/{p1}");
        assert_eq!(post.params(), ["user_id"]);
    }

    #[test]
    fn arguments_come_from_the_path_then_the_method() {
        let params = ["id"];
        assert_eq!(
            ArgSource::of_route_argument("id", Method::Get, &params),
            ArgSource::Path
        );
        assert_eq!(
            ArgSource::of_route_argument("q", Method::Get, &params),
            ArgSource::Query
        );
        assert_eq!(
            ArgSource::of_route_argument("q", Method::Post, &params),
            ArgSource::Body
        );
        assert_eq!(
            ArgSource::of_route_argument("q", Method::Ws, &params),
            ArgSource::Body
        );
    }

    #[test]
    fn path_grammar() {
        assert!(path_problems("/users/{id}/posts/{post_id}").is_empty());
        assert!(path_problems("/").is_empty());
        assert!(path_problems("/users/").is_empty());
        assert_eq!(
            path_problems("/users/:id")[0].help.as_deref(),
            Some("write `{id}`")
        );
        assert_eq!(path_problems("/users/{id}/{id}").len(), 1);
        assert_eq!(path_problems("/users/user-{id}").len(), 1);
        assert_eq!(path_problems("/users/{1d}").len(), 1);
        assert_eq!(path_problems("/files/*rest").len(), 1);
        assert_eq!(path_problems("/files/*").len(), 1);
        assert_eq!(path_problems("/a//b").len(), 1);
        // `*` inside a segment is a plain character.
        assert!(path_problems("/a*b").is_empty());
    }

    #[test]
    fn key_grammar() {
        assert_eq!(
            RouteKey::parse("get /x").unwrap_err().help.as_deref(),
            Some("methods are upper case: `\"GET /x\"`")
        );
        assert_eq!(
            RouteKey::parse("FETCH /x").unwrap_err().kind,
            RouteKeyErrorKind::UnknownMethod
        );
        assert_eq!(
            RouteKey::parse("GET  /x").unwrap_err().kind,
            RouteKeyErrorKind::Spacing
        );
        assert_eq!(
            RouteKey::parse("/x").unwrap_err().kind,
            RouteKeyErrorKind::Shape
        );
        assert_eq!(
            RouteKey::parse("GET x").unwrap_err().kind,
            RouteKeyErrorKind::Relative
        );
        assert_eq!(RouteKey::parse("WS /s").unwrap().method, Method::Ws);
    }

    #[test]
    fn raw_identifiers_bind_by_their_plain_name() {
        assert_eq!(argument_name("r#type"), "type");
        assert_eq!(argument_name("user_id"), "user_id");
    }

    #[test]
    fn endpoint_id_variable() {
        assert_eq!(endpoint_id_env("gpu-backend"), "FLASH_ENDPOINT_GPU_BACKEND");
        assert_eq!(endpoint_id_env("embed"), "FLASH_ENDPOINT_EMBED");
    }
}
