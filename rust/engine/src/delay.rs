//! A fixed delay of whole frames: the engine's latency compensation along every path, and
//! the dry path of an insert with latency (for `mix` and for bypass, which keeps the
//! latency). The one whole-frame delay line of the engine; the `delay` insert (an echo with
//! feedback) is [`crate::dsp::Delay`].

/// Delays one channel by `len` frames; `len == 0` passes through untouched. Allocates only
/// in [`DelayLine::new`].
#[derive(Debug, Clone, Default)]
pub struct DelayLine {
    buf: Vec<f64>,
    pos: usize,
}

impl DelayLine {
    /// Allocates the line; it starts silent.
    #[must_use]
    pub fn new(len: usize) -> Self {
        Self {
            buf: vec![0.0; len],
            pos: 0,
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Pushes `x`, returns the sample from `len` frames ago.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        if self.buf.is_empty() {
            return x;
        }
        let y = core::mem::replace(&mut self.buf[self.pos], x);
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
        y
    }

    /// Delays `x` in place; never allocates.
    pub fn process(&mut self, x: &mut [f64]) {
        let len = self.buf.len();
        if len == 0 {
            return;
        }
        for v in x {
            core::mem::swap(v, &mut self.buf[self.pos]);
            self.pos += 1;
            if self.pos == len {
                self.pos = 0;
            }
        }
    }

    pub fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

/// A delay for both channels of a stereo buffer.
#[derive(Debug, Clone)]
pub struct StereoDelay([DelayLine; 2]);

impl StereoDelay {
    #[must_use]
    pub fn new(len: usize) -> Self {
        Self([DelayLine::new(len), DelayLine::new(len)])
    }

    pub fn process(&mut self, buf: &mut [Vec<f64>; 2], n: usize) {
        let [l, r] = buf;
        self.0[0].process(&mut l[..n]);
        self.0[1].process(&mut r[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_by_whole_frames_across_blocks() {
        let input: Vec<f64> = (1..=20).map(f64::from).collect();
        for block in [1, 3, 7, 20] {
            let mut d = DelayLine::new(5);
            let mut out = input.clone();
            for chunk in out.chunks_mut(block) {
                d.process(chunk);
            }
            assert_eq!(&out[..5], &[0.0; 5]);
            assert_eq!(&out[5..], &input[..15], "block {block}");
        }
        let mut none = DelayLine::new(0);
        let mut x = input.clone();
        none.process(&mut x);
        assert_eq!(x, input);
        // One sample at a time is the same line.
        let mut d = DelayLine::new(5);
        let ticked: Vec<f64> = input.iter().map(|&v| d.tick(v)).collect();
        assert_eq!(&ticked[..5], &[0.0; 5]);
        assert_eq!(&ticked[5..], &input[..15]);
    }
}
