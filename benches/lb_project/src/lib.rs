//! The handler of the serving benchmark: a bound JSON POST, as in minimal_axum.rs.

pub mod calc {
    use serde::Serialize;

    #[derive(Serialize)]
    pub struct Sum {
        pub sum: i64,
    }

    /// `POST /add` with `{"a": 1, "b": 2}`.
    pub async fn add(a: i64, b: i64) -> Sum {
        Sum {
            sum: a.wrapping_add(b),
        }
    }
}
