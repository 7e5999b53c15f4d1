pub mod api;
mod model;
mod stream;

pub use model::load;
pub use stream::*;
