//! Compressor, gate and de-esser against the GMR 2012 references (formulas written out
//! here, independent of the engine's code) and the project's DSP references, sections 5,
//! 7 and 8.

mod dsp_util;

use dsp_util::{assert_close, c, compressor, db, deesser, gate, lane, run, run_mono, sine, slot};
use mixrender_engine::math;
use serde_json::json;

/// GMR eq. 4, the static curve (threshold `t`, ratio `r`, knee `w`).
fn gmr(x: f64, t: f64, r: f64, w: f64) -> f64 {
    if 2.0 * (x - t) < -w {
        x
    } else if 2.0 * (x - t).abs() <= w && w > 0.0 {
        x + (1.0 / r - 1.0) * (x - t + w / 2.0) * (x - t + w / 2.0) / (2.0 * w)
    } else {
        t + (x - t) / r
    }
}

/// A constant-magnitude signal (a square wave of period 100 frames) at `level_db`.
fn square(level_db: f64, frames: usize) -> Vec<f64> {
    let a = math::db_to_gain(level_db);
    (0..frames)
        .map(|i| if (i / 50) % 2 == 0 { a } else { -a })
        .collect()
}

/// The gain in dB applied to the last frame.
fn last_gain(x: &[f64], y: &[f64]) -> f64 {
    let i = x.len() - 1;
    db(y[i].abs() / x[i].abs())
}

#[test]
fn compressor_static_curve_hard_and_soft_knee() {
    let mut worst: f64 = 0.0;
    for (t, r, w) in [
        (-20.0, 4.0, 0.0),
        (-30.0, 2.0, 6.0),
        (-10.0, 10.0, 12.0),
        (-40.0, 1e9, 0.0),
        (-25.0, 3.0, 24.0),
        (-35.0, 1e9, 10.0),
    ] {
        for fs in [44100.0, 96000.0] {
            let insert = compressor(&json!({
                "threshold_db": c(t), "ratio": c(r), "knee_db": c(w),
                "attack_ms": c(1.0), "release_ms": c(20.0), "makeup_db": c(0.0),
            }));
            for level in -60..=0 {
                let level = f64::from(level);
                let mut s = slot(&insert, fs, 4096);
                let x = square(level, (0.05 * fs) as usize);
                let y = run_mono(&mut s, &x, 4096);
                let got = last_gain(&x, &y);
                let want = gmr(level, t, r, w) - level;
                assert_close(
                    &format!("gain at {level} dBFS, T {t} R {r} W {w}, {fs} Hz"),
                    got,
                    want,
                    0.05,
                );
                worst = worst.max((got - want).abs());
            }
        }
    }
    eprintln!("compressor static curve: worst error {worst:.2e} dB");
}

/// Slope 1 below the knee, 1/R above it (references: +-0.01 dB/dB).
#[test]
fn compressor_slopes() {
    let (t, r) = (-30.0, 3.0);
    let insert = compressor(&json!({
        "threshold_db": c(t), "ratio": c(r), "knee_db": c(6.0), "attack_ms": c(1.0),
    }));
    let out = |level: f64| {
        let mut s = slot(&insert, 48000.0, 4096);
        let x = square(level, 2400);
        let y = run_mono(&mut s, &x, 4096);
        level + last_gain(&x, &y)
    };
    assert_close("slope below", out(-50.0) - out(-51.0), 1.0, 0.01);
    assert_close("slope above", out(-10.0) - out(-11.0), 1.0 / r, 0.01);
}

