//! The codes the load stage reports (FL00xx), one rule per file like every other rule. They
//! live here, not in `rules/`, because `rules/` reads loaded trees: the stage below cannot
//! import the one above it. `rules::ALL` lists them with every other code.

mod duplicate_key;
mod float_version;
mod yaml_syntax;

pub use duplicate_key::DUPLICATE_KEY;
pub use float_version::FLOAT_VERSION;
pub use yaml_syntax::{NOT_UTF8, YAML_LIMITS, YAML_SYNTAX};
