//! The deterministic randomness of the never-panic tests: a seeded xorshift64* generator and
//! the byte mutations built on it, so a failing case replays exactly.

/// xorshift64*: deterministic, no dependencies.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Truncates `base`, flips a few bits in it (anywhere, or in the first `header_span` bytes
    /// where the headers are), or replaces it with fewer than `max_random` random bytes.
    pub fn mutate(&mut self, base: &[u8], header_span: usize, max_random: usize) -> Vec<u8> {
        let mut b = base.to_vec();
        match self.below(4) {
            0 => b.truncate(self.below(b.len() + 1)),
            1 | 2 => {
                let span = if self.below(2) == 0 { b.len() } else { b.len().min(header_span) };
                for _ in 0..=self.below(4) {
                    if span > 0 {
                        let at = self.below(span);
                        b[at] ^= 1 << self.below(8);
                    }
                }
            }
            _ => {
                let n = self.below(max_random);
                b = self.bytes(n);
            }
        }
        b
    }
}
