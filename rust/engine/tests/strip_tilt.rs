//! The `tilt` insert and `width`'s `mono_below_hz` against their analytic references.
//!
//! The measurement is the DFT, evaluated directly at the test frequencies, of the impulse
//! response rendered through the insert. `tilt` must realise `gain_db * log2(f / freq_hz)` dB
//! within 0.5 dB from 20 Hz to min(20 kHz, 0.49 fs); `mono_below_hz` must high-pass the side
//! exactly as the 2nd-order Butterworth does (`|H|^2 = W^4 / (1 + W^4)`, `W = tan(pi f / fs) /
//! tan(pi fc / fs)`: the bilinear transform of the analog prototype) within 0.01 dB, leave
//! the mid untouched and a mono signal unchanged.

mod dsp_util;

use dsp_util::{bits, c, db, lane, program, run, slot};
use mixrender_engine::math;
use serde_json::{Value, json};

fn tilt(gain_db: &Value, freq_hz: f64) -> Value {
    json!({"type": "tilt", "name": "tilt", "bypass": false,
        "gain_db": gain_db, "freq_hz": c(freq_hz)})
}

fn width(width: f64, mono_below_hz: Option<f64>) -> Value {
    json!({"type": "width", "name": "width", "bypass": false,
        "width": c(width), "mono_below_hz": mono_below_hz})
}

/// |DFT| of `h` at `f`.
fn dft(h: &[f64], f: f64, fs: f64) -> f64 {
    let w = core::f64::consts::TAU * f / fs;
    let (c1, s1) = (math::cos(w), -math::sin(w));
    let (mut zr, mut zi) = (1.0, 0.0);
    let (mut re, mut im) = (0.0, 0.0);
    for &v in h {
        re += v * zr;
        im += v * zi;
        (zr, zi) = (zr * c1 - zi * s1, zr * s1 + zi * c1);
    }
    math::sqrt(re * re + im * im)
}

/// 30 log-spaced frequencies from 20 Hz to `hi`.
fn freqs(hi: f64) -> Vec<f64> {
    (0..30)
        .map(|i| 20.0 * math::pow(hi / 20.0, f64::from(i) / 29.0))
        .collect()
}

/// The impulse response of a stereo insert to `[l0, r0]` at frame 0, both channels, until
/// it has decayed below 1e-14 for 4096 frames.
fn impulse(insert: &Value, fs: f64, l0: f64, r0: f64, channels: usize) -> [Vec<f64>; 2] {
    let mut s = slot(insert, fs, 4096);
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let mut x = [vec![0.0; 4096], vec![0.0; 4096]];
    x[0][0] = l0;
    x[1][0] = r0;
    let mut quiet = 0;
    let mut start = 0i64;
    while quiet < 4096 {
        let [l, r] = run(&mut s, start, 4096, channels, [&x[0], &x[1]], None);
        x[0][0] = 0.0;
        x[1][0] = 0.0;
        let peak = l.iter().chain(&r).fold(0.0f64, |m, v| m.max(v.abs()));
        quiet = if peak < 1e-14 && start > 0 {
            quiet + 4096
        } else {
            0
        };
        left.extend(l);
        right.extend(r);
        start += 4096;
        assert!(start < 60 * fs as i64, "no decay");
    }
    [left, right]
}

#[test]
fn tilt_follows_its_slope_within_half_a_db_from_20_hz_to_20_khz() {
    let mut report = Vec::new();
    for fs in [8000.0, 44100.0, 48000.0, 96000.0, 192_000.0] {
        let hi = 20000.0f64.min(0.49 * fs);
        let mut worst: f64 = 0.0;
        for g in [-6.0, -2.5, 1.0, 6.0] {
            for f0 in [20.0, 1000.0, 20000.0] {
                let [h, _] = impulse(&tilt(&c(g), f0), fs, 1.0, 0.0, 1);
                for f in freqs(hi) {
                    let want = g * math::ln(f / f0) / core::f64::consts::LN_2;
                    let got = db(dft(&h, f, fs));
                    let err = (got - want).abs();
                    assert!(
                        err <= 0.5,
                        "tilt {g} dB/oct at {f0} Hz, fs {fs}: at {f:.1} Hz {got:.3} dB, \
                         expected {want:.3} dB (error {err:.3} dB)"
                    );
                    worst = worst.max(err);
                }
            }
        }
        report.push(format!("{fs}: {worst:.3} dB"));
    }
    eprintln!("tilt, worst error over 20 Hz .. min(20 kHz, 0.49 fs): {report:?}");
}

