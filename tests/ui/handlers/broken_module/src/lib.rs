pub mod orders;
pub mod users;
