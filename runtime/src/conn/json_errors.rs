//! Hyper's own error answers (a malformed request, a head too large, a URI too long) with a
//! JSON body, like every other error of a worker.

use std::{
    io,
    pin::Pin,
    task::{ready, Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's transport that gives hyper's automatic error answers a JSON body.
///
/// hyper answers a request it cannot parse itself, with exactly this head and no body:
/// `HTTP/1.1 <400|414|431> <reason>\r\nconnection: close\r\ncontent-length: 0\r\n…\r\n\r\n`,
/// then closes the connection. A write of precisely such a head (nothing a route answers looks
/// like it: routes' errors carry JSON bodies, and hyper puts `connection: close` first only
/// here) is replaced by the same head with `content-type: application/json`, the body's length,
/// and the body. Every other write passes through untouched.
pub struct JsonErrors<T> {
    inner: T,
    /// A replacement being written: the bytes, how many are written, and the length of the
    /// write it replaces (reported as written once the replacement is).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonErrors<T> {
    pub fn new(inner: T) -> Self {
        JsonErrors {
            inner,
            pending: None,
        }
    }
}

/// The JSON answer for hyper's automatic error head `head`, if that is what it is.
fn json_error_answer(head: &[u8]) -> Option<Vec<u8>> {
    const MARK: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\n";
    if head.len() < 16 || !head.starts_with(b"HTTP/1.") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let message = match &head[9..13] {
        b"400 " => "malformed request: the request line or a header is not valid HTTP/1.1",
        b"431 " => "request header too large: the request line and headers exceed 64 KB",
        b"414 " => "request URI too long",
        _ => return None,
    };
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    if !head[line_end..].starts_with(MARK)
        || head.windows(4).position(|w| w == b"\r\n\r\n") != Some(head.len() - 4)
    {
        return None;
    }
    let body = serde_json::to_vec(&serde_json::json!({ "error": message })).ok()?;
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    out.extend_from_slice(&head[..line_end]);
    out.extend_from_slice(
        b"\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ",
    );
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&head[line_end + MARK.len()..]);
    out.extend_from_slice(&body);
    Some(out)
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes the pending replacement; `Ready(Ok(n))` with the replaced write's length once done.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, _)) = &mut self.pending {
            if *written == bytes.len() {
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let replaced = self.pending.take().map_or(0, |(_, _, len)| len);
        Poll::Ready(Ok(replaced))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            // Cheap test first: every response starts with "HTTP/1.1 ", only errors with '4'.
            if buf.len() > 9 && buf[9] == b'4' {
                if let Some(answer) = json_error_answer(buf) {
                    this.pending = Some((answer, 0, buf.len()));
                }
            }
            if this.pending.is_none() {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
        }
        this.poll_pending(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            // hyper's automatic answer is a head alone: one non-empty buffer.
            let mut filled = bufs.iter().filter(|b| !b.is_empty());
            if let (Some(first), None) = (filled.next(), filled.next()) {
                if first.len() > 9 && first[9] == b'4' {
                    if let Some(answer) = json_error_answer(first) {
                        this.pending = Some((answer, 0, first.len()));
                    }
                }
            }
            if this.pending.is_none() {
                return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
            }
        }
        this.poll_pending(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_some() {
            ready!(self.poll_pending(cx))?;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_some() {
            ready!(self.poll_pending(cx))?;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_error_heads_are_rewritten() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 03:29:45 GMT\r\n\r\n";
        let out = String::from_utf8(json_error_answer(head).unwrap()).unwrap();
        let (h, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(h.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: "), "{h}");
        assert!(
            h.ends_with("\r\ndate: Wed, 02 Dec 2026 03:29:45 GMT"),
            "{h}"
        );
        assert!(
            h.contains(&format!("content-length: {}", body.len())),
            "{h}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("header"));
        // A route's own answers are left alone.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(json_error_answer(own).is_none());
        let with_body =
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n{}";
        assert!(json_error_answer(with_body).is_none());
        let other = b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(json_error_answer(other).is_none());
    }
}
