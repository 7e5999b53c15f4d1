//! Handlers of the `hello` project. flash.yaml names them by their path from this crate's root:
//! `embed::load_model`, `embed::run`, `users::get`, `users::create`, `users::stream`.

pub mod embed;
pub mod users;
