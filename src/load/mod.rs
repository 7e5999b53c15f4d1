//! Stage 1: text → spanned tree. The only stage that sees raw bytes; everything after it
//! works on [`Node`]s whose spans point back into the file.

mod de;
pub mod rules;
mod tree;
mod yaml;

pub use de::from_node;
pub use tree::{Entry, Node, Pos, Span, Step, Value};
pub use yaml::{load, Limits};

/// The largest integer every stage reads exactly: 2^53 - 1 (JSON's safe integer). A number
/// past it may be a float in YAML (`1e16`, or a literal beyond 64 bits), so the schema bounds
/// 64-bit fields here and the typed model reads whole floats up to it as integers.
pub const LARGEST_EXACT_INTEGER: u64 = (1 << 53) - 1;
