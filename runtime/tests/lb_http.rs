//! HTTP behaviour of a load-balanced worker over real sockets: binding, every error status and
//! body, panics, timeouts, limits, streaming, request ids.

mod lb_common;

use lb_common::{client, start_example};
use serde_json::{json, Value};

async fn get(url: &str) -> (u16, Value) {
    let res = client().get(url).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

async fn post(url: &str, body: &str) -> (u16, Value) {
    let res = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

#[tokio::test]
async fn ping_is_healthy_json() {
    let s = start_example(&[]).await;
    let res = client().get(s.url("/ping")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.text().await.unwrap(), r#"{"status":"healthy"}"#);
    s.stop().await;
}

#[tokio::test]
async fn get_binds_path_and_query() {
    let s = start_example(&[]).await;
    assert_eq!(
        get(&s.url("/users/7?verbose=true")).await,
        (200, json!({"id": 7, "verbose": true}))
    );
    // An optional query parameter may be left out.
    assert_eq!(
        get(&s.url("/users/-3")).await,
        (200, json!({"id": -3, "verbose": false}))
    );
    // State from the init hook reaches handlers.
    assert_eq!(
        get(&s.url("/hello")).await,
        (200, json!({"message": "hello"}))
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_path_and_query_values_are_422_all_at_once() {
    let s = start_example(&[]).await;
    let (status, body) = get(&s.url("/users/abc?verbose=maybe")).await;
    assert_eq!(status, 422);
    let locs: Vec<&Value> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["loc"])
        .collect();
    assert_eq!(
        locs,
        [&json!(["path", "user_id"]), &json!(["query", "verbose"])]
    );
    assert_eq!(body["detail"][0]["type"], "int_parsing");
    assert_eq!(body["detail"][1]["type"], "bool_parsing");
    s.stop().await;
}

#[tokio::test]
async fn post_binds_a_flat_json_body() {
    let s = start_example(&[]).await;
    assert_eq!(
        post(
            &s.url("/users"),
            r#"{"name":"Ada","email":"ada@example.com","extra":1}"#
        )
        .await,
        (
            200,
            json!({"id": 1, "name": "Ada", "email": "ada@example.com"})
        )
    );
    // The benchmark's route.
    assert_eq!(
        post(&s.url("/add"), r#"{"a":1,"b":2}"#).await,
        (200, json!({"sum": 3}))
    );
    s.stop().await;
}

#[tokio::test]
async fn post_problems_are_422_all_at_once() {
    let s = start_example(&[]).await;
    assert_eq!(
        post(&s.url("/users"), "{}").await,
        (
            422,
            json!({"detail": [
                {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": null},
                {"type": "missing", "loc": ["body", "email"], "msg": "Field required", "input": null},
            ]})
        )
    );
    // No body at all is the same as an empty object.
    let (status, body) = post(&s.url("/users"), "").await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"].as_array().unwrap().len(), 2);
    // Wrong types: both reported.
    let (status, body) = post(&s.url("/divide"), r#"{"a":"x","b":[1]}"#).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "a"]));
    assert_eq!(body["detail"][1]["loc"], json!(["body", "b"]));
    assert_eq!(body["detail"][0]["type"], "float_parsing");
    assert_eq!(body["detail"][1]["type"], "float_type");
    s.stop().await;
}

#[tokio::test]
async fn non_object_and_malformed_bodies_are_422() {
    let s = start_example(&[]).await;
    let (status, body) = post(&s.url("/users"), "[1,2]").await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    assert_eq!(body["detail"][0]["type"], "model_attributes_type");
    let (status, body) = post(&s.url("/users"), "{not json").await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    s.stop().await;
}

#[tokio::test]
async fn client_error_is_400_with_message() {
    let s = start_example(&[]).await;
    assert_eq!(
        post(&s.url("/divide"), r#"{"a":1,"b":0}"#).await,
        (400, json!({"error": "cannot divide by zero"}))
    );
    assert_eq!(
        post(&s.url("/divide"), r#"{"a":1,"b":4}"#).await,
        (200, json!(0.25))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_handler_can_answer_its_own_error_status() {
    let s = start_example(&[]).await;
    assert_eq!(get(&s.url("/orders/1")).await, (200, json!({"order": 1})));
    assert_eq!(
        get(&s.url("/orders/7")).await,
        (404, json!({"error": "no order 7"}))
    );
    assert_eq!(
        get(&s.url("/orders/2")).await,
        (409, json!({"error": "order 2 is being written"}))
    );
    // A 5xx the handler chose keeps its message (the handler wrote it for the caller).
    assert_eq!(
        get(&s.url("/orders/503")).await,
        (503, json!({"error": "asked for 503"}))
    );
    // Not an error status: a 500, the message hidden like any internal error's.
    assert_eq!(
        get(&s.url("/orders/200")).await,
        (500, json!({"error": "internal server error"}))
    );
    s.stop().await;
}

#[tokio::test]
async fn internal_errors_hide_details_unless_debug() {
    let s = start_example(&[]).await;
    assert_eq!(
        get(&s.url("/fail")).await,
        (500, json!({"error": "internal server error"}))
    );
    s.stop().await;
    let s = start_example(&[("FLASH_DEBUG", "1")]).await;
    assert_eq!(
        get(&s.url("/fail")).await,
        (500, json!({"error": "database password is hunter2"}))
    );
    assert_eq!(
        get(&s.url("/panic")).await,
        (500, json!({"error": "handler bug"}))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_panic_is_500_and_the_worker_keeps_serving() {
    let s = start_example(&[]).await;
    for _ in 0..3 {
        assert_eq!(
            get(&s.url("/panic")).await,
            (500, json!({"error": "internal server error"}))
        );
        assert_eq!(
            get(&s.url("/hello")).await,
            (200, json!({"message": "hello"}))
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn unknown_path_is_404_json() {
    let s = start_example(&[]).await;
    assert_eq!(
        get(&s.url("/nope")).await,
        (404, json!({"detail": "Not Found"}))
    );
    assert_eq!(
        get(&s.url("/users/1/extra")).await,
        (404, json!({"detail": "Not Found"}))
    );
    s.stop().await;
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let s = start_example(&[]).await;
    let res = client().delete(s.url("/users")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Method Not Allowed"})
    );
    let res = client().post(s.url("/users/1")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    let res = client().post(s.url("/ping")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Method Not Allowed"})
    );
    s.stop().await;
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let s = start_example(&[("FLASH_BODY_LIMIT", "1024")]).await;
    let big = format!(r#"{{"name":"{}","email":"x"}}"#, "a".repeat(2000));
    let (status, body) = post(&s.url("/users"), &big).await;
    assert_eq!(status, 413);
    assert_eq!(
        body,
        json!({"error": "request body exceeds the limit of 1024 bytes"})
    );
    // Without Content-Length (chunked), the limit still holds while reading.
    let head = raw_request(
        s.addr,
        &format!(
            "POST /users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Just under the limit is fine.
    let ok = format!(r#"{{"name":"{}","email":"x"}}"#, "a".repeat(900));
    assert_eq!(post(&s.url("/users"), &ok).await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn execution_timeout_is_504() {
    let s = start_example(&[("FLASH_EXECUTION_TIMEOUT_MS", "200")]).await;
    let started = std::time::Instant::now();
    assert_eq!(
        get(&s.url("/slow?ms=5000")).await,
        (504, json!({"error": "execution timeout exceeded"}))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        get(&s.url("/slow?ms=10")).await,
        (200, json!({"slept": 10}))
    );
    s.stop().await;
}

#[tokio::test]
async fn streaming_handler_over_http_is_ndjson() {
    let s = start_example(&[]).await;
    let res = client().get(s.url("/count?n=3")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    assert_eq!(res.text().await.unwrap(), "0\n1\n2\n");
    s.stop().await;
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let s = start_example(&[]).await;
    let res = client()
        .get(s.url("/hello"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let a = client().get(s.url("/hello")).send().await.unwrap();
    let b = client().get(s.url("/hello")).send().await.unwrap();
    let (a, b) = (&a.headers()["x-request-id"], &b.headers()["x-request-id"]);
    assert!(!a.is_empty());
    assert_ne!(a, b);
    s.stop().await;
}

#[tokio::test]
async fn slow_requests_do_not_block_others() {
    let s = start_example(&[]).await;
    let slow = tokio::spawn(get_owned(s.url("/slow?ms=1500")));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    assert_eq!(get(&s.url("/hello")).await.0, 200);
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
    assert_eq!(slow.await.unwrap(), (200, json!({"slept": 1500})));
    s.stop().await;
}

async fn get_owned(url: String) -> (u16, Value) {
    get(&url).await
}

/// Sends raw bytes and returns what the server answered first (its status line at least).
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn head_on_a_get_route_has_no_body() {
    let s = start_example(&[]).await;
    let res = client().head(s.url("/hello")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "");
    s.stop().await;
}
