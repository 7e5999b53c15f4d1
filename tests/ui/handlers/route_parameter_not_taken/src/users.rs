pub fn get(user_id: i64) -> i64 {
    user_id
}
