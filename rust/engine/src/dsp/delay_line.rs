//! A fixed delay of whole frames, one sample at a time: the dry path of an insert with
//! latency (for `mix` and for bypass, which keeps the latency).

/// Delays one channel by `len` frames (0 passes through). Allocates only in [`Delay::new`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Delay {
    buf: Vec<f64>,
    pos: usize,
}

impl Delay {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buf: vec![0.0; len],
            pos: 0,
        }
    }

    /// Pushes `x`, returns the sample from `len` frames ago.
    #[inline]
    pub(crate) fn tick(&mut self, x: f64) -> f64 {
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

    /// Delays a slice in place.
    pub(crate) fn process(&mut self, x: &mut [f64]) {
        for v in x {
            *v = self.tick(*v);
        }
    }

    pub(crate) fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}
