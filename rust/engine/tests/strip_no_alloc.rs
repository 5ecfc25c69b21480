//! No channel-strip insert allocates while processing (or while bypassed): each runs under
//! an allocation guard, alone and inside an engine render.

mod common;
mod dsp_util;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use dsp_util::{band, c, compressor, deesser, eq, gate, lane, limiter, saturation, slot};
use mixrender_engine::dsp::{AudioBlock, Sidechain};
use mixrender_engine::{Engine, EngineConfig, OutputBlock, Plan, SourceBlock};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

fn ramp(a: f64, b: f64) -> Value {
    lane(&[(0, a, "linear"), (3000, b, "smooth"), (5000, a, "linear")])
}

fn all_inserts() -> Vec<Value> {
    vec![
        eq(&json!([
            {"type": "bell", "freq_hz": ramp(200.0, 2000.0), "gain_db": ramp(-6.0, 6.0),
                "q": ramp(0.7, 3.0), "slope_db_oct": null},
            band("highpass", 60.0, 0.0, None, Some(48)),
            band("lowpass", 9000.0, 0.0, None, Some(18)),
            band("lowshelf", 100.0, 3.0, Some(0.707), None),
        ])),
        compressor(
            &json!({"threshold_db": ramp(-30.0, -10.0), "makeup_db": ramp(0.0, 4.0),
            "detector": "rms", "sidechain_hpf_hz": c(100.0), "mix": ramp(1.0, 0.5)}),
        ),
        compressor(&json!({"stereo_link": false, "sidechain": 0})),
        gate(&json!({"threshold_db": ramp(-40.0, -20.0), "sidechain": 0})),
        limiter(&json!({"ceiling_db": ramp(-3.0, -1.0), "true_peak": true})),
        limiter(&json!({"lookahead_ms": 0.0})),
        deesser(&json!({"freq_hz": ramp(5000.0, 8000.0)})),
        deesser(&json!({"split": false})),
        saturation(
            &json!({"drive_db": ramp(0.0, 12.0), "output_db": ramp(0.0, -3.0),
            "mix": ramp(1.0, 0.5)}),
        ),
        saturation(&json!({"shape": "soft", "oversample": 16})),
    ]
}

#[test]
fn processors_do_not_allocate() {
    let fs = 48000.0;
    let n = 6000;
    let [mut l, mut r] = dsp_util::program(n, fs, 1);
    let [kl, kr] = dsp_util::program(n, fs, 2);
    for bypass in [false, true] {
        for mut insert in all_inserts() {
            insert["bypass"] = json!(bypass);
            let mut s = slot(&insert, fs, 1024);
            for channels in [1, 2] {
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
                        sidechain: Some(Sidechain {
                            channels: 2,
                            left: &kl[pos..end],
                            right: &kr[pos..end],
                        }),
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
fn an_engine_render_with_the_strip_does_not_allocate() {
    let mut t = common::track("T", 2, 48000, 20000, 0);
    t["inserts"] = json!(
        all_inserts()
            .into_iter()
            .filter(|i| i.get("sidechain").is_none_or(Value::is_null))
            .collect::<Vec<_>>()
    );
    let mut p = common::plan(vec![t], 12000);
    p["master"]["inserts"] = json!([limiter(&json!({"ceiling_db": c(-1.0)}))]);
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
    let src = common::signal(20000, 2, 4);
    let mut read = 0;
    let mut wanted = [0usize];
    let mut out = vec![0.0f32; 2048];
    while engine.position() < engine.frames() {
        let n = 1024.min(usize::try_from(engine.frames() - engine.position()).unwrap());
        engine.source_frames_wanted(n, &mut wanted);
        let block = [SourceBlock::F32(&src[2 * read..2 * (read + wanted[0])])];
        read += wanted[0];
        assert_no_alloc(|| {
            engine.process_block(&block, n).unwrap();
            engine
                .write_output(OutputBlock::F32(&mut out[..2 * n]))
                .unwrap();
        });
    }
}
