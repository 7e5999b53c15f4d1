//! Calls between endpoints (`flash_runtime::endpoints`), end to end: the example queue worker
//! serves the local queue API on a port, and a load-balanced app's handler calls it by name
//! through `Endpoint`, the way a generated worker calls another endpoint of its project.

mod lb_common;

#[path = "../examples/queue_worker.rs"]
#[allow(dead_code)]
mod queue_example;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::Path,
    http::HeaderMap,
    routing::{get, post},
    Json, Router,
};
use flash_runtime::{
    bind,
    endpoints::{Endpoint, EndpointError, JobStatus},
    handler::{handler, Reply},
    lb::App,
    queue::{local, settings::LocalTiming},
    shutdown::Shutdown,
};
use lb_common::{client, config, start, wait_status};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// The example queue worker, serving the local queue API on 127.0.0.1:<ephemeral>.
struct Queue {
    base: String,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), String>>,
}

impl Queue {
    async fn start(runsync_wait: Duration) -> Queue {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let timing = LocalTiming {
            run_ttl: Duration::from_secs(60),
            runsync_ttl: Duration::from_secs(60),
            runsync_wait,
            webhook_retry: Duration::from_millis(50),
            ..LocalTiming::default()
        };
        let shutdown = Shutdown::new();
        let s = shutdown.clone();
        let task = tokio::spawn(async move {
            local::run(
                queue_example::worker(),
                timing,
                listener,
                s,
                Duration::from_secs(5),
            )
            .await
        });
        Queue {
            base,
            shutdown,
            task,
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::with_base("greeter", &self.base)
    }

    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("queue stops")
            .unwrap()
            .unwrap();
    }
}

/// The user's code of the calling endpoint: functions that call the `greeter` endpoint.
mod user {
    use flash_runtime::endpoints::{Endpoint, EndpointError};
    use serde_json::{json, Value};

    pub async fn relay(name: String) -> Result<Value, EndpointError> {
        let job = Endpoint::named("e2e-greeter")
            .runsync(json!({ "name": name, "count": 2 }))
            .await?;
        Ok(json!({ "status": job.status, "output": job.output }))
    }

    pub async fn unconfigured() -> Result<Value, EndpointError> {
        let job = Endpoint::named("e2e-missing")
            .runsync(json!({ "x": 1 }))
            .await?;
        Ok(json!(job.status))
    }
}

#[tokio::test]
async fn a_handler_calls_a_queue_endpoint_by_name() {
    let queue = Queue::start(Duration::from_secs(10)).await;
    std::env::set_var("FLASH_ENDPOINT_E2E_GREETER", &queue.base);
    std::env::remove_var("FLASH_ENDPOINT_E2E_MISSING");
    let app = App::stateless()
        .post(
            "/relay",
            handler(|_s, mut call| async move {
                let (name,) = bind!(call, name)?;
                Reply::result(user::relay(name).await)
            }),
        )
        .get(
            "/unconfigured",
            handler(|_s, _call| async move { Reply::result(user::unconfigured().await) }),
        );
    let lb = start(app, config(&[("FLASH_DEBUG", "1")])).await;
    wait_status(&lb.url("/ping"), 200).await;

    let res = client()
        .post(lb.url("/relay"))
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "COMPLETED", "output": {"greeting": "hello Ada", "count": 2}})
    );

    let res = client().get(lb.url("/unconfigured")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    let body: Value = res.json().await.unwrap();
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("FLASH_ENDPOINT_E2E_MISSING"), "{msg}");

    lb.stop().await;
    queue.stop().await;
}

#[tokio::test]
async fn runsync_polls_status_until_the_job_ends() {
    // The queue answers /runsync after 200 ms; the job takes 1 s.
    let queue = Queue::start(Duration::from_millis(200)).await;
    let started = Instant::now();
    let job = queue
        .endpoint()
        .runsync(json!({"name": "Bo", "sleep_ms": 1000}))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert!(job.is_final());
    assert_eq!(job.status, "COMPLETED");
    assert_eq!(
        job.output,
        Some(json!({"greeting": "hello Bo", "count": 1}))
    );
    queue.stop().await;
}

