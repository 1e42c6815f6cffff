//! Replays the ARC traces through memokit, its peers, LRU and Belady's OPT, and prints the hit
//! ratios as one markdown table.
//!
//! ```text
//! MEMOKIT_SHARED=/path/to/shared cargo run --release -p memokit-bench --bin hit_ratio
//! cargo run --release -p memokit-bench --bin hit_ratio -- --only memokit,lru --trace OLTP
//! ```
//!
//! Traces: Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 03.
//! Beside them, `LOOP` is synthetic: 30 passes over the same 1,500 keys, at capacities of
//! 1/2, 2/3 and 5/6 of the loop. LRU and FIFO never hit on it, and OPT keeps all but one key
//! of the capacity; a scan-resistant policy should keep a stable part of the loop resident.

use std::collections::{BinaryHeap, HashMap};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use memokit::Cache;
use memokit_bench::traces;

/// The reference capacities of the traces README, and those of the synthetic loop.
const RUNS: [(&str, &[u64]); 3] = [
    ("OLTP", &[250, 500, 750, 1_000, 2_000]),
    ("P3", &[10_000, 50_000, 100_000]),
    ("LOOP", &[750, 1_000, 1_250]),
];

/// The synthetic loop: passes over the same keys, in the same order.
const LOOP_KEYS: u64 = 1_500;
const LOOP_PASSES: usize = 30;

/// The keys of trace `name`: the synthetic loop, or a trace file of the shared folder.
fn load(name: &str) -> Result<Vec<u64>, traces::TraceError> {
    if name == "LOOP" {
        return Ok((0..LOOP_PASSES).flat_map(|_| 0..LOOP_KEYS).collect());
    }
    traces::load(name)
}

const POLICIES: [&str; 5] = ["OPT", "LRU", "memokit", "moka", "quick_cache"];

/// Replays `keys` as read-through lookups: a hit counts, a miss inserts the key.
fn count_hits(keys: &[u64], mut hit: impl FnMut(u64) -> bool, mut insert: impl FnMut(u64)) -> u64 {
    let mut hits = 0;
    for &k in keys {
        if hit(k) {
            hits += 1;
        } else {
            insert(k);
        }
    }
    hits
}

fn replay_memokit(keys: &[u64], capacity: u64) -> u64 {
    let cache: Cache<u64, u64> = Cache::builder("hit-ratio")
        .capacity(capacity)
        .build()
        .expect("a positive capacity is valid");
    count_hits(
        keys,
        |k| cache.get(&k).ok().flatten().is_some(),
        |k| {
            let _ = cache.insert(k, k);
        },
    )
}

fn replay_moka(keys: &[u64], capacity: u64) -> u64 {
    let cache = moka::sync::Cache::new(capacity);
    count_hits(keys, |k| cache.get(&k).is_some(), |k| cache.insert(k, k))
}

fn replay_quick_cache(keys: &[u64], capacity: u64) -> u64 {
    let cache = quick_cache::sync::Cache::new(capacity as usize);
    count_hits(keys, |k| cache.get(&k).is_some(), |k| cache.insert(k, k))
}

/// Least recently used, as a doubly linked list over a slab indexed by a map.
fn replay_lru(keys: &[u64], capacity: u64) -> u64 {
    const NIL: usize = usize::MAX;
    struct Node {
        key: u64,
        prev: usize,
        next: usize,
    }
    let mut map: HashMap<u64, usize> = HashMap::new();
    let mut nodes: Vec<Node> = Vec::new();
    let (mut head, mut tail) = (NIL, NIL); // head = most recent
    let mut hits = 0;
    let unlink = |nodes: &mut Vec<Node>, head: &mut usize, tail: &mut usize, i: usize| {
        let (p, n) = (nodes[i].prev, nodes[i].next);
        if p == NIL {
            *head = n
        } else {
            nodes[p].next = n
        }
        if n == NIL {
            *tail = p
        } else {
            nodes[n].prev = p
        }
    };
    let push_front = |nodes: &mut Vec<Node>, head: &mut usize, tail: &mut usize, i: usize| {
        nodes[i].prev = NIL;
        nodes[i].next = *head;
        if *head == NIL {
            *tail = i
        } else {
            nodes[*head].prev = i
        }
        *head = i;
    };
    for &k in keys {
        if let Some(&i) = map.get(&k) {
            hits += 1;
            unlink(&mut nodes, &mut head, &mut tail, i);
            push_front(&mut nodes, &mut head, &mut tail, i);
            continue;
        }
        let i = if (nodes.len() as u64) < capacity {
            nodes.push(Node {
                key: k,
                prev: NIL,
                next: NIL,
            });
            nodes.len() - 1
        } else {
            let victim = tail;
            unlink(&mut nodes, &mut head, &mut tail, victim);
            map.remove(&nodes[victim].key);
            nodes[victim].key = k;
            victim
        };
        map.insert(k, i);
        push_front(&mut nodes, &mut head, &mut tail, i);
    }
    hits
}

