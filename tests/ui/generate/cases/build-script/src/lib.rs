pub mod greeting {
    include!(concat!(env!("OUT_DIR"), "/greeting.rs"));

    pub async fn get() -> String {
        GREETING.to_string()
    }
}
