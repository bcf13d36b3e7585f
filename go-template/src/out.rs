//! The capped, zeroizing buffer every template output and every string a function builds is
//! written to.

use zeroize::Zeroizing;

/// Why a capped buffer stopped accepting bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    TooBig,
    TooDeep,
}

/// A zeroizing output buffer with a size cap. Writes past the cap are dropped and recorded,
/// so formatting code needs no error plumbing; callers check [`Out::finish`].
pub(crate) struct Out {
    buf: Zeroizing<Vec<u8>>,
    cap: usize,
    pub(crate) fault: Option<Fault>,
}

impl Out {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Zeroizing::new(Vec::new()),
            cap,
            fault: None,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.fault.is_some() {
            return;
        }
        if self.buf.len().saturating_add(bytes.len()) > self.cap {
            self.fault = Some(Fault::TooBig);
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn push_byte(&mut self, b: u8) {
        self.push(&[b]);
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    pub(crate) fn repeat(&mut self, b: u8, n: usize) {
        if self.fault.is_some() {
            return;
        }
        if self.buf.len().saturating_add(n) > self.cap {
            self.fault = Some(Fault::TooBig);
            return;
        }
        let len = self.buf.len();
        self.buf.resize(len + n, b);
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn finish(self) -> Result<Zeroizing<Vec<u8>>, Fault> {
        match self.fault {
            Some(fault) => Err(fault),
            None => Ok(self.buf),
        }
    }
}
