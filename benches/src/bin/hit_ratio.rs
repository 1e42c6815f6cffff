//! Replays the ARC traces and the generated workload families through memokit, its peers, LRU
//! and Belady's OPT, prints the hit ratios as one markdown table and, with `--svg`, draws them
//! as curves.
//!
//! ```text
//! MEMOKIT_SHARED=/path/to/shared cargo run --release -p memokit-bench --bin hit_ratio
//! cargo run --release -p memokit-bench --bin hit_ratio -- --only memokit,lru --trace OLTP,SCAN
//! cargo run --release -p memokit-bench --bin hit_ratio -- --svg benches/charts/hit_ratio.svg
//! ```
//!
//! Traces: Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 03.
//! The families (`memokit_bench::families`) are generated from fixed seeds: Zipf at four skews,
//! a loop larger than the cache, scans mixed into a hot set, a shifting working set and a
//! recency-biased stream. The last column is memokit's lead over the better of moka and
//! quick_cache, in points; a negative lead is marked.

use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use memokit::Cache;
use memokit_bench::families::{self, Workload};
use memokit_bench::{charts, traces};

/// The ARC traces at the reference capacities of their README.
const TRACES: [(&str, &[u64]); 2] = [
    ("OLTP", &[250, 500, 750, 1_000, 2_000]),
    ("P3", &[10_000, 50_000, 100_000]),
];

/// Every workload the tool knows, traces first.
fn names() -> impl Iterator<Item = &'static str> {
    TRACES.iter().map(|(name, _)| *name).chain(families::NAMES)
}

/// The workload `name`: a trace file of the shared folder, or a generated family.
fn load(name: &str) -> Result<Workload, String> {
    if let Some(&(name, capacities)) = TRACES.iter().find(|(n, _)| *n == name) {
        return Ok(Workload {
            name,
            about: "ARC block-I/O trace",
            keys: traces::load(name).map_err(|e| e.to_string())?,
            capacities: capacities.to_vec(),
        });
    }
    families::generate(name).ok_or_else(|| {
        format!(
            "unknown trace {name:?}; known: {:?}",
            names().collect::<Vec<_>>()
        )
    })
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
    svg: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        policies: POLICIES.to_vec(),
        traces: names().map(str::to_owned).collect(),
        svg: None,
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
            "--svg" => args.svg = Some(PathBuf::from(value)),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; use --only P,..., --trace T,... or --svg FILE"
                ));
            }
        }
    }
    Ok(args)
}

/// Replays every (workload, capacity, policy) on all cores; the ratio (%) of each, by
/// (workload index, capacity, policy index).
fn replay_all(loaded: &[Workload], policies: &[&str]) -> HashMap<(usize, u64, usize), f64> {
    let mut jobs = Vec::new();
    for (t, workload) in loaded.iter().enumerate() {
        for &capacity in &workload.capacities {
            for (p, policy) in policies.iter().enumerate() {
                jobs.push((t, capacity, p, *policy));
            }
        }
    }
    // The slow jobs (moka, long streams) go first so no core idles at the end.
    jobs.sort_by_key(|&(t, c, p, policy)| {
        (
            policy != "moka",
            std::cmp::Reverse(loaded[t].keys.len()),
            c,
            p,
        )
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
                    let keys = &loaded[t].keys;
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
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// memokit's lead (points) over the better of moka and quick_cache, when all three ran.
fn lead(policies: &[&str], ratio: impl Fn(usize) -> f64) -> Option<f64> {
    let at = |name| policies.iter().position(|p| *p == name);
    let (ours, moka, quick) = (at("memokit")?, at("moka")?, at("quick_cache")?);
    Some(ratio(ours) - ratio(moka).max(ratio(quick)))
}

fn print_table(
    loaded: &[Workload],
    policies: &[&str],
    results: &HashMap<(usize, u64, usize), f64>,
) {
    let with_lead = lead(policies, |_| 0.0).is_some();
    println!("Hit ratio (%) by workload and capacity (entries)\n");
    print!("| workload | capacity | requests |");
    for policy in policies {
        print!(" {policy} |");
    }
    if with_lead {
        print!(" memokit - best peer |");
    }
    print!("\n|---|---:|---:|");
    for _ in policies {
        print!("---:|");
    }
    println!("{}", if with_lead { "---:|" } else { "" });
    let (mut behind, mut points) = (0, 0);
    for (t, workload) in loaded.iter().enumerate() {
        for &capacity in &workload.capacities {
            let ratio = |p: usize| results[&(t, capacity, p)];
            print!(
                "| {} | {capacity} | {} |",
                workload.name,
                workload.keys.len()
            );
            for p in 0..policies.len() {
                print!(" {:.2} |", ratio(p));
            }
            if let Some(lead) = lead(policies, ratio) {
                points += 1;
                if lead < 0.0 {
                    behind += 1;
                    print!(" **{lead:+.2}** behind |");
                } else {
                    print!(" {lead:+.2} |");
                }
            }
            println!();
        }
    }
    if with_lead {
        println!(
            "\nmemokit is below the better of moka and quick_cache at {behind} of {points} points."
        );
    }
    println!("\nWorkloads:");
    for w in loaded {
        println!("- {}: {} ({} distinct keys)", w.name, w.about, w.distinct());
    }
}

fn draw(
    path: &std::path::Path,
    loaded: &[Workload],
    policies: &[&str],
    results: &HashMap<(usize, u64, usize), f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let panels: Vec<charts::Curves> = loaded
        .iter()
        .enumerate()
        .map(|(t, w)| charts::Curves {
            title: w.name.to_owned(),
            capacities: w.capacities.clone(),
            series: policies
                .iter()
                .enumerate()
                .map(|(p, policy)| {
                    let ratios = w.capacities.iter().map(|&c| results[&(t, c, p)]).collect();
                    (policy.to_string(), ratios)
                })
                .collect(),
        })
        .collect();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    charts::hit_ratio_curves(
        path,
        "Hit ratio (%) against capacity (entries)",
        &format!(
            "Generated by the hit_ratio tool of memokit-bench. {}",
            traces::CITATION
        ),
        &panels,
        5,
    )
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
    for name in &args.traces {
        match load(name) {
            Ok(workload) => loaded.push(workload),
            Err(e) => {
                eprintln!("hit_ratio: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let results = replay_all(&loaded, &args.policies);
    print_table(&loaded, &args.policies, &results);
    if loaded
        .iter()
        .any(|w| TRACES.iter().any(|(t, _)| *t == w.name))
    {
        println!("\n{}", traces::CITATION);
    }
    if let Some(path) = &args.svg {
        if let Err(e) = draw(path, &loaded, &args.policies, &results) {
            eprintln!("hit_ratio: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    eprintln!("(replayed in {:.1?})", started.elapsed());
    ExitCode::SUCCESS
}
