//! Sample-rate conversion to 48 kHz for the AAC → Opus bridge: Opus only takes 8, 12, 16, 24 or
//! 48 kHz, and the bridge always encodes fullband 48 kHz, while encoders commonly send AAC at
//! 44.1 kHz (OBS, ffmpeg defaults) or other rates of the AAC table.
//!
//! A rational polyphase FIR resampler: the output rate is `in_rate · up / down` with `up / down`
//! the ratio reduced by its gcd (44.1 kHz → 48 kHz is 160/147). Output sample `n` is the input
//! signal evaluated at input time `n · down / up` through a Kaiser-windowed sinc kernel; the
//! kernel is centred (no group delay), so output sample 0 is input sample 0's instant and
//! timestamps carry over by plain rescaling. The price is `taps / 2` input samples of look-ahead
//! (under a millisecond at 44.1 kHz), held until more input or [`Resampler::flush`] arrives.
//!
//! Filter: 96 taps per phase (more when decimating, to keep the transition band as narrow in
//! output terms), Kaiser β = 8 (stop band ≈ −80 dB), cut-off placed so that the stop band starts
//! at the lower of the two Nyquist frequencies: for 44.1 kHz input the pass band reaches ≈ 19.7 kHz,
//! above what AAC encoders keep at streaming bitrates.

/// The rate every [`Resampler`] produces: Opus's native rate.
pub const OUTPUT_RATE: u32 = 48_000;

/// Taps per polyphase branch when interpolating (input rate ≤ output rate).
const BASE_TAPS: usize = 96;
/// Kaiser window shape: β = 8 gives ≈ 80 dB of side-lobe attenuation.
const KAISER_BETA: f64 = 8.0;
/// Transition width of a Kaiser-windowed sinc of `N` taps, in cycles per input sample:
/// Δf ≈ (A − 8) / (2.285 · 2π · N) with A ≈ 80 dB for β = 8.
const KAISER_TRANSITION_NUMERATOR: f64 = (80.0 - 8.0) / (2.285 * 2.0 * std::f64::consts::PI);
/// More phases than this means an odd input rate (e.g. an explicit 24-bit AAC frequency) whose
/// filter table would be too large to keep per stream.
const MAX_PHASES: usize = 1024;
/// Drop consumed input from the history once this many samples are behind the filter.
const COMPACT_AFTER: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResampleError {
    #[error("sample rate {0} Hz not supported")]
    UnsupportedRate(u32),
    #[error("{0} channels not supported")]
    UnsupportedChannels(usize),
}

/// Streaming resampler from `in_rate` to [`OUTPUT_RATE`], planar `f32`, 1 or 2 channels.
///
/// Push/pull contract: [`Resampler::process`] takes any number of input frames (one slice per
/// channel, equal lengths) and appends every output frame that the input so far determines;
/// [`Resampler::flush`] treats the input as ended (silence after it) and appends the rest, so
/// that over a whole stream `ceil(n_in · up / down)` frames come out. After a flush the resampler
/// starts over as new.
#[derive(Debug, Clone)]
pub struct Resampler {
    in_rate: u32,
    up: usize,
    down: usize,
    taps: usize,
    /// `up` branches of `taps` coefficients each, branch-major.
    coeffs: Vec<f32>,
    /// Per channel: input samples from `history[c][0]` on. Starts with `taps / 2 − 1` zeros
    /// standing for the silence before the first input sample.
    history: Vec<Vec<f32>>,
    /// Index into `history` of the input sample at or just before the next output instant.
    pos: usize,
    /// Fractional part of the next output instant, in 1/`up` of an input sample.
    phase: usize,
    /// Real (not zero-padding) input samples held in `history`, counted from its start.
    real_len: usize,
}