/// Time to 63 % of the gain change on a +30 dB step (and back), against the set time
/// constants, within 5 %.
#[test]
fn compressor_attack_and_release_time_constants() {
    let mut worst: f64 = 0.0;
    for fs in [44100.0, 48000.0, 96000.0] {
        for (attack, release) in [(10.0, 100.0), (1.0, 50.0), (30.0, 300.0)] {
            let insert = compressor(&json!({
                "threshold_db": c(-40.0), "ratio": c(4.0), "knee_db": c(0.0),
                "attack_ms": c(attack), "release_ms": c(release),
            }));
            let mut s = slot(&insert, fs, 4096);
            let seg = (2.0 * release / 1000.0 * fs) as usize * 5;
            let mut x = square(-60.0, seg);
            x.extend(square(-30.0, seg));
            x.extend(square(-60.0, seg));
            let y = run_mono(&mut s, &x, 4096);
            let gains: Vec<f64> = x
                .iter()
                .zip(&y)
                .map(|(a, b)| db(b.abs() / a.abs()))
                .collect();
            let full = gains[2 * seg - 1];
            assert_close("settled reduction", full, -7.5, 1e-6);
            // Attack: from 0 to -7.5 dB; release: back to 0.
            let target = full * (1.0 - math::exp(-1.0));
            let n_a = (seg..2 * seg).find(|&i| gains[i] <= target).unwrap() - seg + 1;
            let target = full * math::exp(-1.0);
            let n_r = (2 * seg..3 * seg).find(|&i| gains[i] >= target).unwrap() - 2 * seg + 1;
            for (what, n, ms) in [("attack", n_a, attack), ("release", n_r, release)] {
                let want = ms / 1000.0 * fs;
                let err = (n as f64 - want).abs() / want;
                assert!(
                    err <= 0.05 || (n as f64 - want).abs() <= 1.0,
                    "{what} {ms} ms at {fs} Hz: 63 % after {n} frames, expected {want:.1} \
                     ({:.2} % off)",
                    100.0 * err
                );
                worst = worst.max(err);
            }
        }
    }
    eprintln!(
        "compressor time constants: worst error {:.3} %",
        100.0 * worst
    );
}

/// RMS detection of a sine at L dBFS (peak) reads L - 3.01 dB.
#[test]
fn compressor_rms_detector_reads_sine_rms() {
    let (t, r) = (-40.0, 2.0);
    for level in [-20.0, -10.0, -3.0] {
        let insert = compressor(&json!({
            "threshold_db": c(t), "ratio": c(r), "detector": "rms", "rms_ms": c(50.0),
            "attack_ms": c(5.0), "release_ms": c(5.0),
        }));
        let mut s = slot(&insert, 48000.0, 4096);
        let x = sine(1000.0, 48000.0, math::db_to_gain(level), 48000);
        let y = run_mono(&mut s, &x, 4096);
        // Mean gain over the last 100 ms, from the peak of each period.
        let tail = 48000 - 4800;
        let mut sum = 0.0;
        let periods = 100u32;
        for p in 0..periods {
            let a = tail + 48 * p as usize;
            let (px, py) = (a..a + 48).fold((0.0f64, 0.0f64), |(mx, my), i| {
                (mx.max(x[i].abs()), my.max(y[i].abs()))
            });
            sum += db(py / px);
        }
        let reduction = -sum / f64::from(periods);
        let read = t + reduction / (1.0 - 1.0 / r);
        assert_close(
            &format!("RMS level read for a {level} dBFS sine"),
            read,
            level - 10.0 * math::log10(2.0),
            0.05,
        );
    }
}

