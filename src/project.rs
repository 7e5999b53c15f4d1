//! The view of a resolved file that semantic rules read: each endpoint with its merged node
//! (spans point wherever each value was written: the endpoint, `defaults`, or an overlay)
//! and its typed form.

use std::collections::HashSet;

use crate::load::{Entry, Node, Span, Step};
use crate::model::route_key::{RouteKey, RouteKeyError};
use crate::model::{Endpoint, EndpointType};

pub struct Project<'a> {
    pub root: &'a Node,
    /// The overlay applied, if any (for messages).
    pub environment: Option<&'a str>,
    pub endpoints: Vec<EndpointView<'a>>,
}

/// One route of one endpoint, its key parsed once for every route rule.
pub struct RouteView<'a> {
    /// The endpoint's name.
    pub endpoint: &'a str,
    pub entry: &'a Entry,
    pub key: Result<RouteKey<'a>, RouteKeyError>,
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
            .collect();
        Project {
            root,
            environment,
            endpoints,
        }
    }

    /// Every route of every endpoint, in file order, with its parsed key.
    pub fn routes(&self) -> impl Iterator<Item = RouteView<'a>> + '_ {
        self.endpoints.iter().flat_map(|endpoint| {
            let routes = endpoint
                .node
                .get("routes")
                .map(Node::entries)
                .unwrap_or_default();
            routes.iter().map(|entry| RouteView {
                endpoint: endpoint.name,
                entry,
                key: RouteKey::parse(&entry.key),
            })
        })
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
