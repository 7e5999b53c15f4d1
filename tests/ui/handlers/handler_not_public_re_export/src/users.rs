pub fn get(id: u64) -> u64 {
    id
}
