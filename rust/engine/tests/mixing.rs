//! The mixing core against the format's formulas: pan laws, faders, automation, sends,
//! mute, VCAs, routing; and block-size and thread-count invariance.

// The expected values use the platform's maths on purpose: a reference independent of libm.
#![allow(clippy::disallowed_methods, clippy::needless_range_loop)]

mod common;

use common::{bits, bus, c, lane, plan, render, signal, track};
use mixrender_engine::{Engine, EngineConfig, EngineError, Plan, SourceBlock, math};
use serde_json::json;

const N: usize = 9000;

/// Everything the spine renders, in one plan: buses into buses, sends on all taps,
/// automation of every per-frame target, a VCA, an offset, a resampled source.
fn busy_plan() -> serde_json::Value {
    let mut vox = track("Vox", 1, 48000, N as u64, 300);
    vox["gain_db"] = lane(&[
        (0, -3.0, "linear"),
        (2000, 0.0, "smooth"),
        (4000, -6.0, "step"),
        (6000, 0.0, "linear"),
    ]);
    vox["pan"] = lane(&[(0, -0.5, "fast_start"), (5000, 0.7, "linear")]);
    vox["output"] = json!({"strip": 3});
    vox["vcas"] = json!([0]);
    vox["sends"] = json!([
        {"to": 4, "tap": "post_fader", "level_db": lane(&[(0, -20.0, "linear"), (7000, -6.0, "linear")]), "pan": c(0.3)},
        {"to": 5, "tap": "pre_inserts", "level_db": c(-10.0), "pan": lane(&[(100, -1.0, "linear"), (3000, 1.0, "linear")])},
    ]);
    vox["inserts"] = json!([{"type": "gain", "name": "trim", "bypass": false, "gain_db": lane(&[(0, 0.0, "linear"), (8000, -4.0, "linear")]), "polarity": true}]);
    let mut keys = track("Keys", 2, 44100, 8000, 0);
    keys["width"] = lane(&[(0, 0.0, "linear"), (8000, 2.0, "linear")]);
    keys["mute"] = lane(&[(0, 0.0, "step"), (3000, 1.0, "step"), (3500, 0.0, "step")]);
    keys["pan_law"] = json!("-4.5dB");
    keys["sends"] = json!([{"to": 4, "tap": "pre_fader", "level_db": c(-12.0), "pan": c(0.0)}]);
    keys["vcas"] = json!([0]);
    keys["clip_gain_db"] = json!(3.5);
    let mut drums = track("Drums", 2, 48000, N as u64, 0);
    drums["output"] = json!({"strip": 3});
    drums["inserts"] =
        json!([{"type": "width", "name": "width", "bypass": false, "width": c(0.5)}]);
    let mut group = bus("Group");
    group["output"] = json!({"strip": 5});
    group["gain_db"] = c(-2.0);
    let verb = bus("Verb");
    let mut sub = bus("Sub");
    sub["pan"] = lane(&[(0, 0.0, "linear"), (N as u64, -0.4, "linear")]);
    let mut p = plan(vec![vox, keys, drums, group, verb, sub], N as u64 + 500);
    p["vcas"] =
        json!([{"name": "All", "gain_db": lane(&[(0, 0.0, "linear"), (4500, -3.0, "linear")])}]);
    p["master"]["gain_db"] = lane(&[(0, 0.0, "linear"), (N as u64, -1.5, "linear")]);
    p
}

fn busy_sources() -> Vec<Vec<f32>> {
    vec![signal(N, 1, 1), signal(8000, 2, 2), signal(N, 2, 3)]
}