#[test]
fn compressor_sidechain_stereo_link_makeup_and_mix() {
    let fs = 48000.0;
    let n = 9600;
    // Key only: a quiet input keyed by a loud sidechain is reduced by the key's curve.
    let insert =
        compressor(&json!({"threshold_db": c(-30.0), "ratio": c(5.0), "attack_ms": c(1.0)}));
    let quiet = sine(440.0, fs, 0.01, n);
    let key = square(-10.0, n);
    let mut s = slot(&insert, fs, 4096);
    let [y, _] = run(&mut s, 0, 4096, 1, [&quiet, &quiet], Some([&key, &key]));
    let i = n - 30;
    assert_close(
        "keyed gain",
        db(y[i] / quiet[i]),
        gmr(-10.0, -30.0, 5.0, 0.0) + 10.0,
        1e-6,
    );
    // Loud input, silent key: untouched, bit for bit.
    let loud = square(-3.0, n);
    let silent = vec![0.0; n];
    let mut s = slot(&insert, fs, 4096);
    let [y, _] = run(&mut s, 0, 4096, 1, [&loud, &loud], Some([&silent, &silent]));
    assert!(y.iter().zip(&loud).all(|(a, b)| a.to_bits() == b.to_bits()));

    // Stereo link: one gain for both channels (R = L / 2 comes out as exactly half).
    let l = dsp_util::noise(n, 4);
    let r: Vec<f64> = l.iter().map(|v| v * 0.5).collect();
    let mut s = slot(&insert, fs, 4096);
    let [yl, yr] = run(&mut s, 0, 4096, 2, [&l, &r], None);
    assert!(
        yl.iter()
            .zip(&yr)
            .all(|(a, b)| (a * 0.5).to_bits() == b.to_bits())
    );
    // Linked peak: the louder channel sets the gain.
    let lsq = square(-10.0, n);
    let rsq = square(-40.0, n);
    let mut s = slot(&insert, fs, 4096);
    let [yl, yr] = run(&mut s, 0, 4096, 2, [&lsq, &rsq], None);
    let want = gmr(-10.0, -30.0, 5.0, 0.0) + 10.0;
    assert_close("linked gain, L", last_gain(&lsq, &yl), want, 1e-6);
    assert_close("linked gain, R", last_gain(&rsq, &yr), want, 1e-6);
    // Linked RMS: the mean of the squares (one channel silent: -3.01 dB).
    let rms = compressor(
        &json!({"threshold_db": c(-30.0), "ratio": c(5.0), "attack_ms": c(1.0),
        "detector": "rms", "rms_ms": c(5.0)}),
    );
    let mut s = slot(&rms, fs, 4096);
    let [yl, _] = run(&mut s, 0, 4096, 2, [&lsq, &silent], None);
    let level = -10.0 - 10.0 * math::log10(2.0);
    assert_close(
        "linked RMS gain",
        last_gain(&lsq, &yl),
        gmr(level, -30.0, 5.0, 0.0) - level,
        1e-6,
    );
    // Unlinked: each channel its own gain; the quiet one is untouched.
    let unlinked = compressor(&json!({"threshold_db": c(-30.0), "ratio": c(5.0),
        "attack_ms": c(1.0), "stereo_link": false}));
    let mut s = slot(&unlinked, fs, 4096);
    let [yl, yr] = run(&mut s, 0, 4096, 2, [&lsq, &rsq], None);
    assert_close("unlinked L", last_gain(&lsq, &yl), want, 1e-6);
    assert!(yr.iter().zip(&rsq).all(|(a, b)| a.to_bits() == b.to_bits()));

    // Makeup after the detector, per frame.
    let mk = compressor(
        &json!({"threshold_db": c(-30.0), "ratio": c(5.0), "attack_ms": c(1.0),
        "makeup_db": c(5.0)}),
    );
    let mut s = slot(&mk, fs, 4096);
    let y = run_mono(&mut s, &lsq, 4096);
    assert_close("makeup", last_gain(&lsq, &y), want + 5.0, 0.01);
    // mix 0: the input, bit for bit; mix 0.5: the mean of dry and wet.
    let dry = compressor(&json!({"threshold_db": c(-30.0), "mix": c(0.0)}));
    let mut s = slot(&dry, fs, 4096);
    let y = run_mono(&mut s, &l, 4096);
    assert!(y.iter().zip(&l).all(|(a, b)| a.to_bits() == b.to_bits()));
    let half = compressor(
        &json!({"threshold_db": c(-30.0), "ratio": c(5.0), "attack_ms": c(1.0),
        "mix": c(0.5)}),
    );
    let mut s = slot(&half, fs, 4096);
    let y = run_mono(&mut s, &lsq, 4096);
    let g = math::db_to_gain(want);
    assert_close("mix 0.5", y[n - 1] / lsq[n - 1], 0.5 + 0.5 * g, 1e-9);
}

