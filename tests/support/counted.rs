//! A cached value that counts its live copies, so a test can see that a sandbox's entries were
//! freed and not merely hidden.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Live copies of values made from one [`Live`] counter.
#[derive(Debug, Default, Clone)]
pub struct Live(Arc<AtomicUsize>);

impl Live {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn value(&self, n: u64) -> Counted {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted {
            n,
            live: self.clone(),
        }
    }
}

/// A value whose copies are counted by its [`Live`].
#[derive(Debug)]
pub struct Counted {
    pub n: u64,
    live: Live,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.live.value(self.n)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.0.fetch_sub(1, Ordering::SeqCst);
    }
}