#[test]
fn block_size_and_threads_never_change_a_bit() {
    let p = busy_plan();
    let src = busy_sources();
    let reference = bits(&render(&p, &src, 4096, 1));
    for block in [1, 7, 64, 1000, 4096, 65536] {
        for threads in [1, 2] {
            if block == 1 && threads == 2 {
                continue; // slow in debug and adds nothing over block 1 with one thread
            }
            assert!(
                bits(&render(&p, &src, block, threads)) == reference,
                "block {block}, threads {threads} differs"
            );
        }
    }
    // Whole blocks (as when stems are written) against sub-blocks in a pipeline.
    for (block, threads) in [(4096, 1), (1000, 2), (65536, 2)] {
        assert!(
            bits(&common::render_as(
                &p,
                Vec::new(),
                &src,
                block,
                threads,
                true
            )) == reference,
            "whole blocks of {block}, threads {threads} differ"
        );
    }
    let [l, _] = render(&p, &src, 4096, 1);
    assert!(
        l.iter().any(|&v| v.abs() > 0.01),
        "the busy plan renders sound"
    );
}

#[test]
fn unity_track_at_centre_with_0db_law_is_its_source_bit_for_bit() {
    for channels in [1, 2] {
        let mut t = track("T", channels, 48000, 5000, 0);
        t["pan_law"] = json!("0dB");
        let src = signal(5000, channels, 9);
        let [l, r] = render(&plan(vec![t], 5000), std::slice::from_ref(&src), 512, 1);
        for i in 0..5000 {
            let (xl, xr) = (src[i * channels], src[i * channels + channels - 1]);
            assert_eq!(l[i].to_bits(), f64::from(xl).to_bits());
            assert_eq!(r[i].to_bits(), f64::from(xr).to_bits());
        }
    }
}

#[test]
fn minus_3db_law_centre_and_hard_pan() {
    let src = vec![0.5f32; 100];
    let [l, r] = render(
        &plan(vec![track("T", 1, 48000, 100, 0)], 100),
        std::slice::from_ref(&src),
        64,
        1,
    );
    for side in [&l, &r] {
        let db = 20.0 * (side[50] / 0.5).log10();
        assert!((db - -3.0103).abs() < 5e-5, "centre {db} dB");
    }
    for (p, far) in [(1.0, 0usize), (-1.0, 1)] {
        let mut t = track("T", 1, 48000, 100, 0);
        t["pan"] = c(p);
        let out = render(&plan(vec![t], 100), std::slice::from_ref(&src), 64, 1);
        assert!(
            out[far].iter().all(|&v| v.to_bits() == 0),
            "far side of pan {p}"
        );
        assert_eq!(out[1 - far][10], 0.5);
    }
}

#[test]
fn a_gain_step_lands_on_the_exact_frame_and_ramps_follow_the_formula() {
    let src = vec![0.25f32; 4000];
    let mut t = track("T", 1, 48000, 4000, 0);
    t["pan_law"] = json!("0dB");
    t["gain_db"] = lane(&[
        (0, 0.0, "linear"),
        (1000, 0.0, "linear"),
        (1000, -6.0, "linear"),
        (1500, -6.0, "linear"),
        (3500, 6.0, "linear"),
    ]);
    let [l, _] = render(&plan(vec![t], 4000), &[src], 333, 1);
    assert_eq!(l[999], 0.25);
    assert_eq!(l[1000], 0.25 * math::db_to_gain(-6.0));
    for n in 1500..=3500 {
        let db = -6.0 + 12.0 * (n - 1500) as f64 / 2000.0;
        let want = 0.25 * 10f64.powf(db / 20.0);
        assert!((l[n] - want).abs() <= 1e-9, "frame {n}: {} vs {want}", l[n]);
    }
}

#[test]
fn pre_fader_sends_ignore_the_fader_and_post_fader_sends_follow_it() {
    let src = vec![0.5f32; 200];
    for (tap, fader, expect_send) in [
        ("pre_fader", -144.0, true),
        ("post_fader", -144.0, false),
        ("pre_inserts", -144.0, true),
        ("post_fader", -6.0, true),
    ] {
        let mut t = track("T", 1, 48000, 200, 0);
        t["gain_db"] = c(fader);
        t["pan_law"] = json!("0dB");
        t["sends"] = json!([{"to": 1, "tap": tap, "level_db": c(0.0), "pan": c(0.0)}]);
        let [l, _] = render(
            &plan(vec![t, bus("Aux")], 200),
            std::slice::from_ref(&src),
            64,
            1,
        );
        let want = if expect_send {
            0.5 * math::db_to_gain(if tap == "post_fader" { fader } else { 0.0 })
        } else {
            0.0
        };
        let direct = 0.5 * math::db_to_gain(fader);
        assert!(
            (l[100] - (want + direct)).abs() < 1e-15,
            "{tap} at {fader}: {}",
            l[100]
        );
    }
}

