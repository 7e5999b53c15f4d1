pub fn get(id: i64) -> i64 {
    id +
}