/// Belady's optimum: on a miss, keep the `capacity` keys whose next use comes soonest (the
/// missed key included, so a key never used again is not admitted).
fn replay_opt(keys: &[u64], capacity: u64) -> u64 {
    let mut next = vec![usize::MAX; keys.len()];
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (i, &k) in keys.iter().enumerate().rev() {
        if let Some(j) = seen.insert(k, i) {
            next[i] = j;
        }
    }
    drop(seen);
    let mut resident: HashMap<u64, usize> = HashMap::new();
    let mut heap = BinaryHeap::new();
    let mut hits = 0;
    for (i, &k) in keys.iter().enumerate() {
        if resident.insert(k, next[i]).is_some() {
            hits += 1;
        }
        heap.push((next[i], k));
        while resident.len() as u64 > capacity {
            let Some((use_at, victim)) = heap.pop() else {
                break;
            };
            // Stale heap entries (the key was used again since) are skipped.
            if resident.get(&victim) == Some(&use_at) {
                resident.remove(&victim);
            }
        }
    }
    hits
}

fn replay(policy: &str, keys: &[u64], capacity: u64) -> u64 {
    match policy {
        "OPT" => replay_opt(keys, capacity),
        "LRU" => replay_lru(keys, capacity),
        "memokit" => replay_memokit(keys, capacity),
        "moka" => replay_moka(keys, capacity),
        _ => replay_quick_cache(keys, capacity),
    }
}

struct Args {
    policies: Vec<&'static str>,
    traces: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        policies: POLICIES.to_vec(),
        traces: RUNS.iter().map(|(t, _)| t.to_string()).collect(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--only" => {
                args.policies = value
                    .split(',')
                    .map(|p| {
                        POLICIES
                            .iter()
                            .find(|known| known.eq_ignore_ascii_case(p))
                            .copied()
                            .ok_or(format!("unknown policy {p:?}; known: {POLICIES:?}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--trace" => args.traces = value.split(',').map(str::to_owned).collect(),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; use --only P,... or --trace T,..."
                ));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("hit_ratio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut loaded = Vec::new();
    for (name, capacities) in RUNS
        .iter()
        .filter(|(n, _)| args.traces.iter().any(|t| t == n))
    {
        match load(name) {
            Ok(keys) => loaded.push((*name, keys, *capacities)),
            Err(e) => {
                eprintln!("hit_ratio: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    // Every (trace, capacity, policy) is an independent job; the slow ones (moka on P3) go first.
    let mut jobs = Vec::new();
    for (t, (_, _, capacities)) in loaded.iter().enumerate() {
        for &capacity in capacities.iter() {
            for (p, policy) in args.policies.iter().enumerate() {
                jobs.push((t, capacity, p, *policy));
            }
        }
    }
    jobs.sort_by_key(|&(t, c, p, policy)| {
        (policy != "moka", std::cmp::Reverse(loaded[t].1.len()), c, p)
    });
    let results = Mutex::new(HashMap::new());
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(&(t, capacity, p, policy)) =
                    jobs.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let keys = &loaded[t].1;
                    let hits = replay(policy, keys, capacity);
                    let ratio = 100.0 * hits as f64 / keys.len() as f64;
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert((t, capacity, p), ratio);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    println!("Hit ratio (%) by trace and capacity (entries)\n");
    print!("| trace | capacity | requests |");
    for policy in &args.policies {
        print!(" {policy} |");
    }
    print!("\n|---|---:|---:|");
    for _ in &args.policies {
        print!("---:|");
    }
    println!();
    for (t, (name, keys, capacities)) in loaded.iter().enumerate() {
        for &capacity in capacities.iter() {
            print!("| {name} | {capacity} | {} |", keys.len());
            for p in 0..args.policies.len() {
                print!(" {:.2} |", results[&(t, capacity, p)]);
            }
            println!();
        }
    }
    println!("\n{}", traces::CITATION);
    eprintln!(
        "(replayed in {:.1?} on {workers} threads)",
        started.elapsed()
    );
    ExitCode::SUCCESS
}
