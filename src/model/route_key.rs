//! Route keys (`"GET /users/{id}"`) and durations (`"90s"`): the two small languages inside
//! flash.yaml strings, parsed once here for the rules and for lowering.

use super::vocab::ROUTE_METHODS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
}

/// A parsed `"METHOD /path"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey<'a> {
    pub method: &'a str,
    pub path: &'a str,
}

/// Why a route key does not parse, with the fix where one is clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKeyError {
    pub message: String,
    pub help: Option<String>,
}

impl<'a> RouteKey<'a> {
    pub fn parse(key: &'a str) -> Result<RouteKey<'a>, RouteKeyError> {
        let trimmed = key.trim();
        let Some((method, path)) = trimmed.split_once(char::is_whitespace) else {
            let help = if trimmed.starts_with('/') {
                Some(format!("add a method: `\"GET {trimmed}\"`"))
            } else {
                Some("write the method, a space and the path: `\"GET /users\"`".to_string())
            };
            return Err(RouteKeyError {
                message: format!("route `{key}` must be a method and a path, such as `GET /users`"),
                help,
            });
        };
        let path = path.trim();
        let canonical = key.len() == method.len() + 1 + path.len()
            && key.starts_with(method)
            && key.ends_with(path)
            && key.as_bytes().get(method.len()) == Some(&b' ');
        if !canonical {
            return Err(RouteKeyError {
                message: format!(
                    "route `{key}` must be written as the method, one space and the path"
                ),
                help: Some(format!("write `\"{method} {path}\"`")),
            });
        }
        if !ROUTE_METHODS.contains(&method) {
            let upper = method.to_ascii_uppercase();
            let help = if ROUTE_METHODS.contains(&upper.as_str()) {
                Some(format!("methods are upper case: `\"{upper} {path}\"`"))
            } else {
                crate::suggest::did_you_mean(method, ROUTE_METHODS.iter().copied())
            };
            return Err(RouteKeyError {
                message: format!(
                    "unknown method `{method}` in route `{key}`: expected GET, POST, PUT, DELETE, PATCH or WS"
                ),
                help,
            });
        }
        if !path.starts_with('/') {
            return Err(RouteKeyError {
                message: format!("path `{path}` of route `{key}` must start with `/`"),
                help: Some(format!("write `\"{method} /{path}\"`")),
            });
        }
        Ok(RouteKey { method, path })
    }

    /// The path's segments; parameter syntax is checked by [`check_path`].
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> {
        self.path.split('/').skip(1).map(|s| {
            match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            }
        })
    }

    /// What requests the route matches: parameter names do not matter (`/users/{id}` and
    /// `/users/{user_id}` match the same requests). `WS` is its own method: a WebSocket
    /// upgrade goes to the `WS` route and a plain GET to the `GET` route of the same path, as
    /// in Starlette and FastAPI.
    pub fn match_key(&self) -> String {
        let method = self.method;
        let mut key = String::with_capacity(method.len() + self.path.len() + 1);
        key.push_str(method);
        key.push(' ');
        for segment in self.segments() {
            key.push('/');
            key.push_str(match segment {
                Segment::Literal(l) => l,
                Segment::Param(_) => "{}",
            });
        }
        key
    }
}

/// Problems with the path's parameter syntax: `{name}` must be a whole segment whose name is
/// an identifier, used once per path.
pub fn check_path(path: &str) -> Vec<RouteKeyError> {
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
        problems.push(RouteKeyError {
            message: format!("path `{path}` contains `{bad}`: {what}"),
            help: Some(
                "use letters, digits, `-`, `_`, `.`, `~` and `{name}` parameters between `/`"
                    .to_string(),
            ),
        });
        return problems;
    }
    if path.len() > 1 && path[1..].split('/').rev().skip(1).any(str::is_empty) {
        problems.push(RouteKeyError {
            message: format!("path `{path}` has an empty segment (`//`)"),
            help: Some(format!("write `{}`", collapse_slashes(path))),
        });
    }
    let mut names: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        if let Some(name) = segment.strip_prefix(':') {
            problems.push(RouteKeyError {
                message: format!("path parameter `{segment}` uses `:name` syntax"),
                help: Some(format!("write `{{{name}}}`")),
            });
            continue;
        }
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens == 0 && closes == 0 {
            continue;
        }
        let whole = opens == 1 && closes == 1 && segment.starts_with('{') && segment.ends_with('}');
        if !whole {
            problems.push(RouteKeyError {
                message: format!(
                    "path segment `{segment}` must be a whole `{{name}}` parameter or plain text"
                ),
                help: Some("put the parameter in a segment of its own: `/users/{id}`".to_string()),
            });
            continue;
        }
        let name = &segment[1..segment.len() - 1];
        if !is_identifier(name) {
            problems.push(RouteKeyError {
                message: format!("path parameter `{{{name}}}` must be named with letters, digits and `_`, not starting with a digit"),
                help: (!name.is_empty()).then(|| format!("write `{{{}}}`", to_identifier(name))),
            });
        } else if names.contains(&name) {
            problems.push(RouteKeyError {
                message: format!("path parameter `{{{name}}}` appears twice in `{path}`"),
                help: Some("give each parameter its own name".to_string()),
            });
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

/// A duration in milliseconds: whole seconds as a number, or `<n>ms|s|m|h`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: expected a whole number and a unit, such as `90s` or `10m`"))?;
    let factor = match unit {
        "ms" => 1,
        "s" | "" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other if other.starts_with('.') => {
            return Err(format!(
                "`{text}` is not a whole number; use a smaller unit, such as `90m` for `1.5h`"
            ))
        }
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}`: expected `ms`, `s`, `m` or `h`"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_do_not_change_what_a_route_matches() {
        let a = RouteKey::parse("GET /users/{id}").unwrap();
        let b = RouteKey::parse("GET /users/{user_id}").unwrap();
        let ws = RouteKey::parse("WS /users/{x}").unwrap();
        assert_eq!(a.match_key(), b.match_key());
        // A WebSocket route and a GET route on one path are two routes (Starlette/FastAPI).
        assert_ne!(a.match_key(), ws.match_key());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn path_parameter_syntax() {
        assert!(check_path("/users/{id}/posts/{post_id}").is_empty());
        assert_eq!(
            check_path("/users/:id")[0].help.as_deref(),
            Some("write `{id}`")
        );
        assert_eq!(check_path("/users/{id}/{id}").len(), 1);
        assert_eq!(check_path("/users/user-{id}").len(), 1);
        assert_eq!(check_path("/users/{1d}").len(), 1);
    }
}
