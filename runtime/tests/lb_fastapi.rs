//! What a FastAPI caller expects from a load-balanced worker, over real sockets: pydantic's lax
//! parsing of path, query and body values, its 422 entries byte for byte, FastAPI's 404/405
//! bodies, the trailing-slash 307, and HTTP and WebSocket routes sharing a path.

mod lb_common;

use flash_runtime::{
    bind,
    handler::{handler, Reply},
    lb::App,
};
use futures_util::{SinkExt, StreamExt};
use lb_common::{client, config, start, start_example, wait_status};
use serde_json::{json, Value};
use tokio_tungstenite::{connect_async, tungstenite::Message};

async fn raw(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn path_query_and_body_values_parse_as_pydantic_lax_mode() {
    let s = start_example(&[]).await;
    let c = client();
    for (q, verbose) in [
        ("1", true),
        ("true", true),
        ("yes", true),
        ("on", true),
        ("0", false),
        ("off", false),
        ("no", false),
        ("False", false),
    ] {
        let res = c
            .get(s.url(&format!("/users/5?verbose={q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{q}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["id"], 5, "{q}");
        assert_eq!(body["verbose"], verbose, "{q}");
    }
    // "5.0" is an integer to pydantic.
    let body: Value = c
        .get(s.url("/users/5.0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["id"], 5);
    // JSON body: "1" for an int field, a string number for a float.
    let (status, body) = raw(c
        .post(s.url("/add"))
        .body(r#"{"a":"1","b":2.0}"#)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"sum":3}"#));
    let (status, body) = raw(c
        .post(s.url("/divide"))
        .body(r#"{"a":"9","b":"3"}"#)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!((status, body.as_str()), (200, "3.0"));
    s.stop().await;
}

#[tokio::test]
async fn problems_are_fastapi_422_entries_byte_for_byte() {
    let s = start_example(&[]).await;
    let c = client();
    let (status, body) = raw(c
        .get(s.url("/users/abc?verbose=maybe"))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        concat!(
            r#"{"detail":[{"type":"int_parsing","loc":["path","user_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"},"#,
            r#"{"type":"bool_parsing","loc":["query","verbose"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}"#
        )
    );
    let (status, body) = raw(c.post(s.url("/users")).body("{}").send().await.unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        concat!(
            r#"{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":null},"#,
            r#"{"type":"missing","loc":["body","email"],"msg":"Field required","input":null}]}"#
        )
    );
    let (status, body) = raw(c
        .post(s.url("/add"))
        .body(r#"{"a":1.5,"b":"x"}"#)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(status, 422);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["detail"][0]["type"], "int_from_float");
    assert_eq!(v["detail"][0]["input"], 1.5);
    assert_eq!(v["detail"][1]["type"], "int_parsing");
    // An unparseable body: FastAPI's loc is ["body", <position of the error>].
    let (status, body) = raw(c
        .post(s.url("/users"))
        .body(r#"{"name": }"#)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(status, 422);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["detail"][0]["type"], "json_invalid");
    assert_eq!(v["detail"][0]["loc"], json!(["body", 9]));
    assert_eq!(v["detail"][0]["msg"], "JSON decode error");
    assert_eq!(v["detail"][0]["input"], json!({}));
    assert!(v["detail"][0]["ctx"]["error"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn not_found_and_method_not_allowed_are_fastapi_bodies() {
    let s = start_example(&[]).await;
    let c = client();
    let res = c.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(raw(res).await, (404, r#"{"detail":"Not Found"}"#.into()));
    let res = c.put(s.url("/users")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(
        raw(res).await,
        (405, r#"{"detail":"Method Not Allowed"}"#.into())
    );
    let res = c.post(s.url("/ping")).send().await.unwrap();
    assert_eq!(
        raw(res).await,
        (405, r#"{"detail":"Method Not Allowed"}"#.into())
    );
    // The documented improvements stay: 400 {"error"} for client errors, JSON 500s.
    let (status, body) = raw(c
        .post(s.url("/divide"))
        .body(r#"{"a":1,"b":0}"#)
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(status, 400);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    s.stop().await;
}

#[tokio::test]
async fn a_trailing_slash_redirects_307_like_fastapi() {
    let app = App::stateless()
        .get(
            "/items",
            handler(|_s, _c| async move { Reply::value(json!("items")) }),
        )
        .post(
            "/items/{id}/",
            handler(|_s, mut call| async move {
                let (id,) = bind!(call, path id: u32)?;
                Reply::value(json!(id))
            }),
        );
    let s = start(app, config(&[("SCRIPT_NAME", "/v1/ep")])).await;
    wait_status(&s.url("/ping"), 200).await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = c.get(s.url("/v1/ep/items/?a=1")).send().await.unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.headers()["location"], "/v1/ep/items?a=1");
    assert_eq!(res.text().await.unwrap(), "");
    let res = c.post(s.url("/v1/ep/items/7")).send().await.unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.headers()["location"], "/v1/ep/items/7/");
    // Followed (the default client), a 307 keeps the method and body.
    let res = client().post(s.url("/v1/ep/items/7")).send().await.unwrap();
    assert_eq!(raw(res).await, (200, "7".into()));
    // Nothing to redirect to: 404.
    let res = c.get(s.url("/v1/ep/other/")).send().await.unwrap();
    assert_eq!(raw(res).await, (404, r#"{"detail":"Not Found"}"#.into()));
    s.stop().await;
}

#[tokio::test]
async fn http_and_websocket_routes_may_share_a_path() {
    let app = App::stateless()
        .get(
            "/chat",
            handler(|_s, _c| async move { Reply::value(json!({"route": "GET"})) }),
        )
        .websocket(
            "/chat",
            handler(|_s, mut call| async move {
                let (n,) = bind!(call, n: u32)?;
                Reply::stream(futures_util::stream::iter(0..n))
            }),
        );
    let s = start(app, config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let (status, body) = raw(client().get(s.url("/chat")).send().await.unwrap()).await;
    assert_eq!((status, body.as_str()), (200, r#"{"route":"GET"}"#));
    let (mut ws, _) = connect_async(format!("ws://{}/chat", s.addr))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"n":2}"#.into())).await.unwrap();
    let mut frames = Vec::new();
    while let Some(Ok(Message::Text(t))) = ws.next().await {
        frames.push(serde_json::from_str::<Value>(&t).unwrap());
    }
    assert_eq!(frames, [json!(0), json!(1)]);
    s.stop().await;
}
