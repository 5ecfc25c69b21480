//! Mute with insert latency: "a lane's value at timeline frame n applies to the audio that
//! left the source at frame n", and mute silences the strip and all its sends. A strip whose
//! inserts delay its audio (a limiter's lookahead) is muted and unmuted on the same source
//! frames on its output and on every send, whichever tap the send takes (before the inserts,
//! where the audio is earlier by their latency, or after them), on a track and on a bus.

mod common;

use common::{bus, c, lane, plan, render, signal};
use serde_json::{Value, json};

const N: usize = 12000;
/// The mute lane: muted on frames `MUTE .. UNMUTE`.
const MUTE: usize = 4800;
const UNMUTE: usize = 7200;

fn limiter(lookahead_ms: f64) -> Value {
    json!({"type": "limiter", "name": "lim", "bypass": false, "ceiling_db": c(0.0),
        "release_ms": c(50.0), "lookahead_ms": lookahead_ms, "true_peak": false})
}

fn mono_track() -> Value {
    let mut t = common::track("T", 1, 48000, N as u64, 0);
    t["pan_law"] = json!("0dB");
    t
}

/// The strip under test sends to bus "S" from `tap`; the strip plays on the left only, the
/// send on the right only. `on_bus`: the strip is a bus fed by a track that has a latency of
/// its own (so the bus's input is late too), else it is the track. Strips: T, [A,] S.
fn mute_plan(tap: &str, on_bus: bool, muted: &Value, solo_muted: bool) -> Value {
    let mut t = mono_track();
    let mut strip = if on_bus {
        t["inserts"] = json!([limiter(1.0)]);
        t["output"] = json!({"strip": 1});
        bus("A")
    } else {
        t.clone()
    };
    strip["inserts"] = json!([limiter(2.0)]);
    strip["pan"] = c(-1.0);
    strip["mute"] = muted.clone();
    strip["solo_muted"] = json!(solo_muted);
    let to = if on_bus { 2 } else { 1 };
    strip["sends"] = json!([{"to": to, "tap": tap, "level_db": c(0.0), "pan": c(1.0)}]);
    if on_bus {
        plan(vec![t, strip, bus("S")], N as u64)
    } else {
        plan(vec![strip, bus("S")], N as u64)
    }
}

#[test]
fn a_mute_lane_silences_the_output_and_every_send_on_the_same_source_frames() {
    let src = signal(N, 1, 7);
    let muted = lane(&[
        (0, 0.0, "step"),
        (MUTE as u64, 1.0, "step"),
        (UNMUTE as u64, 0.0, "step"),
    ]);
    for on_bus in [false, true] {
        for tap in ["pre_inserts", "pre_fader", "post_fader"] {
            for block in [64, 1000, 4096] {
                let what = format!(
                    "{tap} send, on a {}, block {block}",
                    if on_bus { "bus" } else { "track" }
                );
                let [l, r] = render(
                    &mute_plan(tap, on_bus, &muted, false),
                    std::slice::from_ref(&src),
                    block,
                    1,
                );
                for i in 0..N {
                    // The limiter (ceiling 0 dB, the signal within +-0.5) is a pure delay,
                    // compensated: the strip and its send are the source itself, or muted.
                    let want = if (MUTE..UNMUTE).contains(&i) {
                        0.0
                    } else {
                        f64::from(src[i])
                    };
                    assert_eq!(l[i].to_bits(), want.to_bits(), "{what}: the strip at {i}");
                    assert_eq!(r[i].to_bits(), want.to_bits(), "{what}: the send at {i}");
                }
            }
        }
    }
}

#[test]
fn a_solo_elsewhere_silences_a_strip_with_latency_and_all_its_sends() {
    let src = signal(N, 1, 8);
    for on_bus in [false, true] {
        for tap in ["pre_inserts", "pre_fader", "post_fader"] {
            let [l, r] = render(
                &mute_plan(tap, on_bus, &c(0.0), true),
                std::slice::from_ref(&src),
                1000,
                1,
            );
            assert!(
                l.iter().all(|&v| v == 0.0),
                "{tap}, bus {on_bus}: the strip"
            );
            assert!(r.iter().all(|&v| v == 0.0), "{tap}, bus {on_bus}: the send");
            // The same plan unmuted sounds on both sides (the check above can fail).
            let [l, r] = render(
                &mute_plan(tap, on_bus, &c(0.0), false),
                std::slice::from_ref(&src),
                1000,
                1,
            );
            assert!(l.iter().any(|&v| v != 0.0) && r.iter().any(|&v| v != 0.0));
        }
    }
}