#[test]
fn mute_and_solo_silence_the_strip_and_its_sends() {
    let src = vec![0.5f32; 200];
    for key in ["mute", "solo_muted"] {
        let mut t = track("T", 1, 48000, 200, 0);
        t["sends"] = json!([{"to": 1, "tap": "pre_fader", "level_db": c(0.0), "pan": c(0.0)}]);
        if key == "mute" {
            t["mute"] = lane(&[(0, 0.0, "step"), (100, 1.0, "step")]);
        } else {
            t["solo_muted"] = json!(true);
        }
        let [l, r] = render(
            &plan(vec![t, bus("Aux")], 200),
            std::slice::from_ref(&src),
            64,
            1,
        );
        let from = if key == "mute" { 100 } else { 0 };
        assert!(
            l[from..].iter().chain(&r[from..]).all(|&v| v == 0.0),
            "{key}"
        );
        if key == "mute" {
            assert!(l[99] > 0.5, "before the mute, direct plus send sound");
        }
    }
}

#[test]
fn a_vca_adds_its_gain_to_its_members_faders() {
    let src = vec![0.5f32; 100];
    let mut t = track("T", 1, 48000, 100, 0);
    t["gain_db"] = c(-4.0);
    t["vcas"] = json!([0, 1]);
    t["pan_law"] = json!("0dB");
    let mut p = plan(vec![t], 100);
    p["vcas"] = json!([{"name": "A", "gain_db": c(-2.5)}, {"name": "B", "gain_db": c(1.0)}]);
    let [l, _] = render(&p, std::slice::from_ref(&src), 64, 1);
    assert!((l[10] - 0.5 * math::db_to_gain(-5.5)).abs() < 1e-15);
    p["vcas"][1]["gain_db"] = c(-144.0);
    let [l, _] = render(&p, &[src], 64, 1);
    assert_eq!(l[10], 0.0, "a VCA at -144 dB turns its members off");
}

#[test]
fn offsets_place_the_source_on_its_frame() {
    let src = vec![0.5f32; 10];
    let mut t = track("T", 1, 48000, 10, 1234);
    t["pan_law"] = json!("0dB");
    let [l, _] = render(&plan(vec![t], 2000), &[src], 100, 1);
    assert_eq!(l[1233], 0.0);
    assert_eq!(l[1234], 0.5);
    assert_eq!(l[1243], 0.5);
    assert_eq!(l[1244], 0.0);
}

/// Blocks of `block` frames until the first error: how many rendered, and the error.
fn render_until_error(
    plan: &serde_json::Value,
    sources: &[Vec<f32>],
    block: usize,
    threads: usize,
) -> (usize, EngineError) {
    let p = Plan::from_json(plan.to_string().as_bytes()).unwrap();
    let config = EngineConfig {
        max_block: block,
        threads,
        stems: false,
    };
    let mut engine = Engine::new(&p, config).unwrap();
    let mut read = vec![0; sources.len()];
    let mut wanted = vec![0; sources.len()];
    let mut done = 0;
    while engine.position() < engine.frames() {
        let n = block.min(usize::try_from(engine.frames() - engine.position()).unwrap());
        engine.source_frames_wanted(n, &mut wanted);
        let blocks: Vec<SourceBlock<'_>> = (0..sources.len())
            .map(|t| SourceBlock::F32(&sources[t][read[t]..read[t] + wanted[t]]))
            .collect();
        read.iter_mut().zip(&wanted).for_each(|(r, w)| *r += w);
        if let Err(e) = engine.process_block(&blocks, n) {
            return (done, e);
        }
        done += 1;
    }
    panic!("the render ended without an error")
}

