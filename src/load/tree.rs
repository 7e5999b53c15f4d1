//! The spanned document tree every later stage reads. It is deliberately tiny: YAML's
//! scalars resolved by the 1.2 core schema, sequences, and mappings that keep their keys'
//! positions (a `Vec`, not a map, so duplicate keys can be reported rather than lost).

pub use crate::diagnostic::{Pos, Span};

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// One step of a path into the tree: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl From<&str> for Step {
    fn from(key: &str) -> Self {
        Step::Key(key.to_string())
    }
}

impl From<&String> for Step {
    fn from(key: &String) -> Self {
        Step::Key(key.clone())
    }
}

impl From<usize> for Step {
    fn from(index: usize) -> Self {
        Step::Index(index)
    }
}

/// Builds a path from mixed keys and indices: `path!["endpoints", name, "routes"]`.
#[macro_export]
macro_rules! path {
    ($($step:expr),* $(,)?) => { [$($crate::load::Step::from($step)),*] };
}

impl Node {
    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key == key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node at `path`, if every step exists.
    pub fn at(&self, path: &[Step]) -> Option<&Node> {
        path.iter().try_fold(self, |node, step| match step {
            Step::Key(k) => node.get(k),
            Step::Index(i) => node.items().get(*i),
        })
    }

    /// The span of the key that introduces the last step of `path` (for a sequence index,
    /// the item itself).
    pub fn key_span_at(&self, path: &[Step]) -> Option<Span> {
        let (last, parent) = path.split_last()?;
        let parent = self.at(parent)?;
        match last {
            Step::Key(k) => parent.entry(k).map(|e| e.key_span),
            Step::Index(i) => parent.items().get(*i).map(|n| n.span),
        }
    }

    /// A JSON rendering for schema validation and typed deserialisation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short description of the node's kind, for messages ("found a list").
    /// How many nodes this tree holds, itself included. Iterative, so neither input depth nor an
    /// adversarial anchor can overflow the stack.
    pub fn size(&self) -> usize {
        let mut total = 0usize;
        let mut todo = vec![self];
        while let Some(n) = todo.pop() {
            total += 1;
            match &n.value {
                Value::Seq(items) => todo.extend(items),
                Value::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
                _ => {}
            }
        }
        total
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}
