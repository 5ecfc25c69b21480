//! Saturation against its declared curves and the aliasing requirement: at drive_db 12
//! with the default 8x oversampling, a 10 kHz tone at 48 kHz leaves every alias below the
//! fundamental at least 80 dB under it (dBc), measured by a DFT of the output (coherent:
//! the tone is on a bin, so every other bin holds only distortion and aliases).

mod dsp_util;

use dsp_util::{assert_close, c, db, run_mono, saturation, sine, slot};
use mixrender_engine::math;
use serde_json::json;

/// Amplitudes of bins `0 ..= max_bin` of the last `n` frames of `y` (coherent DFT).
fn spectrum(y: &[f64], n: usize, max_bin: usize) -> Vec<f64> {
    let x = &y[y.len() - n..];
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|i| {
            let ph = core::f64::consts::TAU * i as f64 / n as f64;
            (math::cos(ph), math::sin(ph))
        })
        .unzip();
    (0..=max_bin)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            let mut idx = 0;
            for v in x {
                re += v * cos[idx];
                im -= v * sin[idx];
                idx += k;
                if idx >= n {
                    idx -= n;
                }
            }
            2.0 * math::sqrt(re * re + im * im) / n as f64
        })
        .collect()
}

/// First Fourier (sine) coefficient of `f(a sin t)`, by the midpoint rule over a period.
fn fundamental_of(f: impl Fn(f64) -> f64, a: f64) -> f64 {
    let m = 1 << 16;
    let mut s = 0.0;
    for i in 0..m {
        let t = core::f64::consts::TAU * (i as f64 + 0.5) / m as f64;
        s += f(a * math::sin(t)) * math::sin(t);
    }
    2.0 * s / m as f64
}

fn soft(u: f64) -> f64 {
    let u = u.clamp(-1.0, 1.0);
    u - u * u * u / 3.0
}

/// Worst bin below the fundamental, dBc, for a tone of `freq` at `fs` (bin width 10 Hz).
fn worst_alias(
    shape: &str,
    drive: f64,
    oversample: u32,
    freq: f64,
    fs: f64,
    amp: f64,
) -> (f64, f64) {
    let insert = saturation(&json!({"drive_db": c(drive), "shape": shape,
        "oversample": oversample}));
    let mut s = slot(&insert, fs, 4096);
    let n = (fs / 10.0) as usize;
    let x = sine(freq, fs, amp, 3 * n);
    let y = run_mono(&mut s, &x, 4096);
    let bin = (freq / 10.0) as usize;
    let spec = spectrum(&y, n, bin);
    let fund = spec[bin];
    let worst = spec[1..bin].iter().fold(0.0f64, |m, &v| m.max(v));
    (db(worst / fund), fund)
}

#[test]
fn a_10k_tone_driven_12_db_does_not_alias_below_itself() {
    let mut report = Vec::new();
    for (fs, amp) in [(48000.0, 1.0), (48000.0, 0.5), (44100.0, 1.0)] {
        let (alias, fund) = worst_alias("tanh", 12.0, 8, 10000.0, fs, amp);
        assert!(
            alias <= -80.0,
            "tanh at {fs} Hz, amplitude {amp}: alias at {alias:.1} dBc (limit -80)"
        );
        // The fundamental is the curve's first harmonic (the others lie above Nyquist).
        let g = math::db_to_gain(12.0);
        let want = fundamental_of(|v| math::tanh(g * v), amp);
        assert_close("fundamental (dB)", db(fund), db(want), 0.01);
        report.push(format!("{fs} Hz amp {amp}: {alias:.1} dBc"));
    }
    let (soft_alias, _) = worst_alias("soft", 12.0, 8, 10000.0, 48000.0, 1.0);
    // The soft curve's second derivative jumps at the clamp, so its harmonics fall off as
    // 1/n^3 only: it needs 16x to meet -80 dBc (the requirement is stated for the default
    // shape, tanh).
    let (soft16, _) = worst_alias("soft", 12.0, 16, 10000.0, 48000.0, 1.0);
    assert!(soft16 <= -80.0, "soft at 16x: {soft16:.1} dBc");
    let (five, _) = worst_alias("tanh", 12.0, 8, 5000.0, 48000.0, 1.0);
    assert!(five <= -80.0, "5 kHz tone: {five:.1} dBc");
    eprintln!(
        "saturation aliases below the fundamental (tanh, +12 dB, 8x): {}; 5 kHz: {five:.1} dBc; \
         soft: {soft_alias:.1} dBc at 8x, {soft16:.1} dBc at 16x",
        report.join(", ")
    );
    // For comparison: without oversampling the same tone aliases far above -80 dBc.
    let (plain, _) = worst_alias("tanh", 12.0, 1, 10000.0, 48000.0, 1.0);
    assert!(plain > -40.0, "1x: {plain:.1} dBc");
}