#[tokio::test]
async fn run_status_stream_and_cancel() {
    let queue = Queue::start(Duration::from_secs(10)).await;
    let ep = queue.endpoint();

    let job = ep
        .run(json!({"name": "Cy", "mode": "stream", "count": 3}))
        .await
        .unwrap();
    assert_eq!(job.status, "IN_QUEUE");
    let mut chunks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let part = ep.stream(&job.id).await.unwrap();
        chunks.extend(part.stream);
        if matches!(part.status.as_str(), "COMPLETED" | "FAILED") {
            break;
        }
        assert!(Instant::now() < deadline, "stream never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        chunks,
        (0..3)
            .map(|i| json!({"token": "hello Cy", "index": i}))
            .collect::<Vec<_>>()
    );
    let done = ep.status(&job.id).await.unwrap();
    assert_eq!(done.status, "COMPLETED");
    assert_eq!(done.output.unwrap().as_array().unwrap().len(), 3);

    let slow = ep
        .run(json!({"name": "Di", "sleep_ms": 5000}))
        .await
        .unwrap();
    let cancelled = ep.cancel(&slow.id).await.unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    assert!(cancelled.is_final());
    assert_eq!(ep.status(&slow.id).await.unwrap().status, "CANCELLED");
    queue.stop().await;
}

#[tokio::test]
async fn a_failed_job_is_a_final_status_not_an_error() {
    let queue = Queue::start(Duration::from_secs(10)).await;
    let job = queue
        .endpoint()
        .runsync(json!({"name": "Ed", "mode": "fail"}))
        .await
        .unwrap();
    assert_eq!(job.status, "FAILED");
    let text = job.error.as_ref().and_then(Value::as_str).unwrap();
    let error: Value = serde_json::from_str(text).unwrap();
    assert_eq!(error["error_type"], "ClientError");
    assert_eq!(error["error_message"], "cannot greet Ed");
    queue.stop().await;
}

#[tokio::test]
async fn errors_say_what_went_wrong() {
    let queue = Queue::start(Duration::from_secs(10)).await;
    let ep = queue.endpoint();
    // Refused before sending: the platform would never run these.
    assert!(matches!(
        ep.run(json!({})).await,
        Err(EndpointError::Input(_))
    ));
    assert!(matches!(
        ep.runsync(json!(["a"])).await,
        Err(EndpointError::Input(_))
    ));
    // The API's own error statuses.
    match ep.status("no-such-job").await {
        Err(EndpointError::Http { status: 404, body }) => assert!(body.contains("error"), "{body}"),
        other => panic!("not a 404: {other:?}"),
    }
    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gone = Endpoint::with_base("gone", &format!("http://{closed}"));
    match gone.run(json!({"a": 1})).await {
        Err(e @ EndpointError::Transport(_)) => {
            assert!(e.to_string().contains("unreachable"), "{e}")
        }
        other => panic!("not a transport error: {other:?}"),
    }
    // Not configured.
    std::env::remove_var("FLASH_ENDPOINT_E2E_NOWHERE");
    match Endpoint::named("e2e-nowhere").status("j").await {
        Err(EndpointError::NotConfigured { var }) => {
            assert_eq!(var, "FLASH_ENDPOINT_E2E_NOWHERE")
        }
        other => panic!("not NotConfigured: {other:?}"),
    }
    // Usable as a handler's error (`?` and Reply::result), and as a Box<dyn Error>.
    let boxed: Box<dyn std::error::Error + Send + Sync> = EndpointError::Decode("x".into()).into();
    assert!(boxed.to_string().contains("unexpected answer"));
    queue.stop().await;
}

/// What the stand-in for Runpod's public API saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Option<String>, Value)>,
}

#[tokio::test]
async fn an_endpoint_id_goes_to_the_api_with_the_bearer_key() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let api = Router::new()
        .route(
            "/v2/{ep}/run",
            post(
                move |Path(ep): Path<String>, headers: HeaderMap, Json(body): Json<Value>| {
                    let record = record.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        record
                            .lock()
                            .unwrap()
                            .requests
                            .push((format!("/v2/{ep}/run"), auth, body));
                        Json(json!({"id": "job-1", "status": "IN_QUEUE"}))
                    }
                },
            ),
        )
        .route("/v2/{ep}/status/{id}", get(|| async { "this is not JSON" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });

    std::env::set_var("RUNPOD_ENDPOINT_BASE_URL", format!("http://{addr}/v2"));
    std::env::set_var("RUNPOD_API_KEY", "k-test");
    std::env::set_var("FLASH_ENDPOINT_E2E_STUB", "ep123");
    let ep = Endpoint::named("e2e-stub");
    let job: JobStatus = ep.run(json!({"prompt": "hi"})).await.unwrap();
    assert_eq!(
        (job.id.as_str(), job.status.as_str()),
        ("job-1", "IN_QUEUE")
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.requests,
            [(
                "/v2/ep123/run".to_string(),
                Some("Bearer k-test".to_string()),
                json!({"input": {"prompt": "hi"}})
            )]
        );
    }
    match ep.status("job-1").await {
        Err(EndpointError::Decode(msg)) => assert!(msg.contains("this is not JSON"), "{msg}"),
        other => panic!("not a decode error: {other:?}"),
    }
    std::env::remove_var("RUNPOD_API_KEY");
}
