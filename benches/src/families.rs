//! Workload families generated in the project, replayed by the hit-ratio tool beside the ARC
//! traces so a policy is judged on shapes it was not tuned on: Zipf at four skews, a loop larger
//! than the cache, scans mixed into a hot set, a working set that shifts over time and a
//! recency-biased stream.
//!
//! Every family is a pure function of fixed seeds: the same keys in every run and on every
//! machine, so two runs differ only by the caches' own hasher seeds. Nothing is read from or
//! written to disk.
//!
//! ```
//! let zipf = memokit_bench::families::generate("ZIPF-1.0").expect("a known family");
//! assert_eq!(zipf.keys, memokit_bench::families::generate("ZIPF-1.0").unwrap().keys);
//! assert!(zipf.capacities.iter().all(|&c| c < zipf.distinct() as u64));
//! ```

use std::collections::HashSet;

use crate::{Rng, zipf_keys};

/// The families, in the order the tool prints them.
pub const NAMES: [&str; 8] = [
    "ZIPF-0.6", "ZIPF-0.8", "ZIPF-1.0", "ZIPF-1.2", "LOOP", "SCAN", "SHIFT", "RECENCY",
];

/// One generated key stream and the capacities (entries) it is replayed at.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The family's name, one of [`NAMES`].
    pub name: &'static str,
    /// What the stream is, in one line.
    pub about: &'static str,
    /// The requests, in order.
    pub keys: Vec<u64>,
    /// Cache sizes to replay it at, smallest first.
    pub capacities: Vec<u64>,
}

impl Workload {
    /// How many different keys the stream requests.
    pub fn distinct(&self) -> usize {
        self.keys.iter().collect::<HashSet<_>>().len()
    }
}

/// Requests per stream, except the loop, which is as long as its passes make it.
const REQUESTS: usize = 1_000_000;

/// The family called `name` (one of [`NAMES`]), or `None` for another name.
pub fn generate(name: &str) -> Option<Workload> {
    let (name, about, keys, capacities): (_, _, _, &[u64]) = match name {
        "ZIPF-0.6" => (NAMES[0], ZIPF_ABOUT, zipf(0.6), ZIPF_CAPACITIES),
        "ZIPF-0.8" => (NAMES[1], ZIPF_ABOUT, zipf(0.8), ZIPF_CAPACITIES),
        "ZIPF-1.0" => (NAMES[2], ZIPF_ABOUT, zipf(1.0), ZIPF_CAPACITIES),
        "ZIPF-1.2" => (NAMES[3], ZIPF_ABOUT, zipf(1.2), ZIPF_CAPACITIES),
        "LOOP" => (
            NAMES[4],
            "30 passes over the same 1,500 keys in the same order",
            looping(),
            &[750, 1_000, 1_250],
        ),
        "SCAN" => (
            NAMES[5],
            "Zipf(0.9) over 10k hot keys; after every 100k of them, 20k new keys interleaved 1:1",
            scans(),
            &[1_000, 2_500, 5_000, 10_000],
        ),
        "SHIFT" => (
            NAMES[6],
            "8 phases of Zipf(0.9) over 20k keys, each window half new, popularity reshuffled",
            shifting(),
            &[1_000, 2_500, 5_000, 10_000],
        ),
        "RECENCY" => (
            NAMES[7],
            "85% re-reference a key from t requests ago (t log-uniform up to 50k), 15% new keys",
            recency(),
            &[250, 500, 1_000, 2_500],
        ),
        _ => return None,
    };
    Some(Workload {
        name,
        about,
        keys,
        capacities: capacities.to_vec(),
    })
}

const ZIPF_ABOUT: &str = "Zipf popularity over 100k keys, 1M independent requests";
const ZIPF_KEYS: u64 = 100_000;
/// 1%, 5%, 10% and 20% of the keys: the 6-20% band is where policies tuned on two traces part.
const ZIPF_CAPACITIES: &[u64] = &[1_000, 5_000, 10_000, 20_000];

