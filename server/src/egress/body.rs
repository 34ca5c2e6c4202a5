//! Response bodies: a chain of shared `Bytes` (a segment is its parts, never copied).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

#[derive(Debug, Default)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl Chunks {
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|b| !b.is_empty()).collect();
        let remaining = chunks.iter().map(|b| b.len() as u64).sum();
        Self { chunks, remaining }
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
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.chunks.pop_front() {
            Some(b) => {
                self.remaining -= b.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
