//! `flashc lsp`'s stdio transport. `lsp-server`'s own stops reading at the first frame it
//! cannot parse, and the server with it; an editor (or anything else on the other end) that
//! sends one malformed message would lose its language server. This reader answers such a
//! message as JSON-RPC says — `-32700` for a body that is not JSON (or a frame without a usable
//! `Content-Length`), `-32600` for JSON that is not a request, response or notification — and
//! reads on. Messages go to the server loop as `lsp-server` messages, so the loop is the same.

use std::io::{self, BufRead, Read, Write};

use lsp_server::{Connection, Message};
use serde_json::{json, Value};

/// The largest body read. A flash.yaml is at most 8 MiB (the loader's limit); JSON escaping
/// and an editor's overhead stay well inside this.
const MAX_BODY: usize = 64 << 20;
/// The longest header line kept; a longer one is read to its end and ignored.
const MAX_HEADER_LINE: usize = 8 << 10;

const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;

/// The connection over stdin and stdout, and the writer thread to join once the connection is
/// dropped (the reader thread ends with stdin; nothing waits for it).
pub fn stdio() -> (Connection, std::thread::JoinHandle<()>) {
    // Two connected ends (lsp-server's channels): the server's, and ours, which stdin feeds
    // and stdout drains.
    let (server, ours) = Connection::memory();
    let Connection {
        sender: to_server,
        receiver: from_server,
    } = ours;
    std::thread::spawn(move || {
        let mut input = io::BufReader::new(io::stdin().lock());
        loop {
            match read_frame(&mut input) {
                Ok(Frame::Message(message)) => {
                    if to_server.send(message).is_err() {
                        return;
                    }
                }
                Ok(Frame::Invalid(answer)) => {
                    let text = answer.to_string();
                    let mut out = io::stdout().lock();
                    let _ = write!(out, "Content-Length: {}\r\n\r\n{text}", text.len());
                    let _ = out.flush();
                }
                Ok(Frame::End) | Err(_) => return,
            }
        }
    });
    let writer = std::thread::spawn(move || {
        for message in from_server {
            // One lock per message: the reader's answers never land inside one.
            if message.write(&mut io::stdout().lock()).is_err() {
                return;
            }
        }
    });
    (server, writer)
}

enum Frame {
    Message(Message),
    /// The error answer to a frame that is not a message.
    Invalid(Value),
    End,
}

fn error(id: Value, code: i32, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// One header line without its line ending (`\r\n`, or a lone `\n`); `None` at the end of input.
fn read_header_line(input: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = input
        .by_ref()
        .take(MAX_HEADER_LINE as u64)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && read == MAX_HEADER_LINE {
        // Too long: skip to the end of the line, keep nothing of it.
        let mut rest = Vec::new();
        loop {
            rest.clear();
            let n = input
                .by_ref()
                .take(MAX_HEADER_LINE as u64)
                .read_until(b'\n', &mut rest)?;
            if n == 0 || rest.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(Some("x-flashc-overlong: header".into()));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn read_frame(input: &mut impl BufRead) -> io::Result<Frame> {
    let mut length: Option<Result<usize, String>> = None;
    let mut headers = 0;
    loop {
        let Some(line) = read_header_line(input)? else {
            return Ok(Frame::End);
        };
        if line.is_empty() {
            if headers == 0 {
                continue;
            }
            break;
        }
        headers += 1;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                let value = value.trim();
                length = Some(
                    value
                        .parse()
                        .map_err(|_| format!("Content-Length `{value}` is not a length")),
                );
            }
        }
    }
    let length = match length {
        None => {
            return Ok(Frame::Invalid(error(
                Value::Null,
                PARSE_ERROR,
                "a message without a Content-Length header".into(),
            )))
        }
        Some(Err(message)) => {
            return Ok(Frame::Invalid(error(Value::Null, PARSE_ERROR, message)));
        }
        Some(Ok(n)) => n,
    };
    if length > MAX_BODY {
        io::copy(&mut input.by_ref().take(length as u64), &mut io::sink())?;
        return Ok(Frame::Invalid(error(
            Value::Null,
            INVALID_REQUEST,
            format!("a message of {length} bytes; flashc lsp reads at most {MAX_BODY}"),
        )));
    }
    let mut body = vec![0; length];
    if input.read_exact(&mut body).is_err() {
        return Ok(Frame::End);
    }
    Ok(parse_body(&body))
}

fn parse_body(body: &[u8]) -> Frame {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Frame::Invalid(error(
                Value::Null,
                PARSE_ERROR,
                format!("the message is not JSON: {e}"),
            ))
        }
    };
    if !value.is_object() {
        return Frame::Invalid(error(
            Value::Null,
            INVALID_REQUEST,
            "a message is a JSON object (batches are not supported)".into(),
        ));
    }
    let id = value
        .get("id")
        .filter(|id| id.is_number() || id.is_string())
        .cloned()
        .unwrap_or(Value::Null);
    // A request whose id lsp-server cannot hold (an object, a number past 32 bits) would read
    // as a notification and never be answered: it is refused instead.
    let has_id = value.get("id").is_some_and(|id| !id.is_null());
    match serde_json::from_value::<Message>(value) {
        Ok(Message::Notification(_)) if has_id => Frame::Invalid(error(
            id,
            INVALID_REQUEST,
            "a request's id is a 32-bit integer or a string".into(),
        )),
        Ok(message) => Frame::Message(message),
        Err(e) => Frame::Invalid(error(
            id,
            INVALID_REQUEST,
            format!("not a JSON-RPC request, response or notification (ids are 32-bit integers or strings): {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str) -> Vec<Frame> {
        let mut reader = io::BufReader::new(input.as_bytes());
        let mut out = Vec::new();
        loop {
            match read_frame(&mut reader).unwrap() {
                Frame::End => return out,
                frame => out.push(frame),
            }
        }
    }

    fn code(frame: &Frame) -> Option<i64> {
        match frame {
            Frame::Invalid(v) => v["error"]["code"].as_i64(),
            _ => None,
        }
    }

    #[test]
    fn malformed_frames_are_answered_and_reading_goes_on() {
        let ok = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let no_method = r#"{"jsonrpc":"2.0","id":7}"#;
        let input = format!(
            "Content-Length: 1\r\n\r\n{{Content-Length: x\r\n\r\nContent-Length: 5\r\n\r\n[1,2]Content-Length: {}\r\n\r\n{no_method}Content-Length: {}\n\n{ok}",
            no_method.len(),
            ok.len()
        );
        let found = frames(&input);
        let codes: Vec<_> = found.iter().map(code).collect();
        assert_eq!(
            codes,
            [Some(-32700), Some(-32700), Some(-32600), Some(-32600), None]
        );
        let Frame::Invalid(answer) = &found[3] else {
            unreachable!()
        };
        assert_eq!(answer["id"], 7);
        assert!(matches!(&found[4], Frame::Message(Message::Request(r)) if r.method == "shutdown"));
    }
}
