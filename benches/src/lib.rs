//! Shared workloads for memokit's benchmarks: deterministic key streams that every cache under
//! test replays identically, so peers measured in the same run see the same input; the
//! [`traces`] and generated workload [`families`] the hit-ratio tool replays; and the SVG
//! [`charts`] the tools draw.

pub mod charts;
pub mod families;
pub mod peers;
pub mod traces;

/// A small, fast, deterministic generator (xorshift64*); benchmarks need repeatable streams, not
/// cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (zero is replaced, as xorshift cannot leave it).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Keys `0..n` drawn with Zipf-distributed popularity (key 0 most popular), exponent `s`.
///
/// ```
/// let keys = memokit_bench::zipf_keys(1_000, 1.0, 10_000, 7);
/// assert_eq!(keys.len(), 10_000);
/// assert!(keys.iter().all(|&k| k < 1_000));
/// // The head is far more popular than the tail.
/// let head = keys.iter().filter(|&&k| k < 10).count();
/// let tail = keys.iter().filter(|&&k| k >= 990).count();
/// assert!(head > 10 * tail);
/// ```
pub fn zipf_keys(n: u64, s: f64, count: usize, seed: u64) -> Vec<u64> {
    assert!(n > 0, "zipf_keys needs at least one key");
    let mut cdf = Vec::with_capacity(n as usize);
    let mut total = 0.0;
    for rank in 1..=n {
        total += 1.0 / (rank as f64).powf(s);
        cdf.push(total);
    }
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let u = rng.next_f64() * total;
            cdf.partition_point(|&c| c < u).min(n as usize - 1) as u64
        })
        .collect()
}

/// Runs `iters` operations on each key stream at once, one thread per stream, and returns the
/// wall time. `op(i, key)` performs operation `i` of its thread on `key` and says whether it
/// found a value (counted so the work cannot be optimized away). Stream lengths must be powers
/// of two.
pub fn on_threads(
    iters: u64,
    keys: &[Vec<u64>],
    op: &(dyn Fn(usize, u64) -> bool + Sync),
) -> std::time::Duration {
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for keys in keys {
            s.spawn(move || {
                let mask = keys.len() - 1;
                let mut found = 0u64;
                for i in 0..iters as usize {
                    found += u64::from(op(i, keys[i & mask]));
                }
                std::hint::black_box(found);
            });
        }
    });
    start.elapsed()
}
