//! The model of one merged file (the base file, or one environment applied) that every stage
//! reads: rules, resolve and lower. Each endpoint with its merged node (spans point wherever
//! each value was written: the endpoint, `defaults`, or an overlay) and its typed form, and
//! each route with its key parsed and its value unpacked, once, when the project is built.

use std::collections::HashSet;

use crate::load::{Entry, Node, Span, Step, Value};
use crate::model::route_key::{self, RouteKey, RouteKeyError};
use crate::model::{Endpoint, EndpointType};

pub struct Project<'a> {
    pub root: &'a Node,
    /// The overlay applied, if any (for messages).
    pub environment: Option<&'a str>,
    pub endpoints: Vec<EndpointView<'a>>,
    /// Every route of every endpoint, in file order.
    routes: Vec<RouteView<'a>>,
}

/// One route of one endpoint: its key parsed and its value unpacked once, for every stage.
pub struct RouteView<'a> {
    /// The endpoint's name.
    pub endpoint: &'a str,
    /// The route's entry: `key` is the route key as written, `key_span` its place.
    pub entry: &'a Entry,
    pub key: Result<RouteKey<'a>, RouteKeyError>,
    /// The problems of the key's path (the route contract's grammar); empty when the key does
    /// not parse.
    pub path_problems: Vec<RouteKeyError>,
    /// The handler string's node: the value itself (`users::get`), or the `handler` of a map
    /// (`{ handler: users::get, timeout: 30s }`); `None` when neither is there.
    pub handler: Option<&'a Node>,
}

pub struct EndpointView<'a> {
    pub name: &'a str,
    pub name_span: Span,
    pub node: &'a Node,
    /// The typed endpoint; `None` when its shape is wrong, which the schema check has
    /// already reported (so rules skip it rather than cascade).
    pub spec: Option<Endpoint>,
    /// Whether the schema check reported anything inside this endpoint (those values were
    /// pruned, so "missing" rules must not report them again as absent).
    pub had_schema_errors: bool,
}

impl<'a> Project<'a> {
    pub fn new(root: &'a Node, environment: Option<&'a str>, invalid: &[Vec<Step>]) -> Self {
        Self::with_invalid(root, environment, &invalid_endpoints(invalid))
    }

    /// As [`Project::new`], with the names of the endpoints the schema check reported already
    /// gathered (once per file rather than once per environment).
    pub fn with_invalid(
        root: &'a Node,
        environment: Option<&'a str>,
        invalid: &HashSet<&str>,
    ) -> Self {
        let endpoints = root
            .get("endpoints")
            .map(|e| e.entries())
            .unwrap_or_default()
            .iter()
            .map(|entry| EndpointView {
                name: &entry.key,
                name_span: entry.key_span,
                node: &entry.value,
                spec: Endpoint::from_node(&entry.value).ok(),
                had_schema_errors: invalid.contains(entry.key.as_str()),
            })
            .collect::<Vec<EndpointView<'a>>>();
        let routes = endpoints
            .iter()
            .flat_map(|endpoint| {
                let name = endpoint.name;
                let routes = endpoint
                    .node
                    .get("routes")
                    .map(Node::entries)
                    .unwrap_or_default();
                routes.iter().map(move |entry| RouteView::new(name, entry))
            })
            .collect();
        Project {
            root,
            environment,
            endpoints,
            routes,
        }
    }

    /// Every route of every endpoint, in file order.
    pub fn routes(&self) -> impl Iterator<Item = &RouteView<'a>> {
        self.routes.iter()
    }

    /// Every handler string (`handler`, `init`, route handlers) with its node, in file order.
    /// The endpoint `Endpoint::named(name)` reaches: the one whose `FLASH_ENDPOINT_<NAME>`
    /// variable the name gives (`gpu_backend` reaches `gpu-backend`), as the worker finds it.
    pub fn endpoint_called(&self, name: &str) -> Option<&EndpointView<'a>> {
        let var = crate::model::route_key::endpoint_id_env(name);
        self.endpoints
            .iter()
            .find(|e| crate::model::route_key::endpoint_id_env(e.name) == var)
    }

    pub fn handler_nodes(&self) -> impl Iterator<Item = &'a Node> + '_ {
        self.endpoints
            .iter()
            .flat_map(move |endpoint| {
                let direct = ["handler", "init"]
                    .into_iter()
                    .filter_map(|k| endpoint.node.get(k));
                let routes = self.routes_of(endpoint.name).filter_map(|r| r.handler);
                direct.chain(routes)
            })
            .filter(|n| n.as_str().is_some())
    }

    /// The routes of the endpoint `name`, in file order.
    pub fn routes_of<'p>(&'p self, name: &'p str) -> impl Iterator<Item = &'p RouteView<'a>> {
        self.routes.iter().filter(move |r| r.endpoint == name)
    }

    /// Endpoints whose shape is valid, with their typed form.
    pub fn typed(&self) -> impl Iterator<Item = (&EndpointView<'a>, &Endpoint)> {
        self.endpoints
            .iter()
            .filter_map(|e| e.spec.as_ref().map(|spec| (e, spec)))
    }
}

/// The names of the endpoints with a condemned value somewhere inside.
pub fn invalid_endpoints(invalid: &[Vec<Step>]) -> HashSet<&str> {
    invalid
        .iter()
        .filter_map(|path| match path.as_slice() {
            [Step::Key(e), Step::Key(n), ..] if e == "endpoints" => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// A route value's handler node: the value itself (`users::get`), or the `handler` of a map
/// (`{ handler: users::get, timeout: 30s }`). The one place a route's value is unpacked.
pub fn route_handler(value: &Node) -> Option<&Node> {
    crate::stats::count(crate::stats::Counter::RouteUnpack);
    match &value.value {
        Value::Str(_) => Some(value),
        Value::Map(_) => value.get("handler"),
        _ => None,
    }
}

impl<'a> RouteView<'a> {
    /// The route `entry` of endpoint `endpoint`, its key parsed (the one place a route key is
    /// parsed; the editor reads a single route through it too).
    pub fn new(endpoint: &'a str, entry: &'a Entry) -> Self {
        let key = route_key::parse(&entry.key);
        let path_problems = match &key {
            Ok(key) => route_key::path_problems(key.path),
            Err(_) => Vec::new(),
        };
        let handler = route_handler(&entry.value);
        RouteView {
            endpoint,
            entry,
            key,
            path_problems,
            handler,
        }
    }
}

impl EndpointView<'_> {
    /// The span of a field's value, or of the endpoint's name when the field is absent.
    pub fn value_span(&self, key: &str) -> Span {
        self.node.get(key).map_or(self.name_span, |n| n.span)
    }

    /// The span of a field's key, or of the endpoint's name when the field is absent.
    pub fn key_span(&self, key: &str) -> Span {
        self.node.entry(key).map_or(self.name_span, |e| e.key_span)
    }

    pub fn kind(&self) -> Option<EndpointType> {
        self.spec.as_ref().and_then(|s| s.kind)
    }
}
