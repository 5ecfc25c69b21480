//! The meter's audio path never allocates (so its memory cannot grow with the input):
//! `process`, `process_interleaved` and `report` run under an allocation guard.
//! (`assert_no_alloc` guards debug builds only, so the test is too.)
#![cfg(debug_assertions)]

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use mixrender_engine::math;
use mixrender_engine::meter::{Interleaved, Meter};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

#[test]
fn meter_does_not_allocate() {
    for channels in [2, 6] {
        let mut m = Meter::new(48_000, channels).unwrap();
        let block: Vec<f64> = (0..3000)
            .map(|n| 0.3 * math::sin(0.05 * f64::from(n)))
            .collect();
        let planar: Vec<&[f64]> = vec![&block; channels];
        let inter32 = vec![0.25f32; 3000 * channels];
        let inter64 = vec![-0.25f64; 3000 * channels];
        // 7.5 s in blocks: every sub-block, gating block, short-term value and histogram
        // update happens inside the guard.
        for _ in 0..40 {
            assert_no_alloc(|| {
                m.process(&planar);
                m.process_interleaved(Interleaved::F32(&inter32));
                m.process_interleaved(Interleaved::F64(&inter64));
            });
        }
        let r = assert_no_alloc(|| m.report());
        assert!(r.integrated_lufs.is_some());
        assert_no_alloc(|| m.reset());
    }
}