#[test]
fn a_source_sample_that_is_not_finite_stops_the_render_naming_track_and_frame() {
    // A plays from frame 100 with a NaN at its frame 5000; B an infinity at its frame 4200.
    let (mut a, mut b) = (vec![0.25f32; 8000], vec![0.25f32; 8000]);
    a[5000] = f32::NAN;
    b[4200] = f32::INFINITY;
    let mut ta = track("A", 1, 48000, 8000, 100);
    ta["inserts"] = json!([{"type": "eq", "name": "eq", "bypass": false, "bands": []}]);
    let tb = track("B", 1, 48000, 8000, 0);
    for (block, threads) in [(1000, 1), (1000, 2), (4096, 2), (65536, 2)] {
        let (done, e) = render_until_error(
            &plan(vec![ta.clone(), tb.clone()], 9000),
            &[a.clone(), b.clone()],
            block,
            threads,
        );
        // The first block that plays either stops the render; in one block, the first track
        // in order is named, though the other's comes earlier.
        assert_eq!(done, 4200 / block, "block {block}");
        let (track, frame) = if block == 1000 {
            ("B", 4200)
        } else {
            ("A", 5100)
        };
        assert_eq!(
            e,
            EngineError::SourceNotFinite {
                track: track.into(),
                path: None,
                frame
            },
            "block {block}, threads {threads}"
        );
        assert!(e.to_string().contains("NaN or infinity"), "{e}");
    }
}

#[test]
fn routing_cycles_are_refused_with_the_cycle() {
    let mut a = bus("A");
    a["output"] = json!({"strip": 1});
    let mut b = bus("B");
    b["sends"] = json!([{"to": 0, "tap": "post_fader", "level_db": c(0.0), "pan": c(0.0)}]);
    let p = Plan::from_json(plan(vec![a, b], 10).to_string().as_bytes()).unwrap();
    let Err(e) = Engine::new(
        &p,
        EngineConfig {
            max_block: 16,
            threads: 1,
            stems: false,
        },
    ) else {
        panic!("a cycle must be refused");
    };
    assert!(
        matches!(&e, EngineError::RoutingCycle { names } if names.len() == 3),
        "{e}"
    );
    assert!(
        e.to_string().contains("\"A\" -> \"B\" -> \"A\"")
            || e.to_string().contains("\"B\" -> \"A\" -> \"B\""),
        "{e}"
    );
}

#[test]
fn plans_with_unknown_fields_or_versions_are_refused() {
    let mut p = plan(vec![], 10);
    p["surprise"] = json!(1);
    assert!(Plan::from_json(p.to_string().as_bytes()).is_err());
    let mut p = plan(vec![], 10);
    p["version"] = json!(99);
    let e = Plan::from_json(p.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("version"), "{e}");
}

#[test]
fn width_one_is_the_identity_whether_or_not_its_lane_moves_in_the_block() {
    let src = signal(6000, 2, 5);
    let mut t = track("T", 2, 48000, 6000, 0);
    t["pan_law"] = json!("0dB");
    t["width"] = lane(&[
        (0, 1.0, "linear"),
        (4000, 1.0, "linear"),
        (5000, 1.5, "linear"),
    ]);
    for block in [64, 1000, 4096] {
        let [l, r] = render(
            &plan(vec![t.clone()], 6000),
            std::slice::from_ref(&src),
            block,
            1,
        );
        for i in 0..4000 {
            assert_eq!(
                l[i].to_bits(),
                f64::from(src[2 * i]).to_bits(),
                "block {block} frame {i}"
            );
            assert_eq!(r[i].to_bits(), f64::from(src[2 * i + 1]).to_bits());
        }
    }
}

