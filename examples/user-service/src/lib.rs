//! Handlers of the `user-service` project: the store (`store::open`, the endpoint's `init`)
//! and the four routes in `users`.

pub mod store;
pub mod users;
