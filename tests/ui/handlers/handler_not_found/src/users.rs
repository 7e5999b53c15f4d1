use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct User {
    pub id: i64,
}

pub fn get(id: i64) -> User {
    User { id }
}

pub fn create(user: User) -> User {
    user
}
