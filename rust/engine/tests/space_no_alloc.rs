//! Neither the delay nor the reverb allocates while processing (automated, gliding, mono
//! turned stereo, bypassed, reset): each runs under an allocation guard, alone and inside
//! an engine render (a mono track through a ping-pong delay, a reverb on a bus).

mod common;
mod dsp_util;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use dsp_util::{c, lane, slot};
use mixrender_engine::dsp::AudioBlock;
use mixrender_engine::{Engine, EngineConfig, OutputBlock, Plan, SourceBlock};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

fn ramp(a: f64, b: f64) -> Value {
    lane(&[(0, a, "linear"), (3000, b, "smooth"), (5000, a, "step")])
}

fn delay(time: Value, ping_pong: bool) -> Value {
    json!({"type": "delay", "name": "dly", "bypass": false, "time_ms": time,
        "feedback": ramp(0.3, -0.6), "ping_pong": ping_pong, "lowcut_hz": ramp(80.0, 300.0),
        "highcut_hz": c(6000.0), "mix": ramp(1.0, 0.5)})
}

fn reverb() -> Value {
    json!({"type": "reverb", "name": "verb", "bypass": false, "decay_s": ramp(0.8, 3.0),
        "predelay_ms": ramp(0.0, 25.0), "size": ramp(0.3, 0.9),
        "damping_hz": ramp(9000.0, 3000.0), "width": ramp(1.0, 1.5), "mix": ramp(1.0, 0.3)})
}

fn inserts() -> Vec<Value> {
    vec![
        delay(ramp(5.0, 40.0), false),
        delay(ramp(12.0, 3.0), true),
        delay(c(125.0), false),
        reverb(),
    ]
}

#[test]
fn processors_do_not_allocate() {
    let fs = 48000.0;
    let n = 6000;
    let [l0, r0] = dsp_util::program(n, fs, 1);
    for bypass in [false, true] {
        for mut insert in inserts() {
            insert["bypass"] = json!(bypass);
            let mut s = slot(&insert, fs, 1024);
            for channels in [1, 2] {
                let (mut l, mut r) = (l0.clone(), r0.clone());
                let mut pos = 0;
                for block in [1, 7, 1024, 333, 1000].iter().cycle() {
                    if pos + block > n {
                        break;
                    }
                    let end = pos + block;
                    let mut b = AudioBlock {
                        start: pos as i64 - 5,
                        channels,
                        left: &mut l[pos..end],
                        right: &mut r[pos..end],
                        sidechain: None,
                    };
                    assert_no_alloc(|| s.process(&mut b));
                    pos = end;
                }
                assert_no_alloc(|| s.processor.reset());
            }
        }
    }
}

#[test]
fn an_engine_render_with_delay_and_reverb_does_not_allocate() {
    let mut t = common::track("T", 1, 48000, 20000, 0);
    t["inserts"] = json!([delay(ramp(10.0, 30.0), true)]);
    t["sends"] = json!([{"to": 1, "tap": "post_fader", "level_db": c(-6.0), "pan": c(0.0)}]);
    let mut bus = common::bus("Verb");
    bus["inserts"] = json!([reverb()]);
    let p = common::plan(vec![t, bus], 24000);
    let p = Plan::from_json(p.to_string().as_bytes()).unwrap();
    let mut engine = Engine::new(
        &p,
        EngineConfig {
            max_block: 1024,
            threads: 1,
            stems: false,
        },
    )
    .unwrap();
    let src = common::signal(20000, 1, 4);
    let mut read = 0;
    let mut wanted = [0usize];
    let mut out = vec![0.0f32; 2048];
    while engine.position() < engine.frames() {
        let n = 1024.min(usize::try_from(engine.frames() - engine.position()).unwrap());
        engine.source_frames_wanted(n, &mut wanted);
        let block = [SourceBlock::F32(&src[read..read + wanted[0]])];
        read += wanted[0];
        assert_no_alloc(|| {
            engine.process_block(&block, n).unwrap();
            engine
                .write_output(OutputBlock::F32(&mut out[..2 * n]))
                .unwrap();
        });
    }
}
