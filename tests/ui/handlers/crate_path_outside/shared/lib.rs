pub fn hello() -> String {
    "hello".to_string()
}