/// The side-chain high-pass keeps low frequencies out of the detector.
#[test]
fn compressor_sidechain_high_pass() {
    let fs = 48000.0;
    let x = sine(50.0, fs, 0.5, 48000);
    let plain = compressor(&json!({"threshold_db": c(-30.0), "ratio": c(4.0)}));
    let hpf = compressor(&json!({"threshold_db": c(-30.0), "ratio": c(4.0),
        "sidechain_hpf_hz": c(2000.0)}));
    let mut s = slot(&plain, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    assert!(
        y[40000..]
            .iter()
            .zip(&x[40000..])
            .any(|(a, b)| (a - b).abs() > 1e-3)
    );
    // 50 Hz through a 2 kHz Butterworth high-pass: (50/2000)^2, -64 dB: never above -30.
    let mut s = slot(&hpf, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    assert!(y.iter().zip(&x).all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn gate_range_hold_and_timing() {
    let fs = 48000.0;
    let (attack, hold, release) = (5.0, 20.0, 100.0);
    let insert = gate(&json!({"threshold_db": c(-50.0), "range_db": c(-80.0),
        "attack_ms": c(attack), "hold_ms": c(hold), "release_ms": c(release)}));
    // Closed below the threshold: the range.
    let mut s = slot(&insert, fs, 4096);
    let x = square(-60.0, 24000);
    let y = run_mono(&mut s, &x, 4096);
    assert_close("closed attenuation", last_gain(&x, &y), -80.0, 0.1);
    // Open above: unity, exactly.
    let mut s = slot(&insert, fs, 4096);
    let x = square(-40.0, 24000);
    let y = run_mono(&mut s, &x, 4096);
    assert!(
        y[12000..]
            .iter()
            .zip(&x[12000..])
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );

    // Open (from closed), hold, then close.
    let seg = 48000;
    let mut x = square(-70.0, seg);
    x.extend(square(-30.0, seg));
    x.extend(square(-70.0, seg));
    let mut s = slot(&insert, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    let g: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| db(b.abs() / a.abs()))
        .collect();
    let opened = (seg..2 * seg)
        .find(|&i| g[i] >= -80.0 * math::exp(-1.0))
        .unwrap()
        - seg
        + 1;
    let want = attack / 1000.0 * fs;
    assert!(
        (opened as f64 - want).abs() <= 0.05 * want,
        "attack: 63 % after {opened} frames, expected {want}"
    );
    let held = (2 * seg..3 * seg).find(|&i| g[i] < 0.0).unwrap() - 2 * seg;
    let want = hold / 1000.0 * fs;
    assert!(
        (held as f64 - want).abs() <= fs / 1000.0,
        "hold: open for {held} frames after the drop, expected {want} (+-1 ms)"
    );
    let closed = (2 * seg..3 * seg)
        .find(|&i| g[i] <= -80.0 * (1.0 - math::exp(-1.0)))
        .unwrap()
        - 2 * seg
        - held
        + 1;
    let want = release / 1000.0 * fs;
    assert!(
        (closed as f64 - want).abs() <= 0.05 * want,
        "release: 63 % after {closed} frames past the hold, expected {want}"
    );
}

#[test]
fn gate_sidechain_keys_it() {
    let fs = 48000.0;
    let insert = gate(&json!({"threshold_db": c(-40.0), "range_db": c(-30.0), "sidechain": 0}));
    let loud = square(-6.0, 24000);
    let silent = vec![0.0; 24000];
    let mut s = slot(&insert, fs, 4096);
    let [y, _] = run(&mut s, 0, 4096, 1, [&loud, &loud], Some([&silent, &silent]));
    assert_close("key silent: closed", last_gain(&loud, &y), -30.0, 0.1);
    let quiet = square(-60.0, 24000);
    let key = square(-10.0, 24000);
    let mut s = slot(&insert, fs, 4096);
    let [y, _] = run(&mut s, 0, 4096, 1, [&quiet, &quiet], Some([&key, &key]));
    assert_close("key loud: open", last_gain(&quiet, &y), 0.0, 1e-12);
}

/// |H| of the detector's cookbook high-pass (Q 0.7071) at `f`, written out here.
fn hpf_db(f: f64, f0: f64, fs: f64) -> f64 {
    let pi = core::f64::consts::PI;
    let w = math::tan(pi * f / fs) / math::tan(pi * f0 / fs);
    -10.0 * math::log10(1.0 + math::pow(w, -4.0))
}

/// Mean gain (dB) over the last `frames` frames, from the peak per 48-frame window.
fn tail_gain(x: &[f64], y: &[f64], frames: usize) -> f64 {
    let start = x.len() - frames;
    let windows = frames / 48;
    let mut sum = 0.0;
    for w in 0..windows {
        let a = start + 48 * w;
        let (px, py) = (a..a + 48).fold((0.0f64, 0.0f64), |(mx, my), i| {
            (mx.max(x[i].abs()), my.max(y[i].abs()))
        });
        sum += db(py / px);
    }
    sum / windows as f64
}

#[test]
fn deesser_reduces_by_the_static_curve_of_the_band() {
    let fs = 48000.0;
    let (f0, t) = (6500.0, -30.0);
    for range in [-24.0, -12.0] {
        let insert = deesser(&json!({"freq_hz": c(f0), "threshold_db": c(t),
            "range_db": c(range), "split": false}));
        // A 7 kHz tone 20 dB over the threshold.
        let level = t + 20.0;
        let x = sine(7000.0, fs, math::db_to_gain(level), 24000);
        let mut s = slot(&insert, fs, 4096);
        let y = run_mono(&mut s, &x, 4096);
        let band = level + hpf_db(7000.0, f0, fs);
        let want = -(band - t).min(-range);
        let got = tail_gain(&x, &y, 4800);
        assert_close(&format!("7 kHz reduction, range {range}"), got, want, 0.5);
        eprintln!("de-esser, range {range}: 7 kHz gain {got:.3} dB, static curve {want:.3} dB");
        // A 500 Hz tone at the same level: under 0.1 dB.
        let x = sine(500.0, fs, math::db_to_gain(level), 24000);
        let mut s = slot(&insert, fs, 4096);
        let y = run_mono(&mut s, &x, 4096);
        assert!(tail_gain(&x, &y, 4800).abs() < 0.1);
    }
}

/// Split mode: the 500 Hz content stays within 0.1 dB while the 7 kHz band is reduced;
/// with nothing above the threshold the output is the input.
#[test]
fn deesser_split_band() {
    let fs = 48000.0;
    let n = 48000;
    let lo = sine(500.0, fs, 0.3, n);
    let hi = sine(7000.0, fs, 0.3, n);
    let x: Vec<f64> = lo.iter().zip(&hi).map(|(a, b)| a + b).collect();
    let insert = deesser(&json!({"threshold_db": c(-30.0), "range_db": c(-12.0), "split": true}));
    let mut s = slot(&insert, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    // Coherent DFT over the last 4800 frames (500 Hz and 7 kHz on bins).
    let amp = |sig: &[f64], f: f64| {
        let (mut re, mut im) = (0.0, 0.0);
        let start = n - 4800;
        for (k, v) in sig[start..].iter().enumerate() {
            let ph = core::f64::consts::TAU * f * (start + k) as f64 / fs;
            re += v * math::cos(ph);
            im += v * math::sin(ph);
        }
        2.0 * math::sqrt(re * re + im * im) / 4800.0
    };
    let low = db(amp(&y, 500.0) / amp(&x, 500.0));
    let high = db(amp(&y, 7000.0) / amp(&x, 7000.0));
    assert!(low.abs() < 0.1, "500 Hz moved by {low:.3} dB");
    // The band is x - LPF(x): at 7 kHz the output is (g + (1 - g) H_lp) x, with g from
    // the static curve at the band's level and H_lp the cookbook low-pass (analog
    // prototype at the warped frequency).
    let band = db(0.3) + hpf_db(7000.0, 6500.0, fs);
    let g = math::db_to_gain(-(band + 30.0).min(12.0));
    let pi = core::f64::consts::PI;
    let w = math::tan(pi * 7000.0 / fs) / math::tan(pi * 6500.0 / fs);
    let (dr, di) = (1.0 - w * w, core::f64::consts::SQRT_2 * w);
    let d2 = dr * dr + di * di;
    let (hr, hi_) = (dr / d2, -di / d2);
    let (yr, yi) = (g + (1.0 - g) * hr, (1.0 - g) * hi_);
    let want = db(math::sqrt(yr * yr + yi * yi));
    assert_close("7 kHz in split mode", high, want, 0.5);
    eprintln!("split de-esser: 500 Hz {low:+.4} dB, 7 kHz {high:+.2} dB");
    // Below the threshold: the input, bit for bit.
    let quiet: Vec<f64> = x.iter().map(|v| v * 0.001).collect();
    let mut s = slot(&insert, fs, 4096);
    let y = run_mono(&mut s, &quiet, 4096);
    assert!(
        y.iter()
            .zip(&quiet)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

/// Automating a grid key (compressor threshold) and a per-frame key (makeup) changes the
/// output where, and only where, the spec says.
#[test]
fn compressor_automation_on_the_grid() {
    let fs = 48000.0;
    let x = square(-10.0, 4000);
    // A threshold jump at frame 1000 (not on the grid: takes effect at 1024).
    let insert = compressor(&json!({
        "threshold_db": lane(&[(0, -5.0, "step"), (1000, -30.0, "linear")]),
        "ratio": c(4.0), "attack_ms": c(0.0),
    }));
    let mut s = slot(&insert, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    assert!(
        y[..1024]
            .iter()
            .zip(&x)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert!(y[1024] != x[1024]);
    // A makeup jump at frame 1000 applies at frame 1000.
    let insert = compressor(&json!({
        "threshold_db": c(0.0),
        "makeup_db": lane(&[(0, 0.0, "step"), (1000, 6.0, "linear")]),
    }));
    let mut s = slot(&insert, fs, 4096);
    let y = run_mono(&mut s, &x, 4096);
    assert!(
        y[..1000]
            .iter()
            .zip(&x)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert_close("makeup at 1000", db(y[1000] / x[1000]), 6.0, 1e-9);
}

/// The whole gain trajectory on programme material against GMR's compressor written out
/// sample by sample here (peak and RMS, stereo-linked, soft knee, makeup): within 0.1 dB.
#[test]
fn compressor_trajectory_matches_the_gmr_reference() {
    let fs = 48000.0;
    let [l, r] = dsp_util::program(24000, fs, 8);
    let (t, ratio, w, att, rel, mk, rms_ms) = (-24.0, 4.0, 6.0, 3.0, 80.0, 2.0, 10.0);
    for detector in ["peak", "rms"] {
        let insert = compressor(&json!({"threshold_db": c(t), "ratio": c(ratio),
            "knee_db": c(w), "attack_ms": c(att), "release_ms": c(rel), "makeup_db": c(mk),
            "detector": detector, "rms_ms": c(rms_ms)}));
        let mut s = slot(&insert, fs, 4096);
        let [yl, _] = run(&mut s, 0, 4096, 2, [&l, &r], None);
        let coeff = |ms: f64| math::exp(-1.0 / (ms / 1000.0 * fs));
        let (aa, ar, am) = (coeff(att), coeff(rel), coeff(rms_ms));
        let (mut y_l, mut m) = (0.0f64, 0.0f64);
        let mut worst: f64 = 0.0;
        for i in 0..l.len() {
            let x_g = if detector == "peak" {
                db(l[i].abs().max(r[i].abs()))
            } else {
                m = am * m + (1.0 - am) * (l[i] * l[i] + r[i] * r[i]) / 2.0;
                10.0 * math::log10(m)
            };
            let x_l = if x_g.is_finite() {
                (x_g - gmr(x_g, t, ratio, w)).max(0.0)
            } else {
                0.0
            };
            let a = if x_l > y_l { aa } else { ar };
            y_l = a * y_l + (1.0 - a) * x_l;
            if l[i] != 0.0 {
                let got = db(yl[i].abs() / l[i].abs());
                worst = worst.max((got - (mk - y_l)).abs());
            }
        }
        assert!(worst <= 0.1, "{detector}: trajectory off by {worst:.3e} dB");
        eprintln!("compressor trajectory ({detector}) vs GMR reference: {worst:.2e} dB");
    }
}
