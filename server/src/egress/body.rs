//! Response bodies: a chain of shared `Bytes` (a segment is its parts, never copied),
//! optionally followed by a live tail: parts still to be produced, sent as they arrive (the
//! length is then unknown, so HTTP/1.1 answers chunked and HTTP/2 streams DATA frames).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Frame, SizeHint};

/// What a live tail yields: the next chunk, until it ends.
pub type LiveTail = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

#[derive(Default)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    remaining: u64,
    live: Option<LiveTail>,
}

impl fmt::Debug for Chunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunks")
            .field("chunks", &self.chunks.len())
            .field("remaining", &self.remaining)
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl Chunks {
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|b| !b.is_empty()).collect();
        let remaining = chunks.iter().map(|b| b.len() as u64).sum();
        Self { chunks, remaining, live: None }
    }

    /// These chunks, then whatever `tail` yields until it ends.
    pub fn with_live_tail(mut self, tail: LiveTail) -> Self {
        self.live = Some(tail);
        self
    }

    pub fn empty() -> Self {
        Self::default()
    }
}

impl From<Bytes> for Chunks {
    fn from(b: Bytes) -> Self {
        Self::new([b])
    }
}

impl From<&'static str> for Chunks {
    fn from(s: &'static str) -> Self {
        Self::new([Bytes::from_static(s.as_bytes())])
    }
}

impl From<String> for Chunks {
    fn from(s: String) -> Self {
        Self::new([Bytes::from(s)])
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(b) = self.chunks.pop_front() {
            self.remaining -= b.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        let Some(live) = self.live.as_mut() else { return Poll::Ready(None) };
        match live.as_mut().poll_next(cx) {
            Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(None) => {
                self.live = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.live.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.live {
            Some(_) => {
                let mut h = SizeHint::new();
                h.set_lower(self.remaining);
                h
            }
            None => SizeHint::with_exact(self.remaining),
        }
    }
}
