//! The fader's trim (`trim_db`, added in dB after the fader and its lane) and the loudness
//! gain's place on the master (`loudness_gain_at`).

// The expected values use the platform's maths on purpose: a reference independent of libm.
#![allow(clippy::disallowed_methods, clippy::needless_range_loop)]

mod common;

use common::{bits, c, lane, plan, render, signal, track};
use mixrender_engine::math;
use serde_json::json;

const N: usize = 6000;

#[test]
fn a_static_trim_is_the_fader_moved_by_as_much_to_the_bit() {
    let src = signal(N, 2, 7);
    let mut t = track("T", 2, 48000, N as u64, 0);
    t["gain_db"] = c(-2.0);
    t["trim_db"] = c(-3.5);
    let trimmed = render(
        &plan(vec![t.clone()], N as u64),
        std::slice::from_ref(&src),
        1000,
        1,
    );
    t["gain_db"] = c(-5.5);
    t.as_object_mut().unwrap().remove("trim_db");
    let moved = render(&plan(vec![t], N as u64), &[src], 1000, 1);
    assert!(bits(&trimmed) == bits(&moved));
}

#[test]
fn a_trim_lane_adds_to_the_fader_frame_by_frame() {
    let src = vec![0.25f32; N];
    let mut t = track("T", 1, 48000, N as u64, 0);
    t["pan_law"] = json!("0dB");
    t["gain_db"] = lane(&[(0, -6.0, "linear"), (3000, 0.0, "linear")]);
    t["trim_db"] = lane(&[
        (1000, 0.0, "linear"),
        (4000, 6.0, "step"),
        (5000, -20.0, "linear"),
    ]);
    let [l, _] = render(&plan(vec![t], N as u64), &[src], 333, 2);
    for n in 0..N {
        let g = if n < 3000 {
            -6.0 + 6.0 * n as f64 / 3000.0
        } else {
            0.0
        };
        let trim = match n {
            0..1000 => 0.0,
            1000..4000 => 6.0 * (n - 1000) as f64 / 3000.0,
            4000..5000 => 6.0,
            _ => -20.0,
        };
        let want = 0.25 * 10f64.powf((g + trim) / 20.0);
        assert!(
            (l[n] - want).abs() <= 1e-12,
            "frame {n}: {} vs {want}",
            l[n]
        );
    }
}

#[test]
fn a_trim_never_turns_on_a_fader_or_vca_that_is_off() {
    let src = vec![0.5f32; 200];
    let mut t = track("T", 1, 48000, 200, 0);
    t["gain_db"] = c(-144.0);
    t["trim_db"] = c(24.0);
    let [l, r] = render(
        &plan(vec![t.clone()], 200),
        std::slice::from_ref(&src),
        64,
        1,
    );
    assert!(l.iter().chain(&r).all(|&v| v == 0.0));
    t["gain_db"] = lane(&[(0, 10.0, "linear"), (199, 12.0, "linear")]);
    t["vcas"] = json!([0]);
    let mut p = plan(vec![t], 200);
    p["vcas"] = json!([{"name": "V", "gain_db": c(-144.0)}]);
    let [l, r] = render(&p, &[src], 64, 1);
    assert!(
        l.iter().chain(&r).all(|&v| v == 0.0),
        "a VCA at -144 dB under a moving fader"
    );
}

fn limited(at: Option<&str>) -> serde_json::Value {
    let mut t = track("T", 1, 48000, N as u64, 0);
    t["pan_law"] = json!("0dB");
    let mut p = plan(vec![t], N as u64);
    p["master"]["inserts"] = json!([{"type": "limiter", "name": "lim", "bypass": false,
        "ceiling_db": c(-6.0), "release_ms": c(50.0), "lookahead_ms": 0.0, "true_peak": false}]);
    p["master"]["loudness_gain_db"] = json!(6.0);
    if let Some(at) = at {
        p["master"]["loudness_gain_at"] = json!(at);
    }
    p
}

#[test]
fn the_loudness_gain_goes_before_the_master_inserts_when_asked() {
    let src = vec![0.25f32; N]; // -12 dBFS: under the limiter's ceiling of -6
    let ceiling = math::db_to_gain(-6.0);
    // At the input, +6 dB brings it to the ceiling, where the limiter holds it.
    let [l, _] = render(&limited(Some("input")), std::slice::from_ref(&src), 1000, 1);
    assert!(l.iter().all(|&v| v <= ceiling));
    assert!((l[N / 2] - 0.25 * math::db_to_gain(6.0)).abs() < 1e-12);
    // After the inserts (the default), the same gain lands on the limited signal.
    let [out, _] = render(
        &limited(Some("output")),
        std::slice::from_ref(&src),
        1000,
        1,
    );
    let [default, _] = render(&limited(None), &[src], 1000, 1);
    assert_eq!(
        bits(&[out.clone(), out.clone()]),
        bits(&[default.clone(), default])
    );
    assert!((out[N / 2] - 0.25 * math::db_to_gain(6.0)).abs() < 1e-12);
    let mut quiet = limited(Some("input"));
    quiet["master"]["loudness_gain_db"] = json!(12.0);
    let [l, _] = render(&quiet, &[vec![0.25f32; N]], 1000, 1);
    assert!(l.iter().all(|&v| v <= ceiling) && l[N / 2] == ceiling);
}
