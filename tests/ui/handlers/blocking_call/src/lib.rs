use std::fs;

/// Reads a file on the async thread: reported.
pub async fn report() -> String {
    fs::read_to_string("report.txt").unwrap_or_default()
}

/// Sleeps on the async thread: reported.
pub async fn nap() -> String {
    std::thread::sleep(std::time::Duration::from_millis(10));
    "rested".to_string()
}

/// Blocking work inside a closure (run elsewhere) and a plain `fn`: not reported.
pub async fn fine() -> String {
    let read = move || fs::read_to_string("x").unwrap_or_default();
    read()
}