impl Resampler {
    /// A resampler from `in_rate` Hz (7.35 to 96 kHz, the AAC table's range) to
    /// [`OUTPUT_RATE`] for `channels` (1 or 2).
    pub fn new(in_rate: u32, channels: usize) -> Result<Self, ResampleError> {
        if !(1..=2).contains(&channels) {
            return Err(ResampleError::UnsupportedChannels(channels));
        }
        if !(7_350..=96_000).contains(&in_rate) {
            return Err(ResampleError::UnsupportedRate(in_rate));
        }
        let g = gcd(in_rate as usize, OUTPUT_RATE as usize);
        let up = OUTPUT_RATE as usize / g;
        let down = in_rate as usize / g;
        if up > MAX_PHASES {
            return Err(ResampleError::UnsupportedRate(in_rate));
        }
        let (taps, coeffs) = if up == down { (0, Vec::new()) } else { design(up, down) };
        let mut r = Self {
            in_rate,
            up,
            down,
            taps,
            coeffs,
            history: vec![Vec::new(); channels],
            pos: 0,
            phase: 0,
            real_len: 0,
        };
        r.reset();
        Ok(r)
    }

    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    pub fn channels(&self) -> usize {
        self.history.len()
    }

    /// True when the input is already at [`OUTPUT_RATE`] and samples pass through untouched.
    pub fn is_passthrough(&self) -> bool {
        self.up == self.down
    }

    /// Forgets all input: the next sample is the start of a new signal.
    pub fn reset(&mut self) {
        let lead = (self.taps / 2).saturating_sub(1);
        for h in &mut self.history {
            h.clear();
            h.resize(lead, 0.0);
        }
        self.pos = lead;
        self.phase = 0;
        self.real_len = lead;
    }

    /// Appends `input` (one slice per channel; the shortest length counts) and pushes every
    /// output frame now computable onto `output` (one `Vec` per channel).
    pub fn process(&mut self, input: &[&[f32]], output: &mut [Vec<f32>]) {
        let frames = input.iter().map(|c| c.len()).min().unwrap_or(0);
        for (c, h) in self.history.iter_mut().enumerate() {
            // A missing channel slice counts as silence rather than a panic.
            match input.get(c) {
                Some(samples) => h.extend_from_slice(&samples[..frames]),
                None => h.resize(h.len() + frames, 0.0),
            }
        }
        self.real_len += frames;
        self.run(output, self.real_len);
    }

    /// Ends the signal: emits the output frames whose instants fall before the end of the input,
    /// treating what follows as silence, then resets.
    pub fn flush(&mut self, output: &mut [Vec<f32>]) {
        let end = self.real_len;
        let half = self.taps / 2;
        for h in &mut self.history {
            h.resize(h.len() + half + 1, 0.0);
        }
        self.run(output, end);
        self.reset();
    }

    /// Produces outputs while the kernel's input window lies inside `history` and the output
    /// instant lies before `end` (an index into `history`).
    fn run(&mut self, output: &mut [Vec<f32>], end: usize) {
        let len = self.history.first().map_or(0, Vec::len);
        if self.is_passthrough() {
            for (h, out) in self.history.iter_mut().zip(output.iter_mut()) {
                out.extend_from_slice(&h[self.pos..end]);
                h.clear();
            }
            self.pos = 0;
            self.real_len = 0;
            return;
        }
        let half = self.taps / 2;
        // Output at instant `pos + phase/up` needs history[pos + 1 − half ..= pos + half].
        while self.pos + half < len && self.pos < end {
            let start = self.pos + 1 - half;
            let branch = &self.coeffs[self.phase * self.taps..(self.phase + 1) * self.taps];
            for (h, out) in self.history.iter().zip(output.iter_mut()) {
                out.push(dot(branch, &h[start..start + self.taps]));
            }
            self.phase += self.down;
            self.pos += self.phase / self.up;
            self.phase %= self.up;
        }
        // Keep only what the next outputs can still reach.
        let first_needed = (self.pos + 1).saturating_sub(half);
        if first_needed > COMPACT_AFTER {
            for h in &mut self.history {
                h.drain(..first_needed);
            }
            self.pos -= first_needed;
            self.real_len -= first_needed;
        }
    }
}

