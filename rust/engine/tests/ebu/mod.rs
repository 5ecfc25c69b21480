//! EBU Tech 3341 / 3342 test signals synthesised from their definitions, and a plain,
//! direct ITU-R BS.1770-4 reference (whole-signal, full-precision gating, sample-accurate
//! windows) that the streaming meter is checked against.
//!
//! Definitions and expected values: `shared/references/ebu_expected.json` and
//! `dsp-references.md` section 12 (3341 Table 1, 3342 Table 1). Where the texts say
//! "silence" the official v05 files carry a -90 dBFS 1 kHz tone, and so do these signals
//! (20 dB under the absolute gate: no expected value changes).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use mixrender_engine::math;

/// Level the official files put where the texts say "silence", dBFS.
pub const SILENCE_DB: f64 = -90.0;

/// `ms` milliseconds in frames; every EBU duration is a whole number of frames at 44.1 and
/// 48 kHz (they are multiples of 10 ms).
pub fn frames(ms: u64, fs: u32) -> usize {
    let n = ms * u64::from(fs);
    assert_eq!(
        n % 1000,
        0,
        "{ms} ms at {fs} Hz is not a whole number of frames"
    );
    usize::try_from(n / 1000).unwrap()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `sin(2 pi f n / fs)` over one exact period of the sequence (`fs / gcd(fs, f)` samples),
/// with the phase reduced in integers so that every sample is correctly rounded.
pub fn sine_period(freq_hz: u64, fs: u32) -> Vec<f64> {
    let fs = u64::from(fs);
    let period = fs / gcd(fs, freq_hz);
    (0..period)
        .map(|k| math::sin(2.0 * std::f64::consts::PI * ((k * freq_hz) % fs) as f64 / fs as f64))
        .collect()
}

/// A 1 kHz tone (phase continuous from sample 0) through `(milliseconds, dBFS peak)`
/// segments.
pub fn tone(fs: u32, segments: &[(u64, f64)]) -> Vec<f64> {
    tone_at(1000, fs, segments)
}

pub fn tone_at(freq_hz: u64, fs: u32, segments: &[(u64, f64)]) -> Vec<f64> {
    let table = sine_period(freq_hz, fs);
    let total = segments.iter().map(|&(ms, _)| frames(ms, fs)).sum();
    let mut out = vec![0.0; total];
    let (o, t) = (out.as_mut_slice(), table.as_slice());
    let (mut n, mut k) = (0, 0);
    for &(ms, db) in segments {
        let a = math::pow(10.0, db / 20.0);
        let end = n + frames(ms, fs);
        while n < end {
            o[n] = a * t[k];
            n += 1;
            k += 1;
            if k == t.len() {
                k = 0;
            }
        }
    }
    out
}

/// The same signal in both channels.
pub fn stereo(x: Vec<f64>) -> Vec<Vec<f64>> {
    vec![x.clone(), x]
}

/// K-weighting from the published tables (BS.1770-4 Tables 1 and 2 at 48 kHz; the
/// prototype design's values at 44.1 kHz, dsp-references.md section 12), typed in here
/// independently of the engine: `[(b, a); 2]` with `a[0] = 1`.
pub fn k_tables(fs: u32) -> [([f64; 3], [f64; 3]); 2] {
    match fs {
        48_000 => [
            (
                [
                    1.535_124_859_586_97,
                    -2.691_696_189_406_38,
                    1.198_392_810_852_85,
                ],
                [1.0, -1.690_659_293_182_41, 0.732_480_774_215_85],
            ),
            (
                [1.0, -2.0, 1.0],
                [1.0, -1.990_047_454_833_98, 0.990_072_250_366_21],
            ),
        ],
        44_100 => [
            (
                [
                    1.530_841_230_050_35,
                    -2.650_979_995_154_73,
                    1.169_079_079_921_59,
                ],
                [1.0, -1.663_655_113_256_02, 0.712_595_428_073_23],
            ),
            (
                [1.0, -2.0, 1.0],
                [1.0, -1.989_169_673_629_80, 0.989_199_035_787_04],
            ),
        ],
        _ => panic!("no published K-weighting table for {fs} Hz"),
    }
}

/// Direct form I, the textbook difference equation. (The reference runs in unoptimised
/// test builds, where `while` loops over slices are many times faster than ranges over
/// vectors or iterator chains; hence the style here and below.)
fn biquad(x: &[f64], b: [f64; 3], a: [f64; 3]) -> Vec<f64> {
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    let mut out = vec![0.0; x.len()];
    let y = out.as_mut_slice();
    let mut n = 0;
    while n < x.len() {
        let x0 = x[n];
        let y0 = b[0] * x0 + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2;
        (x2, x1, y2, y1) = (x1, x0, y1, y0);
        y[n] = y0;
        n += 1;
    }
    out
}

/// BS.1770-4 channel weights for 1, 2, 5 or 6 channels (the LFE of 6 weighs 0).
pub fn weights(channels: usize) -> Vec<f64> {
    match channels {
        1 => vec![1.0],
        2 => vec![1.0, 1.0],
        5 => vec![1.0, 1.0, 1.0, 1.41, 1.41],
        6 => vec![1.0, 1.0, 1.0, 0.0, 1.41, 1.41],
        _ => panic!("{channels} channels"),
    }
}

fn lufs(mean_square: f64) -> f64 {
    -0.691 + 10.0 * math::log10(mean_square)
}

/// The plain reference: the weighted K-weighted power `e[n] = sum_i G_i y_i[n]^2` of the
/// whole signal, kept in memory.
pub struct Reference {
    fs: u32,
    e: Vec<f64>,
    /// `prefix[n] = sum e[..n]`, for sample-accurate sliding windows.
    prefix: Vec<f64>,
}

impl Reference {
    pub fn new(fs: u32, channels: &[Vec<f64>]) -> Self {
        let w = weights(channels.len());
        let len = channels[0].len();
        let mut e = vec![0.0; len];
        for (x, g) in channels.iter().zip(w) {
            if g == 0.0 {
                continue;
            }
            let [(b1, a1), (b2, a2)] = k_tables(fs);
            let y = biquad(&biquad(x, b1, a1), b2, a2);
            let (y, e) = (y.as_slice(), e.as_mut_slice());
            let mut n = 0;
            while n < len {
                e[n] += g * y[n] * y[n];
                n += 1;
            }
        }
        let mut prefix = vec![0.0; len + 1];
        let (p, el) = (prefix.as_mut_slice(), e.as_slice());
        let mut n = 0;
        while n < len {
            p[n + 1] = p[n] + el[n];
            n += 1;
        }
        Self { fs, e, prefix }
    }

    fn hop(&self) -> usize {
        usize::try_from(self.fs / 100).unwrap()
    }

    /// BS.1770-4 integrated loudness: every 400 ms block at a 100 ms step from sample 0
    /// (each summed directly), absolute gate -70 LUFS, relative gate -10 LU.
    pub fn integrated(&self) -> Option<f64> {
        let (len, step) = (40 * self.hop(), 10 * self.hop());
        let mut blocks = Vec::new();
        let mut start = 0;
        let e = self.e.as_slice();
        while start + len <= e.len() {
            let mut s = 0.0;
            let mut n = start;
            while n < start + len {
                s += e[n];
                n += 1;
            }
            blocks.push(s / len as f64);
            start += step;
        }
        let abs: Vec<f64> = blocks.into_iter().filter(|&z| lufs(z) > -70.0).collect();
        if abs.is_empty() {
            return None;
        }
        let gate = lufs(abs.iter().sum::<f64>() / abs.len() as f64) - 10.0;
        let kept: Vec<f64> = abs.into_iter().filter(|&z| lufs(z) > gate).collect();
        Some(lufs(kept.iter().sum::<f64>() / kept.len() as f64))
    }

    /// Mean of `e` over the `len` samples ending before `end`.
    fn window(&self, end: usize, len: usize) -> f64 {
        (self.prefix[end] - self.prefix[end - len]) / len as f64
    }

    /// Max over every sample-accurate window of `ms`, LUFS.
    fn max_window(&self, ms: u64) -> f64 {
        let len = frames(ms, self.fs);
        let p = self.prefix.as_slice();
        let mut best = 0.0f64;
        let mut end = len;
        while end < p.len() {
            best = best.max(p[end] - p[end - len]);
            end += 1;
        }
        let best = best / len as f64;
        lufs(best)
    }

    pub fn max_momentary(&self) -> f64 {
        self.max_window(400)
    }

    pub fn max_short_term(&self) -> f64 {
        self.max_window(3000)
    }

    /// EBU Tech 3342 loudness range from short-term values every 10 ms (windows inside the
    /// signal), absolute gate -70, relative gate -20 LU, nearest-rank P95 - P10 as in the
    /// Tech 3342 reference code.
    pub fn loudness_range(&self) -> Option<f64> {
        let len = 300 * self.hop();
        let mut st: Vec<f64> = (len..=self.e.len())
            .step_by(self.hop())
            .map(|end| lufs(self.window(end, len)))
            .filter(|&l| l >= -70.0)
            .collect();
        if st.is_empty() {
            return None;
        }
        let mean = st.iter().map(|&l| math::pow(10.0, l / 10.0)).sum::<f64>() / st.len() as f64;
        let gate = 10.0 * math::log10(mean) - 20.0;
        st.retain(|&l| l >= gate);
        st.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            let rank = ((st.len() - 1) as f64 * p / 100.0 + 1.0).round();
            st[rank as usize - 1]
        };
        Some(pct(95.0) - pct(10.0))
    }
}

/// `shared/references/` beside the repository, if it is there.
pub fn references_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/references");
    dir.is_dir().then_some(dir)
}

/// Asserts `measured` within `[expected - minus, expected + plus]`, saying how far off.
pub fn assert_within(what: &str, measured: f64, expected: f64, minus: f64, plus: f64) {
    let dev = measured - expected;
    assert!(
        (-minus..=plus).contains(&dev),
        "{what}: measured {measured:.4}, expected {expected:.4} (-{minus}/+{plus}), off by {dev:+.4}"
    );
}
