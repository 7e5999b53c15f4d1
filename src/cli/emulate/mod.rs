//! `flashc emulate`: an offline stand-in for Runpod's REST v2 control plane on 127.0.0.1, for
//! tests and for rehearsing a deploy in CI. `flashc deploy` reaches it through
//! `RUNPOD_API_BASE_URL`; nothing else differs. It keeps state in memory, one control request
//! at a time (see [`control`] for what it validates and enforces), and runs real workers
//! behind each endpoint's request URLs ([`fleet`]): a load-balanced endpoint at `/lb/{id}/…`,
//! a queue endpoint's API at `/v2/{id}/…`, each request on its own thread.

mod catalog;
pub mod control;
pub mod fleet;
#[cfg(test)]
mod tests;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Where image references are looked up as worker binaries (default `FLASHC_IMAGE_STORE`,
    /// else `~/.cache/flashc/images`); `flashc deploy` against the emulator fills it.
    #[arg(long, value_name = "DIR")]
    images: Option<std::path::PathBuf>,
    /// Run no workers: the control plane alone, for rehearsing plans and applies without
    /// building anything. Rollouts finish at once; an endpoint's URLs answer `/ping` and
    /// `/health` with 200 (so verify passes) and anything else with 503.
    #[arg(long)]
    no_workers: bool,
    /// Accept only the API key held by the environment variable VAR (`--api-key-env
    /// RUNPOD_API_KEY`; a variable, so the key is not on a command line), as Runpod accepts
    /// only its own: any other bearer token is answered 401, so a wrong key can be rehearsed.
    /// Default: any non-empty key.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
}

/// Bodies larger than this are refused (the API's own limit is smaller than any real body).
const MAX_BODY: u64 = 1 << 20;

pub fn run(args: &Args) -> ExitCode {
    let server = match tiny_http::Server::http(("127.0.0.1", args.port)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::from(crate::cli::EXIT_USAGE);
        }
    };
    let accepted_key = match &args.api_key_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Some(key.trim().to_string()),
            _ => {
                eprintln!("error: --api-key-env {var}: the variable is not set or empty");
                return ExitCode::from(crate::cli::EXIT_USAGE);
            }
        },
    };
    let port = server.server_addr().to_ip().map_or(args.port, |a| a.port());
    let base = format!("http://127.0.0.1:{port}");
    println!("listening on {base}");
    let _ = std::io::stdout().flush();
    let images = args.images.clone().unwrap_or_else(fleet::image_store);
    let workers = fleet::Fleet::start(images, &base);
    let mut plane = ControlPlane::new(&base, args.fault.clone());
    if !args.no_workers {
        plane.fleet = Some(Arc::clone(&workers));
    }
    let plane = Arc::new(Mutex::new(plane));
    for mut request in server.incoming_requests() {
        let method = request.method().as_str().to_ascii_uppercase();
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let path = path.to_string();
        let query = query.to_string();
        let authorized = request.headers().iter().any(|h| {
            h.field.equiv("Authorization")
                && h.value
                    .as_str()
                    .strip_prefix("Bearer ")
                    .is_some_and(|k| match &accepted_key {
                        Some(accepted) => k == accepted,
                        None => !k.trim().is_empty(),
                    })
        });
        let mut body = Vec::new();
        let read = request
            .as_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body);
        if read.is_err() || body.len() as u64 > MAX_BODY {
            respond(request, control_problem(413));
            continue;
        }
        let target = {
            let plane = plane.lock().unwrap_or_else(|p| p.into_inner());
            worker_target(&path, |id| plane.has_endpoint(id))
        };
        if let (Some((_, worker_path)), true) = (&target, args.no_workers) {
            let reply = if !authorized {
                fail(401, "missing or unknown bearer token".into())
            } else if worker_path == "/ping" || worker_path.ends_with("/health") {
                control::Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: Some(
                        serde_json::json!({"status": "no workers (flashc emulate --no-workers)"}),
                    ),
                }
            } else {
                fail(503, "flashc emulate --no-workers runs no workers".into())
            };
            respond(request, reply);
            continue;
        }
        if let Some((id, worker_path)) = target {
            let workers = Arc::clone(&workers);
            std::thread::spawn(move || {
                let forwarded = Forward {
                    method: &method,
                    path: &worker_path,
                    query: &query,
                    body,
                };
                proxy(request, &workers, &id, authorized, forwarded);
            });
            continue;
        }
        if args.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.delay_ms));
        }
        let reply = {
            let mut plane = plane.lock().unwrap_or_else(|p| p.into_inner());
            let reply = plane.handle(&method, &path, authorized, &body);
            if !args.no_workers {
                workers.sync(plane.endpoint_states());
            }
            reply
        };
        respond(request, reply);
    }
    ExitCode::SUCCESS
}