/// DC steps through the saturator equal the declared curve within 1e-5 (after the
/// filters settle), for both shapes, with output_db applied.
#[test]
fn static_curve_on_dc_steps() {
    let fs = 48000.0;
    for shape in ["tanh", "soft"] {
        for drive in [0.0, 6.0, 18.0] {
            let insert = saturation(&json!({"drive_db": c(drive), "shape": shape,
                "output_db": c(-3.0)}));
            let mut s = slot(&insert, fs, 4096);
            let lat = s.processor.latency();
            let levels = [-1.0, -0.5, -0.1, 0.0, 0.05, 0.3, 0.8, 1.2];
            let hold = 1000;
            let x: Vec<f64> = levels
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, hold))
                .collect();
            let y = run_mono(&mut s, &x, 4096);
            let g = math::db_to_gain(drive);
            let out = math::db_to_gain(-3.0);
            for (k, &v) in levels.iter().enumerate() {
                let i = k * hold + lat + hold / 2;
                let want = out
                    * if shape == "tanh" {
                        math::tanh(g * v)
                    } else {
                        soft(g * v)
                    };
                assert_close(&format!("{shape} drive {drive} at {v}"), y[i], want, 1e-5);
            }
        }
    }
}

/// Small-signal gain equals f'(0) = g, and an odd curve makes no even harmonics.
#[test]
fn small_signal_gain_and_odd_symmetry() {
    let fs = 48000.0;
    let insert = saturation(&json!({"drive_db": c(9.0)}));
    let mut s = slot(&insert, fs, 4096);
    let x = sine(1000.0, fs, 1e-4, 3 * 4800);
    let y = run_mono(&mut s, &x, 4096);
    let spec = spectrum(&y, 4800, 100);
    assert_close("small-signal gain (dB)", db(spec[100] / 1e-4), 9.0, 0.01);
    for shape in ["tanh", "soft"] {
        let insert = saturation(&json!({"drive_db": c(12.0), "shape": shape}));
        let mut s = slot(&insert, fs, 4096);
        let x = sine(1000.0, fs, 0.7, 3 * 4800);
        let y = run_mono(&mut s, &x, 4096);
        let spec = spectrum(&y, 4800, 2000);
        let worst_even = (2..=20)
            .step_by(2)
            .map(|h| spec[100 * h])
            .fold(0.0f64, f64::max);
        let dbc = db(worst_even / spec[100]);
        assert!(dbc < -100.0, "{shape}: even harmonics at {dbc:.1} dBc");
    }
}

/// The reported latency is the delay of the dry path: `mix = 0` gives the input delayed
/// by it, bit for bit, and so does bypass.
#[test]
fn latency_mix_and_bypass() {
    let fs = 48000.0;
    let x = dsp_util::noise(5000, 2);
    for oversample in [1, 2, 4, 8, 16] {
        let insert = saturation(&json!({"oversample": oversample, "mix": c(0.0)}));
        let mut s = slot(&insert, fs, 4096);
        let lat = s.processor.latency();
        let y = run_mono(&mut s, &x, 333);
        assert!(y[..lat].iter().all(|v| *v == 0.0));
        assert!(
            y[lat..]
                .iter()
                .zip(&x)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let mut insert = saturation(&json!({"oversample": oversample}));
        insert["bypass"] = json!(true);
        let mut s = slot(&insert, fs, 4096);
        assert_eq!(s.processor.latency(), lat);
        let y = run_mono(&mut s, &x, 333);
        assert!(
            y[lat..]
                .iter()
                .zip(&x)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        eprintln!("saturation {oversample}x: latency {lat} frames");
    }
    // The wet path is aligned with the dry one: at low level and unity gain the curve is
    // nearly linear, so wet minus delayed dry is tiny.
    let insert = saturation(&json!({"drive_db": c(0.0)}));
    let mut s = slot(&insert, fs, 4096);
    let lat = s.processor.latency();
    let x = sine(1000.0, fs, 1e-3, 4000);
    let y = run_mono(&mut s, &x, 4096);
    let err = (1000..4000).fold(0.0f64, |m, i| m.max((y[i] - x[i - lat]).abs()));
    assert!(err < 1e-8, "wet path misaligned: {err:e}");
}
