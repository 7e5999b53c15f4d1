//! Stage 1: text → spanned tree. The only stage that sees raw bytes; everything after it
//! works on [`Node`]s whose spans point back into the file.

mod de;
pub mod rules;
mod tree;
mod yaml;

pub use de::from_node;
pub use tree::{Entry, Node, Pos, Span, Step, Value};
pub use yaml::{load, Limits};
