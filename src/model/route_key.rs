//! Route keys (`"GET /users/{id}"`) and durations (`"90s"`): the two small languages inside
//! flash.yaml strings.
//!
//! Route keys are the runtime's: the route contract (`runtime/src/route_contract.rs`) is
//! compiled into flashc from the runtime's own source, so the checker accepts exactly what
//! the worker's router serves, and both bind arguments by the same rule.

#[path = "../../runtime/src/route_contract.rs"]
mod contract;

pub use contract::{
    argument_name, endpoint_id_env, is_identifier, params, path_problems, segments, ArgSource,
    Method, RouteKey, RouteKeyError, RouteKeyErrorKind, RouteShape, Segment, RESERVED_PATHS,
};

/// [`RouteKey::parse`], with a "did you mean" for a misspelt method (the contract has no
/// edit distances; flashc's suggestions are `suggest`'s).
pub fn parse(key: &str) -> Result<RouteKey<'_>, RouteKeyError> {
    crate::stats::count(crate::stats::Counter::RouteParse);
    RouteKey::parse(key).map_err(|mut e| {
        if e.kind == RouteKeyErrorKind::UnknownMethod && e.help.is_none() {
            let method = key.trim().split(char::is_whitespace).next().unwrap_or("");
            e.help = crate::suggest::did_you_mean(method, Method::ALL.iter().map(|m| m.as_str()));
        }
        e
    })
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
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn a_misspelt_method_gets_a_suggestion() {
        assert_eq!(
            parse("PSOT /x").unwrap_err().help.as_deref(),
            Some("did you mean `POST`?")
        );
    }
}
