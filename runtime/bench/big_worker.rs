//! The flash-runtime side of `big_json.sh`: `GET /big` answers the ~100 KB payload through
//! `Reply::json`, as a generated worker whose function returns a large struct does.

#[path = "big_payload.rs"]
mod big_payload;

use std::sync::Arc;

use flash_runtime::{
    handler::{handler, Reply},
    lb::App,
};

fn main() -> std::process::ExitCode {
    let app = App::new(|| async { Ok(big_payload::payload()) }).get(
        "/big",
        handler(|payload: Arc<big_payload::Payload>, _call| async move { Reply::json(&*payload) }),
    );
    flash_runtime::lb::run(app)
}
