pub struct User {
    pub id: i64,
}

pub fn get(id: i64) -> Result<User, String> {
    Ok(User { id })
}

pub fn name() -> &'static str {
    "shop"
}
