//! The part of verify that talks to the endpoints themselves: each load-balanced endpoint's
//! `/ping` (200) and each queue endpoint's `/health` (200), then the smoke requests flash.yaml
//! declares for it, at the `requestUrls` the API answered.

use flashc::model::SmokeRequest;
use serde_json::{json, Value};

use super::api::Client;

/// Calls the endpoint; `Err` says what answered wrongly, and where.
pub fn probe(client: &Client, urls: &Value, smoke: &[SmokeRequest]) -> Result<(), String> {
    if let Some(base) = urls["base"].as_str() {
        let ping = format!("{}/ping", base.trim_end_matches('/'));
        expect_200(client, &ping)?;
        for (n, s) in smoke.iter().enumerate() {
            let Some((method, path)) = s.request.as_deref().and_then(|r| r.split_once(' ')) else {
                return Err(format!(
                    "smoke request {}: a load-balanced endpoint's smoke request needs `request: \"METHOD /path\"`",
                    n + 1
                ));
            };
            let url = format!("{}{path}", base.trim_end_matches('/'));
            let answer = client.endpoint_call(method, &url, s.body.as_ref())?;
            check(n, &format!("{method} {path}"), s, answer)?;
        }
    } else if let Some(health) = urls["health"].as_str() {
        expect_200(client, health)?;
        for (n, s) in smoke.iter().enumerate() {
            let (Some(input), Some(runsync)) = (&s.input, urls["runSync"].as_str()) else {
                return Err(format!(
                    "smoke request {}: a queue endpoint's smoke request needs `input`",
                    n + 1
                ));
            };
            let answer = client.endpoint_call("POST", runsync, Some(&json!({ "input": input })))?;
            check(n, "POST /runsync", s, answer)?;
        }
    }
    Ok(())
}

fn expect_200(client: &Client, url: &str) -> Result<(), String> {
    match client.endpoint_call("GET", url, None)? {
        (200, _) => Ok(()),
        (status, body) => Err(format!("GET {url} answered {status}: {}", short(&body))),
    }
}

fn check(
    n: usize,
    what: &str,
    s: &SmokeRequest,
    (status, body): (u16, Value),
) -> Result<(), String> {
    let wanted = s.status.unwrap_or(200);
    if status != wanted {
        return Err(format!(
            "smoke request {} ({what}): status {status}, expected {wanted}: {}",
            n + 1,
            short(&body)
        ));
    }
    if let Some(expect) = &s.expect {
        if let Some(at) = mismatch(expect, &body, "$") {
            return Err(format!(
                "smoke request {} ({what}): the answer differs at {at}: {}",
                n + 1,
                short(&body)
            ));
        }
    }
    Ok(())
}

/// Where `actual` does not contain `expected` (objects key by key, recursively; anything else
/// equal), as a JSON path.
pub fn mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            want.iter().find_map(|(k, v)| match got.get(k) {
                Some(g) => mismatch(v, g, &format!("{at}.{k}")),
                None => Some(format!("{at}.{k} (missing)")),
            })
        }
        _ if expected == actual => None,
        _ => Some(at.to_string()),
    }
}

/// An answer, cut for a message.
fn short(body: &Value) -> String {
    let text = body.to_string();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_contains_what_is_expected() {
        let got =
            json!({"status": "COMPLETED", "output": {"words": 3, "text": "a b c"}, "id": "j"});
        assert_eq!(mismatch(&json!({"output": {"words": 3}}), &got, "$"), None);
        assert_eq!(
            mismatch(&json!({"output": {"words": 4}}), &got, "$").as_deref(),
            Some("$.output.words")
        );
        assert_eq!(
            mismatch(&json!({"error": null}), &got, "$").as_deref(),
            Some("$.error (missing)")
        );
        assert_eq!(
            mismatch(&json!([1, 2]), &json!([1, 2, 3]), "$").as_deref(),
            Some("$")
        );
    }
}