/// Spreads ranks over the key space (a bijection: odd multiplier), so the popular keys are not
/// also the smallest integers.
fn scatter(rank: u64) -> u64 {
    rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn zipf(skew: f64) -> Vec<u64> {
    let seed = 0x5eed_0000 + (skew * 10.0) as u64;
    zipf_keys(ZIPF_KEYS, skew, REQUESTS, seed)
        .into_iter()
        .map(scatter)
        .collect()
}

/// LRU and FIFO never hit here, and OPT keeps all but one key of the capacity.
fn looping() -> Vec<u64> {
    (0..30).flat_map(|_| 0..1_500).map(scatter).collect()
}

fn scans() -> Vec<u64> {
    const HOT: u64 = 10_000;
    const SCAN: u64 = 20_000;
    const EVERY: usize = 100_000;
    let mut hot = zipf_keys(HOT, 0.9, REQUESTS, 0x5ca9).into_iter();
    let mut rng = Rng::new(0x5ca9_0001);
    // Scan keys start past every hot key and are never requested twice.
    let mut next_scan = HOT;
    let mut keys = Vec::with_capacity(REQUESTS + 10 * SCAN as usize);
    while keys.len() < REQUESTS {
        let scan_end = next_scan + SCAN;
        let mut hot_run = EVERY;
        while hot_run > 0 || next_scan < scan_end {
            // Half the requests during a scan are still the hot set's.
            if next_scan < scan_end && rng.next_u64() & 1 == 0 {
                keys.push(next_scan);
                next_scan += 1;
            } else if let Some(k) = hot.next() {
                keys.push(k);
                hot_run = hot_run.saturating_sub(1);
            } else {
                break;
            }
        }
    }
    keys.truncate(REQUESTS);
    keys.into_iter().map(scatter).collect()
}

fn shifting() -> Vec<u64> {
    const PHASES: u64 = 8;
    const WINDOW: u64 = 20_000;
    let per_phase = REQUESTS / PHASES as usize;
    (0..PHASES)
        .flat_map(|phase| {
            // Window `phase` covers the second half of the previous one and 10k new keys; the
            // popularity order inside it is a fresh permutation (7,919 is prime to 20,000).
            let base = phase * WINDOW / 2;
            let offset = phase * 4_999;
            zipf_keys(WINDOW, 0.9, per_phase, 0x5417 + phase)
                .into_iter()
                .map(move |rank| base + (rank * 7_919 + offset) % WINDOW)
        })
        .map(scatter)
        .collect()
}

fn recency() -> Vec<u64> {
    const HORIZON: f64 = 50_000.0;
    let mut rng = Rng::new(0x02ec_e0c1);
    let mut keys: Vec<u64> = Vec::with_capacity(REQUESTS);
    let mut fresh = 0;
    while keys.len() < REQUESTS {
        let key = if keys.is_empty() || rng.next_f64() < 0.15 {
            fresh += 1;
            fresh
        } else {
            // P(t) falls as 1/t: the last few requests are the likeliest to come back.
            let horizon = HORIZON.min(keys.len() as f64);
            let back = (rng.next_f64() * horizon.ln()).exp() as usize;
            keys[keys.len() - back.clamp(1, keys.len())]
        };
        keys.push(key);
    }
    keys.into_iter().map(scatter).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_larger_than_its_caches_and_repeatable() {
        for name in NAMES {
            let w = generate(name).expect("every listed family generates");
            let distinct = w.distinct() as u64;
            assert!(
                w.capacities.iter().all(|&c| c < distinct),
                "{name}: {distinct} distinct keys, capacities {:?}",
                w.capacities
            );
            if name == "SCAN" {
                // Eight whole scans of 20k keys fit in the stream (each cycle is 120k requests),
                // and no scan key comes back.
                let mut counts = std::collections::HashMap::new();
                for k in &w.keys {
                    *counts.entry(*k).or_insert(0u32) += 1;
                }
                let once = counts.values().filter(|&&n| n == 1).count();
                assert!(once >= 8 * 20_000, "{once} keys requested once");
            }
        }
        // The seeded generators give the same stream twice (one Zipf and the history-driven one).
        for name in ["ZIPF-1.0", "RECENCY"] {
            assert_eq!(generate(name).unwrap().keys, generate(name).unwrap().keys);
        }
        assert!(generate("OLTP").is_none());
    }
}
