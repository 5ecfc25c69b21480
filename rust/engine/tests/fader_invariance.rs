//! The fader sums its own `gain_db`, its `trim_db` and every VCA's lane; whichever of them
//! move, and in whatever shapes, the render is the same to the bit for every block size and
//! thread count, and the fader is off wherever its own lane or a VCA is at or below -144 dB.

// The expected values use the platform's maths on purpose: a reference independent of libm.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{bits, c, lane, plan, render, signal, track};
use serde_json::{Value, json};

const N: usize = 12_000;
const BLOCKS: [usize; 5] = [64, 100, 256, 1000, 4096];

/// Lanes of varied shapes: a long ramp, a short ramp ending mid-block, jumps, eased
/// segments, a flat linear stretch next to a ramp, and a ramp through "off".
fn shapes() -> Vec<Value> {
    vec![
        // The fuzzer's case, scaled: a slow ramp under (or over) a ramp that ends at frame 480.
        lane(&[(0, 0.0, "linear"), (N as u64, 1.0, "linear")]),
        lane(&[(0, 0.0, "linear"), (480, 1.0, "linear")]),
        lane(&[
            (100, -6.0, "linear"),
            (2000, -6.0, "linear"),
            (2050, 3.0, "smooth"),
            (5000, -12.0, "step"),
            (7001, 2.0, "linear"),
            (9100, -1.0, "fast_start"),
            (11_000, 0.5, "linear"),
        ]),
        lane(&[
            (33, -3.0, "linear"),
            (33, 4.0, "linear"),
            (1234, -20.0, "fast_end"),
            (4321, 0.25, "linear"),
            (6000, 0.25, "linear"),
            (8000, -144.0, "linear"),
            (10_000, -2.0, "linear"),
        ]),
    ]
}

/// Renders one track with the given fader, trim and VCA lanes at every block size (and
/// with 2 threads at one of them) and checks that the bits agree.
fn same_bits_at_every_block_size(own: &Value, trim: Option<&Value>, vcas: &[&Value], what: &str) {
    let src = signal(N, 2, 11);
    let mut t = track("T", 2, 48000, N as u64, 0);
    t["gain_db"] = own.clone();
    if let Some(trim) = trim {
        t["trim_db"] = trim.clone();
    }
    t["vcas"] = json!((0..vcas.len()).collect::<Vec<_>>());
    // A second track on the same VCAs, so that a thread count can matter.
    let mut u = t.clone();
    u["name"] = json!("U");
    let mut p = plan(vec![t, u], N as u64);
    p["vcas"] = json!(
        vcas.iter()
            .enumerate()
            .map(|(i, l)| json!({"name": format!("V{i}"), "gain_db": l}))
            .collect::<Vec<_>>()
    );
    let sources = [src.clone(), src];
    let want = bits(&render(&p, &sources, BLOCKS[0], 1));
    for &block in &BLOCKS[1..] {
        let got = bits(&render(&p, &sources, block, 1));
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            first.is_none(),
            "{what}: block {block} differs from block 64 at sample {first:?}"
        );
    }
    assert!(
        bits(&render(&p, &sources, 256, 2)) == want,
        "{what}: 2 threads differ"
    );
}

#[test]
fn fader_and_vca_lanes_give_the_same_bits_at_every_block_size() {
    let lanes = shapes();
    for (i, a) in lanes.iter().enumerate() {
        for (j, b) in lanes.iter().enumerate() {
            same_bits_at_every_block_size(a, None, &[b], &format!("fader {i} + VCA {j}"));
        }
    }
}

#[test]
fn fader_and_trim_lanes_give_the_same_bits_at_every_block_size() {
    let lanes = shapes();
    let trims = [
        lane(&[(0, 0.0, "linear"), (480, 1.0, "linear")]),
        lane(&[(0, -3.0, "linear"), (N as u64, 6.0, "linear")]),
        lane(&[
            (500, 2.0, "step"),
            (3000, -4.0, "smooth"),
            (9000, 1.0, "linear"),
        ]),
    ];
    for (i, a) in lanes.iter().enumerate() {
        for (j, trim) in trims.iter().enumerate() {
            same_bits_at_every_block_size(a, Some(trim), &[], &format!("fader {i} + trim {j}"));
            same_bits_at_every_block_size(
                &c(-1.5),
                Some(trim),
                &[a],
                &format!("trim {j} + VCA {i}"),
            );
        }
    }
}

