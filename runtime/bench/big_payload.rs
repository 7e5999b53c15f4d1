//! The ~100 KB JSON reply both servers of `big_json.sh` serialize on every request: 800 records
//! whose fields are deliberately not in alphabetical order (a reply must keep them as declared).
//! Included by `big_worker.rs` and `big_axum.rs`.

use serde::Serialize;

#[derive(Serialize)]
pub struct Record {
    pub name: String,
    pub id: u64,
    pub score: f64,
    pub active: bool,
    pub tags: Vec<String>,
}

#[derive(Serialize)]
pub struct Payload {
    pub total: usize,
    pub records: Vec<Record>,
}

pub fn payload() -> Payload {
    let records: Vec<Record> = (0..800u64)
        .map(|i| Record {
            name: format!("record number {i} with a longer name"),
            id: i * 7919,
            score: i as f64 * 1.375,
            active: i % 3 == 0,
            tags: vec![format!("tag-{}", i % 17), "benchmark".to_string()],
        })
        .collect();
    Payload {
        total: records.len(),
        records,
    }
}
