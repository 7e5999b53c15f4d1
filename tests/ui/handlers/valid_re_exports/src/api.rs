pub mod v1 {
    #[derive(serde::Serialize)]
    pub struct User {
        pub id: i64,
    }

    pub async fn get_user(id: i64, verbose: Option<bool>) -> User {
    User { id }
    }
}

pub fn embed(model: std::sync::Arc<crate::model::Model>, text: String) -> Vec<f32> {
    vec![]
}
