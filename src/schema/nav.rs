//! Walks the generated schema along an instance path, to say what *would* be allowed at a
//! place: the keys of a mapping (for "did you mean"), the bounds of a number, and where a key
//! that is out of place belongs. The schema check's messages and the editor's hover and
//! completion both read the schema through it.

use serde_json::Value as Json;

use crate::load::Step;

pub struct SchemaNav<'a> {
    root: &'a Json,
}

/// Where the keys of each definition are written, for "belongs in" hints.
const HOMES: &[(&str, &str)] = &[
    ("Endpoint", "an endpoint"),
    ("Settings", "an endpoint or `defaults`"),
    ("Environment", "an environment overlay"),
    ("Scaler", "`scaler`"),
    ("Volume", "`volume`"),
    ("RouteOptions", "a route"),
    ("ImageOverride", "`image`"),
    ("WorkerBounds", "`workers`"),
    ("SecretRef", "an env var's value"),
];

impl<'a> SchemaNav<'a> {
    pub fn new(root: &'a Json) -> Self {
        SchemaNav { root }
    }

    /// Every schema (alternatives included) that applies at `path`, in the schema's order.
    pub fn schemas_at(&self, path: &[Step]) -> Vec<&'a Json> {
        let mut current = self.expand(self.root);
        for step in path {
            let mut next = Vec::new();
            for schema in current {
                let child = match step {
                    Step::Key(k) => schema
                        .get("properties")
                        .and_then(|p| p.get(k))
                        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object())),
                    Step::Index(_) => schema.get("items").filter(|i| i.is_object()),
                };
                if let Some(child) = child {
                    next.extend(self.expand(child));
                }
            }
            current = next;
        }
        current
    }

    /// A schema with `$ref`s followed and alternatives flattened, in the schema's order.
    pub fn expand(&self, schema: &'a Json) -> Vec<&'a Json> {
        let mut out = Vec::new();
        let mut todo = vec![schema];
        // Bounded: the generated schema is finite and acyclic along these keywords, but a
        // cap keeps a future recursive type from looping here.
        while let Some(s) = todo.pop() {
            if out.len() > 64 {
                break;
            }
            if let Some(target) = s
                .get("$ref")
                .and_then(Json::as_str)
                .and_then(|r| self.resolve(r))
            {
                todo.push(target);
            }
            for keyword in ["anyOf", "oneOf", "allOf"] {
                if let Some(Json::Array(branches)) = s.get(keyword) {
                    // Reversed onto the stack, so the first branch comes out first.
                    todo.extend(branches.iter().rev());
                }
            }
            out.push(s);
        }
        out
    }

    fn resolve(&self, reference: &str) -> Option<&'a Json> {
        self.root.pointer(reference.strip_prefix('#')?)
    }

    /// The keys a mapping at `path` may have.
    pub fn properties_at(&self, path: &[Step]) -> Vec<String> {
        let mut keys: Vec<String> = self
            .schemas_at(path)
            .iter()
            .filter_map(|s| s.get("properties").and_then(Json::as_object))
            .flat_map(|p| p.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// `minimum` and `maximum` of the number at `path`.
    pub fn bounds_at(&self, path: &[Step]) -> (Option<String>, Option<String>) {
        let schemas = self.schemas_at(path);
        let find = |k: &str| schemas.iter().find_map(|s| s.get(k)).map(|v| v.to_string());
        (find("minimum"), find("maximum"))
    }

    /// Where `key` is a known key, in words ("an endpoint or `defaults`").
    pub fn home_of(&self, key: &str) -> Option<String> {
        if self
            .root
            .get("properties")
            .and_then(|p| p.get(key))
            .is_some()
        {
            return Some("the top level".into());
        }
        let defs = self.root.get("$defs")?.as_object()?;
        let homes: Vec<&str> = HOMES
            .iter()
            .filter(|(def, _)| {
                defs.get(*def)
                    .and_then(|d| d.get("properties"))
                    .and_then(|p| p.get(key))
                    .is_some()
            })
            .map(|(_, home)| *home)
            .collect();
        // Settings' keys are also Endpoint's (flattened); name the broader place once.
        let home = if homes.contains(&"an endpoint or `defaults`") {
            "an endpoint or `defaults`"
        } else {
            homes.first()?
        };
        Some(home.to_string())
    }
}
