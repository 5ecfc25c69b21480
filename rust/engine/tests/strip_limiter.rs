//! The limiter against the properties of the DSP references, section 6: no sample over
//! the ceiling on loud dense material; in true-peak mode no 4x (BS.1770 Annex 2)
//! interpolated peak more than 0.1 dB over it; material below the ceiling passes
//! bit-exact after the reported latency; release timing; the gain never rises above 1.

mod dsp_util;

use dsp_util::{c, db, limiter, noise, run, slot};
use mixrender_engine::math;
use mixrender_engine::meter::true_peak_of;
use serde_json::json;

/// Noise and drums at +12 dB over full scale: white noise, a decaying 55 Hz kick every
/// 0.5 s, a noise snare on the off-beats, and a short 9 kHz click train.
fn dense(frames: usize, fs: f64, seed: u64) -> [Vec<f64>; 2] {
    let nl = noise(frames, seed);
    let nr = noise(frames, seed + 1);
    let beat = (0.25 * fs) as usize;
    let mut l = Vec::with_capacity(frames);
    let mut r = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = (i % (2 * beat)) as f64 / fs;
        let kick = if (i / beat) % 2 == 0 {
            1.5 * math::exp(-t * 12.0) * math::sin(core::f64::consts::TAU * 55.0 * t)
        } else {
            0.0
        };
        let ts = (i % beat) as f64 / fs;
        let snare = if (i / beat) % 2 == 1 {
            math::exp(-ts * 30.0)
        } else {
            0.0
        };
        let click = if i % 4801 < 5 {
            math::sin(core::f64::consts::TAU * 9000.0 * i as f64 / fs)
        } else {
            0.0
        };
        let g = 4.0; // +12 dB
        l.push(g * (0.5 * nl[i] + kick + snare * nr[i] + click));
        r.push(g * (0.5 * nr[i] + 0.8 * kick + snare * nl[i] - click));
    }
    [l, r]
}

fn latency_of(s: &mixrender_engine::dsp::Slot) -> usize {
    s.processor.latency()
}

#[test]
fn sample_peak_never_passes_the_ceiling() {
    let mut overs = 0usize;
    let mut max_db = f64::NEG_INFINITY;
    for fs in [44100.0, 48000.0, 96000.0] {
        let [l, r] = dense((0.8 * fs) as usize, fs, 7);
        for (ceiling, lookahead, release) in [
            (-1.0, 5.0, 50.0),
            (-0.1, 0.0, 10.0),
            (-6.0, 1.5, 200.0),
            (0.0, 10.0, 1.0),
        ] {
            let insert = limiter(&json!({"ceiling_db": c(ceiling), "lookahead_ms": lookahead,
                "release_ms": c(release)}));
            let mut s = slot(&insert, fs, 4096);
            let want = (lookahead * fs / 1000.0).round() as usize;
            assert_eq!(latency_of(&s), want);
            let [yl, yr] = run(&mut s, 0, 1000, 2, [&l, &r], None);
            let limit = math::db_to_gain(ceiling);
            for y in yl.iter().chain(&yr) {
                assert!(!y.is_nan());
                if y.abs() > limit {
                    overs += 1;
                }
                max_db = max_db.max(db(y.abs()) - ceiling);
            }
            // The gain never exceeds 1: |y[n]| <= |x[n - L]|.
            for (y, x) in yl[want..].iter().zip(&l) {
                assert!(y.abs() <= x.abs());
            }
        }
    }
    eprintln!(
        "limiter (sample peak): {overs} samples over the ceiling, peak {max_db:+.2e} dB re ceiling"
    );
    assert_eq!(overs, 0);
}

#[test]
fn true_peak_mode_holds_the_4x_peak() {
    let mut worst = f64::NEG_INFINITY;
    for fs in [44100.0, 48000.0, 96000.0] {
        let n = (0.6 * fs) as usize;
        let [mut l, mut r] = dense(n, fs, 11);
        // Add high tones whose inter-sample peaks exceed their sample peaks (fs/4 at 45
        // degrees, and 0.4 fs).
        for i in 0..n {
            let t = i as f64;
            let q = core::f64::consts::FRAC_PI_2 * t + core::f64::consts::FRAC_PI_4;
            l[i] += 2.0 * math::sin(q);
            r[i] += 2.0 * math::sin(core::f64::consts::TAU * 0.4 * t);
        }
        for (ceiling, lookahead, release) in
            [(-1.0, 5.0, 50.0), (-0.3, 1.0, 20.0), (-3.0, 0.0, 100.0)]
        {
            let insert = limiter(&json!({"ceiling_db": c(ceiling), "lookahead_ms": lookahead,
                "release_ms": c(release), "true_peak": true}));
            let mut s = slot(&insert, fs, 4096);
            let want = (lookahead * fs / 1000.0).round() as usize + 12;
            assert_eq!(latency_of(&s), want);
            let [yl, yr] = run(&mut s, 0, 512, 2, [&l, &r], None);
            let limit = math::db_to_gain(ceiling);
            assert!(yl.iter().chain(&yr).all(|y| y.abs() <= limit));
            let tp = db(true_peak_of(&yl).max(true_peak_of(&yr))) - ceiling;
            assert!(
                tp <= 0.1,
                "true peak {tp:+.3} dB over the ceiling ({ceiling} dB, lookahead {lookahead} ms, {fs} Hz)"
            );
            worst = worst.max(tp);
        }
    }
    eprintln!("limiter (true peak): worst 4x peak {worst:+.3} dB re ceiling");
}