#[test]
fn tilt_at_zero_is_flat_and_automation_is_block_size_invariant() {
    let fs = 48000.0;
    let x = program(20000, fs, 7);
    let mut s = slot(&tilt(&c(0.0), 1000.0), fs, 4096);
    let [l, r] = run(&mut s, 0, 512, 2, [&x[0], &x[1]], None);
    for (a, b) in l.iter().zip(&x[0]).chain(r.iter().zip(&x[1])) {
        assert!((a - b).abs() <= 1e-12, "tilt 0 is not flat: {a} vs {b}");
    }
    let moving = tilt(&lane(&[(0, -6.0, "linear"), (15000, 6.0, "linear")]), 700.0);
    let outputs: Vec<Vec<u64>> = [64, 333, 4096]
        .iter()
        .map(|&block| {
            let mut s = slot(&moving, fs, 4096);
            bits(&run(&mut s, 0, block, 2, [&x[0], &x[1]], None))
        })
        .collect();
    assert!(
        outputs.windows(2).all(|w| w[0] == w[1]),
        "block size is audible"
    );
}

/// The analytic 2nd-order Butterworth high-pass, bilinear with pre-warping.
fn butterworth_hp(f: f64, fc: f64, fs: f64) -> f64 {
    let pi = core::f64::consts::PI;
    let w = math::tan(pi * f / fs) / math::tan(pi * fc / fs);
    let w4 = w * w * w * w;
    math::sqrt(w4 / (1.0 + w4))
}

#[test]
fn mono_below_hz_high_passes_the_side_as_a_butterworth_and_leaves_the_mid() {
    let mut worst: f64 = 0.0;
    for fs in [44100.0, 48000.0, 96000.0] {
        for fc in [30.0, 120.0, 500.0] {
            // A pure side impulse: S = 1, M = 0.
            let [l, r] = impulse(&width(1.0, Some(fc)), fs, 1.0, -1.0, 2);
            let side: Vec<f64> = l.iter().zip(&r).map(|(a, b)| (a - b) * 0.5).collect();
            assert!(l.iter().zip(&r).all(|(a, b)| a + b == 0.0), "mid leaks");
            for f in freqs(20000.0f64.min(0.45 * fs)) {
                let want = db(butterworth_hp(f, fc, fs));
                if want < -60.0 {
                    continue;
                }
                let err = (db(dft(&side, f, fs)) - want).abs();
                assert!(
                    err <= 0.01,
                    "fc {fc}, fs {fs}, f {f:.1}: error {err:.2e} dB"
                );
                worst = worst.max(err);
            }
        }
    }
    eprintln!("mono_below_hz: worst side error {worst:.2e} dB");
}

#[test]
fn mono_below_hz_keeps_the_mid_exactly_and_a_mono_signal_unchanged() {
    let fs = 48000.0;
    let x = program(12000, fs, 3);
    // A mid-only signal (L = R) comes out exactly (as values: -0 may come out as +0).
    let mut s = slot(&width(1.5, Some(200.0)), fs, 4096);
    let out = run(&mut s, 0, 700, 2, [&x[0], &x[0]], None);
    for (ch, y) in out.iter().enumerate() {
        #[allow(clippy::float_cmp)] // exactly: the mid is untouched
        if let Some(i) = (0..y.len()).find(|&i| y[i] != x[0][i]) {
            panic!("channel {ch}, frame {i}: {} -> {}", x[0][i], y[i]);
        }
    }
    // Any signal: the mid is the input's mid.
    let mut s = slot(&width(1.0, Some(200.0)), fs, 4096);
    let [l, r] = run(&mut s, 0, 700, 2, [&x[0], &x[1]], None);
    for i in 0..l.len() {
        let (m0, m1) = ((x[0][i] + x[1][i]) * 0.5, (l[i] + r[i]) * 0.5);
        assert!((m0 - m1).abs() <= 1e-15, "mid changed at {i}: {m0} -> {m1}");
    }
    // A mono strip: untouched.
    let mut s = slot(&width(0.5, Some(200.0)), fs, 4096);
    let [mono, _] = run(&mut s, 0, 700, 1, [&x[0], &x[0]], None);
    assert_eq!(mono, x[0]);
    // Block size is never audible.
    let outputs: Vec<Vec<u64>> = [64, 333, 4096]
        .iter()
        .map(|&block| {
            let mut s = slot(&width(1.2, Some(90.0)), fs, 4096);
            bits(&run(&mut s, 0, block, 2, [&x[0], &x[1]], None))
        })
        .collect();
    assert!(
        outputs.windows(2).all(|w| w[0] == w[1]),
        "block size is audible"
    );
}
