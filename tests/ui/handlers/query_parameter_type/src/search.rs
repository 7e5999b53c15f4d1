pub fn run(q: String, tags: Vec<String>, limit: Option<u32>) -> Vec<String> {
    vec![]
}
