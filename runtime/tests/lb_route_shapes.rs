//! Routes are registered by shape (the route contract): routes whose paths differ only in
//! their parameters' names share one router entry, and each binds its own names. Plain axum
//! refuses `GET /users/{id}` beside `POST /users/{user_id}` at start.

mod lb_common;

use std::time::Duration;

use flash_runtime::{
    bind,
    handler::{handler, Reply},
    lb::{self, App},
    shutdown::Shutdown,
};
use futures_util::{SinkExt, StreamExt};
use lb_common::{client, config, start, wait_status};
use serde_json::{json, Value};
use tokio_tungstenite::{connect_async, tungstenite::Message};

fn app() -> App<()> {
    App::stateless()
        .get(
            "/users/{id}",
            handler(|_, mut call| async move {
                let (id,) = bind!(call, path id: u64)?;
                Reply::json(json!({ "route": "get", "id": id }))
            }),
        )
        .post(
            "/users/{user_id}",
            handler(|_, mut call| async move {
                let (user_id, name) = bind!(call, path user_id: u64, name: String)?;
                Reply::json(json!({ "route": "post", "user_id": user_id, "name": name }))
            }),
        )
        .websocket(
            "/users/{uid}",
            handler(|_, mut call| async move {
                let (uid, n) = bind!(call, path uid: u64, n: u32)?;
                Reply::stream(futures_util::stream::iter((0..n).map(move |i| (uid, i))))
            }),
        )
        // A deeper route under the same prefix names the prefix's parameter differently too.
        .get(
            "/users/{owner}/posts/{post}",
            handler(|_, mut call| async move {
                let (owner, post) = bind!(call, path owner: u64, path post: String)?;
                Reply::json(json!({ "owner": owner, "post": post }))
            }),
        )
}

#[tokio::test]
async fn routes_of_one_shape_each_bind_their_own_parameter_names() {
    let s = start(app(), config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;

    let res = client().get(s.url("/users/7")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"route": "get", "id": 7})
    );

    let res = client()
        .post(s.url("/users/8"))
        .header("content-type", "application/json")
        .body(r#"{"name": "Ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"route": "post", "user_id": 8, "name": "Ada"})
    );

    let res = client()
        .get(s.url("/users/3/posts/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"owner": 3, "post": "hello"})
    );

    // A bad value is reported under the route's own name.
    let res = client().get(s.url("/users/x")).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"], json!(["path", "id"]));

    // The WebSocket route on the same shape binds `uid` from the path.
    let (mut ws, _) = connect_async(format!("ws://{}/users/5", s.addr))
        .await
        .expect("WebSocket handshake");
    ws.send(Message::Text(r#"{"n": 2}"#.into())).await.unwrap();
    let mut frames = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match msg {
            Message::Text(t) => frames.push(serde_json::from_str::<Value>(&t).unwrap()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(frames, [json!([5, 0]), json!([5, 1])]);

    // The other methods of the shape are 405, with every method of the shape allowed.
    let res = client().delete(s.url("/users/7")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let allow = res.headers()["allow"].to_str().unwrap().to_string();
    for method in ["GET", "POST", "HEAD"] {
        assert!(allow.contains(method), "{allow}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_path_the_contract_refuses_is_an_error_at_start_not_a_panic() {
    let cfg = config(&[]);
    let listeners = lb::bind(&cfg).await.unwrap();
    let app = App::stateless().get(
        "/files/*rest",
        handler(|_, _| async { Reply::json(json!({})) }),
    );
    let err = lb::serve(app, &cfg, listeners, Shutdown::new())
        .await
        .expect_err("a wildcard segment is refused");
    assert!(err.to_string().contains("starts with `*`"), "{err}");
}

#[tokio::test]
async fn a_raw_identifier_binds_by_its_plain_name() {
    let app = App::stateless()
        .get(
            "/items/{type}",
            handler(|_, mut call| async move {
                let (r#type,) = bind!(call, path r#type: String)?;
                Reply::json(json!({ "type": r#type }))
            }),
        )
        .post(
            "/items",
            handler(|_, mut call| async move {
                let (r#type, r#ref) = bind!(call, r#type: String, r#ref: Option<String>)?;
                Reply::json(json!({ "type": r#type, "ref": r#ref }))
            }),
        );
    let s = start(app, config(&[])).await;
    wait_status(&s.url("/ping"), 200).await;
    let res = client().get(s.url("/items/book")).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"type": "book"}));
    let res = client()
        .post(s.url("/items"))
        .header("content-type", "application/json")
        .body(r#"{"type": "pen", "ref": "x1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"type": "pen", "ref": "x1"})
    );
    // A missing one is reported under the name the request uses.
    let res = client()
        .post(s.url("/items"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"], json!(["body", "type"]));
    s.stop().await;
}
