//! `flashc emulate`: an offline stand-in for Runpod's REST v2 control plane on 127.0.0.1, for
//! tests and for rehearsing a deploy in CI. `flashc deploy` reaches it through
//! `RUNPOD_API_BASE_URL`; nothing else differs. It keeps state in memory, one request at a time
//! (see [`control`] for what it validates and enforces). It does not run workers yet.

pub mod control;
#[cfg(test)]
mod tests;

use std::io::{Read, Write};
use std::process::ExitCode;

use control::ControlPlane;
use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// The port on 127.0.0.1 (0: any free port). The first line printed is
    /// `listening on http://127.0.0.1:PORT`.
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Statuses the first requests get instead of their answer, in order (`429,500`): faults
    /// for testing retries. `0` answers that request normally; `599` carries it out and then
    /// answers 500 (an answer lost on the way). More can be queued at run time with
    /// `POST /_emulator/faults` (`{"status": 429, "count": 2}`).
    #[arg(long, value_delimiter = ',', value_name = "STATUS")]
    fault: Vec<u16>,
    /// Wait this long before answering each request: a slow API, so a test can stop a deploy
    /// half-way.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay_ms: u64,
}

/// Bodies larger than this are refused (the API's own limit is smaller than any real body).
const MAX_BODY: u64 = 1 << 20;

pub fn run(args: &Args) -> ExitCode {
    let server = match tiny_http::Server::http(("127.0.0.1", args.port)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let port = server.server_addr().to_ip().map_or(args.port, |a| a.port());
    let base = format!("http://127.0.0.1:{port}");
    println!("listening on {base}");
    let _ = std::io::stdout().flush();
    let mut plane = ControlPlane::new(&base, args.fault.clone());
    for mut request in server.incoming_requests() {
        let method = request.method().as_str().to_ascii_uppercase();
        let path = request.url().split('?').next().unwrap_or("/").to_string();
        let authorized = request.headers().iter().any(|h| {
            h.field.equiv("Authorization")
                && h.value
                    .as_str()
                    .strip_prefix("Bearer ")
                    .is_some_and(|k| !k.trim().is_empty())
        });
        let mut body = Vec::new();
        let read = request
            .as_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body);
        if args.delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(args.delay_ms));
        }
        let reply = if read.is_err() || body.len() as u64 > MAX_BODY {
            control_problem(413)
        } else {
            plane.handle(&method, &path, authorized, &body)
        };
        let text = reply
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let mut response = tiny_http::Response::from_string(text).with_status_code(reply.status);
        let content_type = reply
            .body
            .is_some()
            .then(|| ("Content-Type".to_string(), reply.content_type().to_string()));
        for (k, v) in reply.headers.iter().chain(&content_type) {
            // The emulator's own ASCII names and values; one that would not parse is left out.
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                response = response.with_header(h);
            }
        }
        // A client that went away is its own problem; the emulator serves the next.
        let _ = request.respond(response);
    }
    ExitCode::SUCCESS
}

fn control_problem(status: u16) -> control::Reply {
    control::Reply {
        status,
        headers: Vec::new(),
        body: Some(
            serde_json::json!({"title": "Payload Too Large", "status": status, "detail": "request body too large"}),
        ),
    }
}
