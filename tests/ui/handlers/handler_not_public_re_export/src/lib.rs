mod users;

pub use users::get;
