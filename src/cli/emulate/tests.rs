//! The emulated control plane, request by request (no sockets).

use serde_json::{json, Value};

use super::control::*;

mod rules {
    use super::*;

    fn plane() -> ControlPlane {
        ControlPlane::new("http://127.0.0.1:1", Vec::new())
    }

    fn call(p: &mut ControlPlane, method: &str, path: &str, body: Value) -> Reply {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        p.handle(method, path, true, &bytes)
    }

    fn queue_gpu() -> Value {
        json!({"name": "a", "type": "QUEUE", "image": "img@sha256:00", "gpu": {"pools": ["ADA_24"]},
               "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}})
    }

    #[test]
    fn dates_are_rfc3339_in_whole_seconds() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-12-07T00:00:00Z".len(), "{now}");
        assert!(humantime::parse_rfc3339(&now).is_ok(), "{now}");
    }

    #[test]
    fn create_get_list_and_delete() {
        let mut p = plane();
        let created = call(&mut p, "POST", "/v2/serverless", queue_gpu());
        assert_eq!(created.status, 201, "{created:?}");
        let id = created.body.as_ref().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let got = call(&mut p, "GET", &format!("/v2/serverless/{id}"), Value::Null);
        assert_eq!(got.body, created.body);
        let listed = call(&mut p, "GET", "/v2/serverless", Value::Null);
        assert_eq!(listed.body.unwrap()["endpoints"][0]["id"], json!(id));
        assert_eq!(
            call(
                &mut p,
                "DELETE",
                &format!("/v2/serverless/{id}"),
                Value::Null
            )
            .status,
            204
        );
        assert_eq!(
            call(&mut p, "GET", &format!("/v2/serverless/{id}"), Value::Null).status,
            404
        );
    }

    #[test]
    fn documented_rules_are_kept() {
        let mut p = plane();
        let mut both = queue_gpu();
        both["cpu"] = json!([{"id": "cpu3c", "vcpuCount": 2}]);
        let mut three = queue_gpu();
        three.as_object_mut().unwrap().remove("gpu");
        three["cpu"] = json!([{"id": "cpu3c", "vcpuCount": 3}]);
        let mut idle = queue_gpu();
        idle["scaling"] = json!({"type": "REQUEST_COUNT", "requestCount": 1});
        idle["workers"] = json!({"idleTimeout": 5});
        let mut lb = queue_gpu();
        lb["type"] = json!("LOAD_BALANCER");
        for bad in [both, three, idle, lb] {
            let r = call(&mut p, "POST", "/v2/serverless", bad.clone());
            assert_eq!(r.status, 400, "{bad} → {r:?}");
            assert_eq!(r.content_type(), "application/problem+json");
        }
        let id = call(&mut p, "POST", "/v2/serverless", queue_gpu())
            .body
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/v2/serverless/{id}");
        for bad in [
            json!({"type": "LOAD_BALANCER"}),
            json!({"cpu": [{"id": "cpu3c", "vcpuCount": 2}]}),
            json!({"gpu": {"excludedTypes": ["NVIDIA L4"]}}),
        ] {
            assert_eq!(
                call(&mut p, "PATCH", &path, bad.clone()).status,
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn container_changes_make_releases_with_diffs_and_scaling_does_not() {
        let mut p = plane();
        let id = call(&mut p, "POST", "/v2/serverless", queue_gpu())
            .body
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/v2/serverless/{id}");
        assert_eq!(
            call(&mut p, "PATCH", &path, json!({"workers": {"max": 5}})).status,
            200
        );
        assert_eq!(
            call(&mut p, "PATCH", &path, json!({"image": "img@sha256:11"})).status,
            200
        );
        let r = call(&mut p, "GET", &format!("{path}/releases"), Value::Null);
        let body = r.body.unwrap();
        assert_eq!(body["endpointVersion"], 2);
        assert_eq!(
            body["releases"][0]["diff"],
            json!([{"field": "image", "old": "img@sha256:00", "new": "img@sha256:11"}])
        );
        assert_eq!(body["releases"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn faults_and_auth() {
        let mut p = ControlPlane::new("http://127.0.0.1:1", vec![429, 500]);
        let r = call(&mut p, "GET", "/v2/serverless", Value::Null);
        assert_eq!(r.status, 429);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "RateLimit" && v.contains("r=0")));
        assert_eq!(
            call(&mut p, "GET", "/v2/serverless", Value::Null).status,
            500
        );
        assert_eq!(
            call(&mut p, "GET", "/v2/serverless", Value::Null).status,
            200
        );
        assert_eq!(p.handle("GET", "/v2/serverless", false, b"").status, 401);
    }

    #[test]
    fn an_invalid_body_is_a_problem_naming_the_field() {
        let mut p = plane();
        let mut body = queue_gpu();
        body["bogus"] = json!(1);
        let r = call(&mut p, "POST", "/v2/serverless", body);
        assert_eq!(r.status, 400);
        let errors = r.body.unwrap()["errors"].to_string();
        assert!(errors.contains("bogus"), "{errors}");
    }
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z_.0-9 ]{0,12}".prop_map(Value::String),
            prop_oneof![
                Just("QUEUE"),
                Just("LOAD_BALANCER"),
                Just("REQUEST_COUNT"),
                Just("QUEUE_DELAY"),
                Just("cpu3c"),
                Just("ADA_24")
            ]
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("name".to_string()),
                        Just("type".to_string()),
                        Just("image".to_string()),
                        Just("gpu".to_string()),
                        Just("cpu".to_string()),
                        Just("pools".to_string()),
                        Just("vcpuCount".to_string()),
                        Just("id".to_string()),
                        Just("workers".to_string()),
                        Just("idleTimeout".to_string()),
                        Just("scaling".to_string()),
                        Just("queueDelay".to_string()),
                        Just("requestCount".to_string()),
                        Just("env".to_string()),
                        Just("minCudaVersion".to_string()),
                        Just("excludedTypes".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any sequence of requests: the emulator answers each, never panics, and every answer
        /// it sends passed the document (a 500 would name the emulator).
        #[test]
        fn any_requests_get_an_answer_and_never_an_emulator_500(
            requests in prop::collection::vec(
                (
                    prop_oneof![Just("GET"), Just("POST"), Just("PATCH"), Just("DELETE"), Just("PUT")],
                    prop_oneof![
                        Just("/v2/serverless".to_string()),
                        Just("/v2/serverless/ep000001".to_string()),
                        Just("/v2/serverless/ep000001/releases".to_string()),
                        Just("/v2/serverless/ep000001/workers".to_string()),
                        "/[a-z0-9/]{0,20}",
                    ],
                    json_value(),
                ),
                1..12,
            ),
            seed in json_value(),
        ) {
            let mut p = ControlPlane::new("http://127.0.0.1:1", Vec::new());
            // A valid endpoint first, so PATCHes have something to change.
            let created = p.handle("POST", "/v2/serverless", true, json!({"name": "a", "type": "QUEUE", "image": "i", "gpu": {"pools": ["ADA_24"]}, "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}}).to_string().as_bytes());
            prop_assert_eq!(created.status, 201);
            let _ = p.handle("PATCH", "/v2/serverless/ep000001", true, seed.to_string().as_bytes());
            for (method, path, body) in requests {
                let reply = p.handle(method, &path, true, body.to_string().as_bytes());
                prop_assert!(reply.status != 500, "{} {} {} → {:?}", method, path, body, reply);
            }
        }
    }

    fn patch() -> impl Strategy<Value = Value> {
        let workers = (
            prop::option::of(0u32..5),
            prop::option::of(0u32..5),
            prop::option::of(1u32..100),
        )
            .prop_map(|(min, max, idle)| {
                let mut w = json!({});
                if let Some(v) = min {
                    w["min"] = json!(v);
                }
                if let Some(v) = max {
                    w["max"] = json!(v);
                }
                if let Some(v) = idle {
                    w["idleTimeout"] = json!(v);
                }
                w
            });
        let scaling = prop_oneof![
            Just(json!({"type": "QUEUE_DELAY", "queueDelay": 2})),
            Just(json!({"type": "REQUEST_COUNT", "requestCount": 3})),
        ];
        let gpu = (
            prop::option::of(prop::sample::subsequence(
                vec!["ADA_24", "AMPERE_24"],
                1..=2,
            )),
            prop::option::of(prop::sample::subsequence(
                vec!["NVIDIA L4", "NVIDIA RTX A5000"],
                0..=2,
            )),
            prop::option::of(1u32..4),
            prop::option::of(prop_oneof![Just(""), Just("12.4")]),
            prop::option::of(prop::sample::subsequence(vec!["12.4", "12.8"], 0..=2)),
        )
            .prop_map(|(pools, excluded, count, floor, set)| {
                let mut g = json!({});
                if let Some(v) = pools {
                    g["pools"] = json!(v);
                }
                if let Some(v) = excluded {
                    g["excludedTypes"] = json!(v);
                }
                if let Some(v) = count {
                    g["count"] = json!(v);
                }
                if let Some(v) = floor {
                    g["minCudaVersion"] = json!(v);
                }
                if let Some(v) = set {
                    g["allowedCudaVersions"] = json!(v);
                }
                g
            });
        (
            prop::option::of(workers),
            prop::option::of(scaling),
            prop::option::of(gpu),
            prop::option::of(prop_oneof![Just("img@sha256:01"), Just("img@sha256:02")]),
            prop::option::of(0u64..1_000_000),
            prop::option::of(prop_oneof![Just("OFF"), Just("FLASHBOOT")]),
        )
            .prop_map(|(w, sc, g, image, timeout, fb)| {
                let mut p = json!({});
                if let Some(v) = w {
                    p["workers"] = v;
                }
                if let Some(v) = sc {
                    p["scaling"] = v;
                }
                if let Some(v) = g {
                    p["gpu"] = v;
                }
                if let Some(v) = image {
                    p["image"] = json!(v);
                }
                if let Some(v) = timeout {
                    p["timeout"] = json!(v);
                }
                if let Some(v) = fb {
                    p["flashboot"] = json!(v);
                }
                p
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Plausible PATCH sequences on a GPU queue endpoint: each is accepted or refused with
        /// a 400, and what GET returns afterwards always passes the document's `Endpoint`.
        #[test]
        fn patches_keep_the_endpoint_valid(patches in prop::collection::vec(patch(), 1..8)) {
            let mut p = ControlPlane::new("http://127.0.0.1:1", Vec::new());
            let created = p.handle("POST", "/v2/serverless", true, json!({"name": "a", "type": "QUEUE", "image": "i", "gpu": {"pools": ["ADA_24", "AMPERE_24"]}, "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}}).to_string().as_bytes());
            prop_assert_eq!(created.status, 201);
            for patch in patches {
                let reply = p.handle("PATCH", "/v2/serverless/ep000001", true, patch.to_string().as_bytes());
                prop_assert!(matches!(reply.status, 200 | 400), "{} → {:?}", patch, reply);
                let got = p.handle("GET", "/v2/serverless/ep000001", true, b"");
                prop_assert_eq!(got.status, 200, "{:?}", got);
                let releases = p.handle("GET", "/v2/serverless/ep000001/releases", true, b"");
                prop_assert_eq!(releases.status, 200, "{:?}", releases);
            }
        }
    }
}
