//! Handlers of the `subdir-crate` golden case.

pub mod items {
    use serde::Serialize;

    #[derive(Serialize)]
    pub struct Item {
        pub id: u32,
        pub name: String,
    }

    /// `GET /items/{item_id}`, with an optional `?verbose=`.
    pub async fn get(item_id: u32, verbose: Option<bool>) -> Item {
        Item {
            id: item_id,
            name: format!("item {item_id} ({})", verbose.unwrap_or(false)),
        }
    }

    /// `POST /items`: a sync handler returning a `Result`.
    pub fn create(name: String) -> Result<Item, String> {
        if name.is_empty() {
            return Err("name must not be empty".into());
        }
        Ok(Item { id: 1, name })
    }
}

pub mod render {
    /// Renders one frame; the job's `input` is `{"scene": "...", "frame": 3}`.
    pub fn frame(scene: String, frame: u32) -> String {
        format!("{scene}#{frame}")
    }

    /// Renders `count` tiles, one stream chunk each; with `return_aggregate_stream` the job's
    /// output is all of them.
    pub fn tiles(scene: String, count: u32) -> impl futures_util::Stream<Item = String> {
        futures_util::stream::iter((0..count).map(move |i| format!("{scene}/tile{i}")))
    }
}