/// Dot product with eight independent accumulators, so the compiler can vectorise it (a single
/// running sum must keep its order and cannot be).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut acc = [0f32; 8];
    for (x, y) in a8.iter().zip(b8) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Builds the polyphase table: branch `p`, tap `j` is the kernel at distance
/// `p/up + taps/2 − 1 − j` input samples, each branch normalised to unit DC gain.
fn design(up: usize, down: usize) -> (usize, Vec<f32>) {
    // Decimating: the kernel must cut at the output Nyquist, so it is `down/up` times wider in
    // input samples for the same transition band in output terms.
    let ratio = (up as f64 / down as f64).min(1.0);
    let taps = (((BASE_TAPS as f64) / ratio / 2.0).ceil() as usize) * 2;
    let half = (taps / 2) as f64;
    let transition = KAISER_TRANSITION_NUMERATOR / taps as f64; // cycles per input sample
    // −6 dB point half a transition below the lower Nyquist, so the stop band starts at it.
    let cutoff = 0.5 * ratio - transition / 2.0;
    let i0_beta = bessel_i0(KAISER_BETA);
    let mut coeffs = Vec::with_capacity(up * taps);
    for p in 0..up {
        let start = coeffs.len();
        for j in 0..taps {
            let x = p as f64 / up as f64 + half - 1.0 - j as f64;
            let w = (1.0 - (x / half).powi(2)).max(0.0).sqrt();
            let window = bessel_i0(KAISER_BETA * w) / i0_beta;
            coeffs.push(2.0 * cutoff * sinc(2.0 * cutoff * x) * window);
        }
        let sum: f64 = coeffs[start..].iter().sum();
        for c in &mut coeffs[start..] {
            *c /= sum;
        }
    }
    (taps, coeffs.into_iter().map(|c| c as f32).collect())
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Modified Bessel function of the first kind, order 0, by its power series (converges fast
/// for the arguments a Kaiser window uses, ≤ β).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n).map(|i| (2.0 * PI * freq * i as f64 / rate as f64).sin() as f32 * 0.5).collect()
    }

    /// Resamples a whole signal in one go (with flush).
    fn resample(rate: u32, input: &[f32]) -> Vec<f32> {
        let mut r = Resampler::new(rate, 1).expect("supported rate");
        let mut out = vec![Vec::new()];
        r.process(&[input], &mut out);
        r.flush(&mut out);
        out.pop().expect("one channel")
    }

    /// RMS of (output − the ideal sine at the output instants) relative to the sine's RMS, in
    /// dB, over the middle of the signal (the edges see the silence before and after).
    fn error_db(freq: f64, out: &[f32]) -> f64 {
        let ideal = sine(freq, OUTPUT_RATE, out.len());
        let (a, b) = (out.len() / 8, out.len() * 7 / 8);
        let err: f64 = (a..b).map(|i| f64::from(out[i] - ideal[i]).powi(2)).sum();
        let sig: f64 = (a..b).map(|i| f64::from(ideal[i]).powi(2)).sum();
        10.0 * (err / sig).log10()
    }

    #[test]
    fn ratios_reduce_by_gcd() {
        let r = Resampler::new(44_100, 2).expect("44.1 kHz");
        assert_eq!((r.up, r.down), (160, 147));
        let r = Resampler::new(32_000, 1).expect("32 kHz");
        assert_eq!((r.up, r.down), (3, 2));
        let r = Resampler::new(96_000, 1).expect("96 kHz");
        assert_eq!((r.up, r.down), (1, 2));
        assert!(Resampler::new(48_000, 2).expect("48 kHz").is_passthrough());
        for rate in [7350, 8000, 11025, 12000, 16000, 22050, 24000, 64000, 88200] {
            assert!(Resampler::new(rate, 2).is_ok(), "{rate}");
        }
        assert_eq!(Resampler::new(4_000, 1).err(), Some(ResampleError::UnsupportedRate(4_000)));
        assert_eq!(Resampler::new(47_999, 1).err(), Some(ResampleError::UnsupportedRate(47_999)));
        assert_eq!(Resampler::new(48_000, 3).err(), Some(ResampleError::UnsupportedChannels(3)));
    }

    #[test]
    fn sines_at_44k1_come_out_as_the_same_sines_at_48k_without_delay() {
        // The output must equal the ideal sine sampled at 48 kHz: right pitch, no time shift,
        // flat gain, images of the 44.1 kHz spectrum removed.
        for (freq, max_db) in
            [(440.0, -70.0), (1000.0, -70.0), (10_000.0, -70.0), (18_000.0, -60.0)]
        {
            let out = resample(44_100, &sine(freq, 44_100, 44_100));
            let db = error_db(freq, &out);
            assert!(db < max_db, "{freq} Hz: error {db:.1} dB");
        }
    }

    #[test]
    fn other_rates_of_the_aac_table_convert_accurately() {
        for (rate, freq) in [(32_000, 1000.0), (22_050, 3000.0), (96_000, 5000.0), (88_200, 1000.0)]
        {
            let out = resample(rate, &sine(freq, rate, rate as usize));
            assert_eq!(out.len(), 48_000, "{rate}");
            let db = error_db(freq, &out);
            assert!(db < -70.0, "{rate} Hz, {freq} Hz tone: error {db:.1} dB");
        }
    }

    #[test]
    fn decimation_removes_what_48k_cannot_hold() {
        // A 30 kHz tone at 96 kHz is above the 24 kHz output Nyquist: it must vanish, not alias
        // to 18 kHz.
        let input = sine(30_000.0, 96_000, 96_000);
        let out = resample(96_000, &input);
        let mid = &out[6_000..42_000];
        let rms =
            (mid.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        let db = 20.0 * (rms / (0.5 / 2f64.sqrt())).log10();
        assert!(db < -70.0, "alias at {db:.1} dB");
    }

    #[test]
    fn chunked_input_gives_the_same_output_as_one_block() {
        let input = sine(997.0, 44_100, 20_000);
        let whole = resample(44_100, &input);
        let mut r = Resampler::new(44_100, 1).expect("44.1 kHz");
        let mut out = vec![Vec::new()];
        let mut rest = &input[..];
        let mut step = 1;
        while !rest.is_empty() {
            let n = step.min(rest.len());
            r.process(&[&rest[..n]], &mut out);
            rest = &rest[n..];
            step = step * 3 % 2_000 + 1;
        }
        r.flush(&mut out);
        assert_eq!(out[0], whole);
    }

    #[test]
    fn output_length_is_input_length_times_the_ratio() {
        for (rate, n) in
            [(44_100u32, 1024usize), (44_100, 5000), (32_000, 1), (96_000, 999), (48_000, 777)]
        {
            let out = resample(rate, &vec![0.25; n]);
            let want = (n * 48_000).div_ceil(rate as usize);
            assert_eq!(out.len(), want, "{rate} Hz, {n} samples");
        }
    }

    #[test]
    fn history_stays_bounded_over_a_long_stream() {
        let mut r = Resampler::new(44_100, 2).expect("44.1 kHz");
        let block = sine(440.0, 44_100, 1024);
        let mut out = vec![Vec::new(), Vec::new()];
        for _ in 0..2_000 {
            r.process(&[&block, &block], &mut out);
            out[0].clear();
            out[1].clear();
        }
        assert!(r.history[0].len() < COMPACT_AFTER + 2 * 1024 + r.taps, "{}", r.history[0].len());
    }

    #[test]
    fn stereo_channels_stay_separate() {
        let l = sine(440.0, 44_100, 8_000);
        let silent = vec![0.0; 8_000];
        let mut r = Resampler::new(44_100, 2).expect("44.1 kHz");
        let mut out = vec![Vec::new(), Vec::new()];
        r.process(&[&l, &silent], &mut out);
        r.flush(&mut out);
        assert!(out[0].iter().any(|s| s.abs() > 0.4));
        assert!(out[1].iter().all(|s| *s == 0.0));
    }
}