#[test]
fn fader_trim_and_vcas_together_give_the_same_bits_at_every_block_size() {
    let lanes = shapes();
    let trim = lane(&[(0, -3.0, "linear"), (N as u64, 6.0, "linear")]);
    for (i, a) in lanes.iter().enumerate() {
        for (j, b) in lanes.iter().enumerate() {
            same_bits_at_every_block_size(
                a,
                Some(&trim),
                &[b],
                &format!("fader {i} + trim + VCA {j}"),
            );
        }
    }
    // Two VCAs, one of them static: the order of the dB sum must not depend on the block.
    let flat_then_ramp = lane(&[
        (0, -2.0, "linear"),
        (3000, -2.0, "linear"),
        (6000, 4.0, "linear"),
    ]);
    for b in &lanes {
        same_bits_at_every_block_size(
            &flat_then_ramp,
            Some(&trim),
            &[&c(-0.7), b],
            "fader, trim and two VCAs",
        );
        same_bits_at_every_block_size(
            &flat_then_ramp,
            None,
            &[&c(-0.7), &c(0.3)],
            "flat fader next to a ramp under two static VCAs",
        );
    }
}

#[test]
fn the_fader_is_off_wherever_its_own_lane_is_at_or_below_minus_144_db() {
    // A VCA at +12 dB must not keep a fader lane that reaches -144 dB (off) sounding.
    let src = vec![0.5f32; N];
    let mut t = track("T", 1, 48000, N as u64, 0);
    t["pan_law"] = json!("0dB");
    t["gain_db"] = lane(&[(0, -140.0, "linear"), (8010, -144.0, "linear")]);
    t["vcas"] = json!([0]);
    let mut p = plan(vec![t], N as u64);
    p["vcas"] = json!([{"name": "V", "gain_db": c(12.0)}]);
    for block in [64, 4096] {
        let [l, _] = render(&p, std::slice::from_ref(&src), block, 1);
        for (n, &x) in l.iter().enumerate() {
            let own = -140.0 - 4.0 * (n.min(8010) as f64) / 8010.0;
            if n >= 8010 {
                assert!(
                    x == 0.0,
                    "block {block}, frame {n}: {x} with the fader at -144 dB"
                );
            } else {
                let want = 0.5 * 10f64.powf((own + 12.0) / 20.0);
                assert!(
                    (x - want).abs() <= want * 1e-12,
                    "block {block}, frame {n}: {x} vs {want}"
                );
            }
        }
    }
}

#[test]
fn the_fader_is_off_wherever_its_summed_level_is_at_or_below_minus_144_db() {
    // The fader's own lane stays above -144 dB; with the trim and a VCA at -10 dB the sum
    // crosses it inside a grid cell. Per frame, a sum at or below -144 dB is silence.
    let src = vec![0.5f32; N];
    let mut t = track("T", 1, 48000, N as u64, 0);
    t["pan_law"] = json!("0dB");
    t["gain_db"] = lane(&[(0, -126.0, "linear"), (8010, -136.0, "linear")]);
    t["trim_db"] = c(-2.0);
    t["vcas"] = json!([0]);
    let mut p = plan(vec![t], N as u64);
    p["vcas"] = json!([{"name": "V", "gain_db": c(-10.0)}]);
    for block in [64, 4096] {
        let [l, _] = render(&p, std::slice::from_ref(&src), block, 1);
        for (n, &x) in l.iter().enumerate() {
            let sum = -138.0 - 10.0 * (n.min(8010) as f64) / 8010.0;
            if (sum + 144.0).abs() < 1e-9 {
                // Rounding decides on the boundary itself.
            } else if sum < -144.0 {
                assert!(
                    x == 0.0,
                    "block {block}, frame {n}: {x} with the sum at {sum} dB"
                );
            } else {
                let want = 0.5 * 10f64.powf(sum / 20.0);
                assert!(
                    (x - want).abs() <= want * 1e-12,
                    "block {block}, frame {n}: {x} vs {want}"
                );
            }
        }
    }
}
