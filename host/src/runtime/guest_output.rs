//! What a guest wrote to its standard error during one call, kept so that a
//! crash can say why: Rust's panic hook prints the message and location
//! there, componentize-py the Python traceback, StarlingMonkey the
//! JavaScript exception and stack.
//!
//! Stderr is the only stream the deny-all WASI context connects, and only to
//! this buffer: nothing reaches the host's own stderr or any file. The buffer
//! keeps the last [`TAIL_BYTES`] (where a crash report ends) and silently
//! drops what came before, so a chatty guest can neither fail nor grow the
//! host's memory by writing.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Bytes kept of a call's stderr.
pub(super) const TAIL_BYTES: usize = 4096;

/// The shared tail of one call's stderr (cheap to clone: every stream the
/// guest opens writes to the same buffer).
#[derive(Clone, Default)]
pub(super) struct GuestOutput(Arc<Mutex<Tail>>);

#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    dropped: bool,
}

impl GuestOutput {
    /// What the guest wrote, lossily decoded, trimmed; `None` when nothing.
    pub(super) fn text(&self) -> Option<String> {
        let tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&tail.bytes);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        // A cut may fall inside a character (shown as U+FFFD) or a line:
        // start at the first whole line.
        Some(match tail.dropped {
            true => format!("…{}", text.split_once('\n').map_or(text, |(_, rest)| rest)),
            false => text.to_owned(),
        })
    }

    fn append(&self, buf: &[u8]) {
        let mut tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let buf = &buf[buf.len().saturating_sub(TAIL_BYTES)..];
        let over = (tail.bytes.len() + buf.len()).saturating_sub(TAIL_BYTES);
        if over > 0 {
            tail.bytes.drain(..over);
            tail.dropped = true;
        }
        tail.bytes.extend_from_slice(buf);
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_from_a_whole_line() {
        let out = GuestOutput::default();
        assert_eq!(out.text(), None);
        out.append(b"  \n");
        assert_eq!(out.text(), None, "blank output is no output");
        out.append(b"first\n");
        out.append(b"second\n");
        assert_eq!(out.text().as_deref(), Some("first\nsecond"));
        for n in 0..1000 {
            out.append(format!("line {n}\n").as_bytes());
        }
        let text = out.text().unwrap();
        assert!(text.len() <= TAIL_BYTES + 3, "{}", text.len());
        assert!(text.starts_with("…line "), "{}", &text[..20]);
        assert!(text.ends_with("line 999"));
        out.append(&vec![b'x'; 3 * TAIL_BYTES]);
        assert!(out.text().unwrap().len() <= TAIL_BYTES + 3);
    }
}