fn respond(request: tiny_http::Request, reply: control::Reply) {
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

/// A request for an endpoint's workers: `(endpoint id, path on the worker)`. A load-balanced
/// endpoint is served at `/lb/{id}` (its `requestUrls.base`), its routes below it; a queue
/// endpoint's API at `/v2/{id}/…`, which the worker's local queue API takes as it is.
fn worker_target(path: &str, is_endpoint: impl Fn(&str) -> bool) -> Option<(String, String)> {
    if let Some(rest) = path.strip_prefix("/lb/") {
        let (id, route) = rest.split_once('/').unwrap_or((rest, ""));
        return Some((id.to_string(), format!("/{route}")));
    }
    let rest = path.strip_prefix("/v2/")?;
    let (id, _) = rest.split_once('/')?;
    (is_endpoint(id) && !matches!(id, "serverless" | "catalog"))
        .then(|| (id.to_string(), path.to_string()))
}

struct Forward<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    body: Vec<u8>,
}

/// Hands one request to a worker of endpoint `id` (starting one if none runs) and its answer
/// back. Like the platform, it wants an API key; the worker does not get it.
fn proxy(
    request: tiny_http::Request,
    workers: &fleet::Fleet,
    id: &str,
    authorized: bool,
    forward: Forward,
) {
    if !authorized {
        return respond(request, fail(401, "missing or unknown bearer token".into()));
    }
    let (port, key) = match workers.acquire(id) {
        Ok(found) => found,
        Err((status, detail)) => return respond(request, fail(status, detail)),
    };
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let mut uri = format!("http://127.0.0.1:{port}{}", forward.path);
    if !forward.query.is_empty() {
        uri.push('?');
        uri.push_str(forward.query);
    }
    let mut builder = ureq::http::Request::builder()
        .method(forward.method)
        .uri(&uri);
    for name in ["Content-Type", "Accept"] {
        if let Some(v) = header(name) {
            builder = builder.header(name, v);
        }
    }
    if let Some(key) = key {
        builder = builder.header("Authorization", format!("Bearer {key}"));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(330)))
        .build()
        .into();
    let answer = builder
        .body(forward.body)
        .map_err(|e| e.to_string())
        .and_then(|r| agent.run(r).map_err(|e| e.to_string()));
    workers.release(id);
    let mut answer = match answer {
        Ok(a) => a,
        Err(e) => {
            return respond(
                request,
                fail(502, format!("the worker did not answer: {e}")),
            )
        }
    };
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = answer
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    let mut response = tiny_http::Response::from_data(bytes).with_status_code(status);
    if let Some(h) =
        content_type.and_then(|v| tiny_http::Header::from_bytes("Content-Type", v.as_bytes()).ok())
    {
        response = response.with_header(h);
    }
    let _ = request.respond(response);
}

fn fail(status: u16, detail: String) -> control::Reply {
    control::Reply {
        status,
        headers: Vec::new(),
        body: Some(serde_json::json!({"title": "Error", "status": status, "detail": detail})),
    }
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