/// Tracks A and C into bus B (saturation with a sidechain-keyed compressor after it, a
/// pre-inserts send to bus E), track D to the master; polarity on `inverted` strips.
fn polarity_plan(inverted: &[usize], b_gain_db: f64, muted: &[usize]) -> serde_json::Value {
    let mut a = track("A", 1, 48000, 6000, 0);
    a["output"] = json!({"strip": 3});
    a["pan"] = c(-0.3);
    let mut cc = track("C", 2, 48000, 6000, 100);
    cc["output"] = json!({"strip": 3});
    cc["clip_gain_db"] = json!(-2.0);
    let d = track("D", 1, 48000, 6000, 0);
    let mut b = bus("B");
    b["gain_db"] = c(b_gain_db);
    b["sends"] = json!([{"to": 4, "tap": "pre_inserts", "level_db": c(-6.0), "pan": c(0.2)}]);
    b["inserts"] = json!([
        {"type": "saturation", "name": "sat", "bypass": false, "drive_db": c(9.0),
            "shape": "tanh", "oversample": 4, "output_db": c(-6.0), "mix": c(1.0)},
        {"type": "compressor", "name": "comp", "bypass": false, "threshold_db": c(-30.0),
            "ratio": c(4.0), "knee_db": c(0.0), "attack_ms": c(1.0), "release_ms": c(50.0),
            "makeup_db": c(0.0), "detector": "peak", "rms_ms": c(10.0), "sidechain": 2,
            "sidechain_hpf_hz": null, "stereo_link": true, "mix": c(1.0)},
    ]);
    let mut e = bus("E");
    e["inserts"] = json!([
        {"type": "saturation", "name": "soft", "bypass": false, "drive_db": c(6.0),
            "shape": "soft", "oversample": 2, "output_db": c(0.0), "mix": c(1.0)},
    ]);
    let mut strips = vec![a, cc, d, b, e];
    for &s in inverted {
        strips[s]["polarity"] = json!(true);
    }
    for &s in muted {
        strips[s]["mute"] = c(1.0);
    }
    plan(strips, 6500)
}

/// Sources that are not symmetric about zero: half-waves of different size and an offset.
fn lopsided(frames: usize, channels: usize, seed: u32) -> Vec<f32> {
    signal(frames, channels, seed)
        .into_iter()
        .map(|v| if v > 0.0 { v + 0.05 } else { 0.3 * v + 0.05 })
        .collect()
}

#[test]
fn bus_polarity_inverts_the_bus_at_the_head_of_its_strip() {
    let src = vec![
        lopsided(6000, 1, 4),
        lopsided(6000, 2, 5),
        signal(6000, 1, 6),
    ];
    let r = |inverted: &[usize], b_gain: f64, muted: &[usize]| {
        let out = render(&polarity_plan(inverted, b_gain, muted), &src, 1000, 2);
        assert!(
            out.iter().flatten().all(|v| v.abs() < 1.0),
            "nothing clipped"
        );
        out
    };
    let neg = |x: &[Vec<f64>; 2]| x.clone().map(|c| c.into_iter().map(|v| -v).collect());
    // Equal values (a negated silence is -0.0, the master's sum of it +0.0).
    let same = |x: &[Vec<f64>; 2], y: &[Vec<f64>; 2]| x == y;
    // Bus B alone (D muted still keys it; E muted), E alone (B's fader off), D alone.
    let (b, e, d) = (
        r(&[], 0.0, &[2, 4]),
        r(&[], -144.0, &[2]),
        r(&[], 0.0, &[3]),
    );
    for x in [&b, &e, &d] {
        assert!(x[0].iter().any(|v| v.abs() > 0.01), "each part sounds");
    }
    assert!(same(&r(&[3], 0.0, &[2, 4]), &neg(&b)), "B negated");
    assert!(
        same(&r(&[3], -144.0, &[2]), &neg(&e)),
        "its pre-inserts send too"
    );
    assert!(
        bits(&r(&[3], 0.0, &[3])) == bits(&d),
        "a direct track is left alone"
    );
    let whole = r(&[3], 0.0, &[]);
    for ch in 0..2 {
        for i in 0..6500 {
            let expected = (d[ch][i] - b[ch][i]) - e[ch][i];
            assert_eq!(whole[ch][i].to_bits(), expected.to_bits(), "{ch} {i}");
        }
    }
    // Inverting the bus's sum is inverting each of its inputs (at their sources), bit for
    // bit: through the nonlinear inserts and into the pre-inserts send.
    assert!(bits(&whole) == bits(&r(&[0, 1], 0.0, &[])));
    assert!(bits(&whole) != bits(&r(&[], 0.0, &[])));
}