/// Below the ceiling (by 1 dB or more) the limiter is a pure delay of its latency.
#[test]
fn material_below_the_ceiling_passes_bit_exact() {
    let fs = 48000.0;
    let [l, r] = dense(24000, fs, 5);
    let peak = l.iter().chain(&r).fold(0.0f64, |m, v| m.max(v.abs()));
    // Scale to 1 dB under the ceiling (true peak included for the true-peak mode).
    let g = math::db_to_gain(-1.0 - 3.0 - db(peak));
    let l: Vec<f64> = l.iter().map(|v| v * g).collect();
    let r: Vec<f64> = r.iter().map(|v| v * g).collect();
    for true_peak in [false, true] {
        let insert = limiter(&json!({"ceiling_db": c(-3.0), "true_peak": true_peak}));
        let mut s = slot(&insert, fs, 4096);
        let lat = latency_of(&s);
        let [yl, yr] = run(&mut s, 0, 777, 2, [&l, &r], None);
        assert!(yl[..lat].iter().all(|v| *v == 0.0));
        for (y, x) in [(&yl, &l), (&yr, &r)] {
            assert!(
                y[lat..]
                    .iter()
                    .zip(x.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "true_peak {true_peak}: not a pure delay of {lat}"
            );
        }
    }
}

/// After a peak, the gain in dB recovers `1 - 1/e` of its way in `release_ms` (the
/// documented release time), and is within 0.1 dB of unity after `ln(reduction / 0.1)`
/// time constants.
#[test]
fn release_time_constant() {
    for fs in [44100.0, 96000.0] {
        for release in [20.0, 100.0] {
            let insert = limiter(&json!({"ceiling_db": c(-6.0), "lookahead_ms": 0.0,
                "release_ms": c(release)}));
            let mut s = slot(&insert, fs, 4096);
            // 100 ms at 0 dBFS (6 dB over), then -30 dBFS.
            let a = (0.1 * fs) as usize;
            let b = (30.0 * release / 1000.0 * fs) as usize;
            let x: Vec<f64> = (0..a + b)
                .map(|i| {
                    let v = if i < a { 1.0 } else { 0.03 };
                    if i % 2 == 0 { v } else { -v }
                })
                .collect();
            let [y, _] = run(&mut s, 0, 4096, 1, [&x, &x], None);
            let gain = |i: usize| db(y[i].abs() / x[i].abs());
            dsp_util::assert_close("limited gain", gain(a - 1), -6.0, 1e-9);
            let target = -6.0 * math::exp(-1.0);
            let n = (a..a + b).find(|&i| gain(i) >= target).unwrap() - a + 1;
            let want = release / 1000.0 * fs;
            assert!(
                (n as f64 - want).abs() <= 0.05 * want,
                "release {release} ms at {fs} Hz: 63 % after {n} frames, expected {want}"
            );
            // Within 0.1 dB of unity after ln(6 / 0.1) = 4.1 time constants, +-10 %.
            let back = (a..a + b).find(|&i| gain(i) >= -0.1).unwrap() - a + 1;
            let want_back = want * math::ln(60.0);
            assert!(
                (back as f64 - want_back).abs() <= 0.1 * want_back,
                "within 0.1 dB after {back} frames, expected {want_back:.0}"
            );
            // And exactly unity once the reduction is below 1e-9 dB.
            assert_eq!(gain(a + b - 1), 0.0, "back to unity");
        }
    }
}

/// The lookahead ramp: the gain reaches the wanted gain at the peak, not before it is
/// needed, and an isolated peak is limited to the ceiling exactly.
#[test]
fn isolated_peak_is_limited_to_the_ceiling() {
    let fs = 48000.0;
    let mut x = vec![0.1; 4800];
    x[2000] = 4.0;
    let insert = limiter(&json!({"ceiling_db": c(-1.0), "lookahead_ms": 2.0}));
    let mut s = slot(&insert, fs, 4096);
    let lat = latency_of(&s);
    let [y, _] = run(&mut s, 0, 64, 1, [&x, &x], None);
    let limit = math::db_to_gain(-1.0);
    assert!((y[2000 + lat] - limit).abs() <= 1e-12 * limit);
    // The ramp starts `lat` frames before the peak, and is monotonic down to it.
    assert_eq!(y[1999].to_bits(), 0.1f64.to_bits());
    for i in 2001..2000 + lat {
        assert!(y[i] <= y[i - 1], "ramp not monotonic at {i}");
    }
}
