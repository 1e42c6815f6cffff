//! Draws criterion's latest medians for memokit and its peers as an SVG bar chart and prints
//! them as a markdown table with each one's ratio to quick_cache.
//!
//! ```text
//! cargo bench -p memokit-bench --bench hit_latency --bench read_throughput --bench mixed
//! cargo run --release -p memokit-bench --bin latency_chart -- --svg benches/charts/latency.svg
//! ```
//!
//! It reads `<target>/criterion/<group>/*/new/{benchmark,estimates}.json` (the target folder
//! is `CARGO_TARGET_DIR`, else the workspace's `target`; `--criterion DIR` overrides), so every
//! bar of a group comes from the same bench run. `--groups a,b` picks criterion groups; the
//! default is the in-memory benches 1 to 3.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use memokit_bench::charts::{self, Bars};

/// The default groups, with the title each panel gets.
const GROUPS: [(&str, &str); 3] = [
    ("hit_latency", "1 hit, 1 thread, 100k entries (ns per get)"),
    (
        "read_throughput_2_threads",
        "2 reads on 2 threads, Zipf (ns per get)",
    ),
    (
        "mixed_90_10_2_threads",
        "90% get / 10% insert at capacity, 2 threads (ns per operation)",
    ),
];

/// The bars drawn: memokit and the peers users choose between (not the ablations such as
/// `memokit-backend`, nor the RwLock floor).
const SHOWN: [&str; 6] = [
    "hashbrown (floor)",
    "memokit",
    "quick_cache",
    "moka",
    "cached-lru",
    "cached-sharded",
];

/// The median (ns) of every benchmark of criterion group folder `dir`, by function name.
fn medians(dir: &Path) -> Result<Vec<(String, f64)>, Box<dyn Error>> {
    let read = |path: PathBuf| -> Result<serde_json::Value, Box<dyn Error>> {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)
            .map_err(|e| format!("{} is not criterion's JSON: {e}", path.display()))?)
    };
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?
    {
        let new = entry?.path().join("new");
        if !new.join("estimates.json").is_file() {
            continue; // criterion's `report` folder
        }
        let bench = read(new.join("benchmark.json"))?;
        let estimates = read(new.join("estimates.json"))?;
        let name = bench["function_id"].as_str().unwrap_or_default().to_owned();
        let median = estimates["median"]["point_estimate"]
            .as_f64()
            .ok_or_else(|| format!("{} has no median", new.display()))?;
        found.push((name, median));
    }
    Ok(found)
}

struct Args {
    criterion: PathBuf,
    groups: Vec<String>,
    svg: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let mut args = Args {
        criterion: target.join("criterion"),
        groups: GROUPS.iter().map(|(g, _)| g.to_string()).collect(),
        svg: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--criterion" => args.criterion = PathBuf::from(value),
            "--groups" => args.groups = value.split(',').map(str::to_owned).collect(),
            "--svg" => args.svg = Some(PathBuf::from(value)),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; use --groups G,..., --criterion DIR or --svg FILE"
                ));
            }
        }
    }
    Ok(args)
}

fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let mut groups = Vec::new();
    for group in &args.groups {
        let dir = args.criterion.join(group);
        let mut values = medians(&dir).map_err(|e| {
            format!("{e} (run `cargo bench -p memokit-bench` for group {group} first)")
        })?;
        values.retain(|(name, _)| SHOWN.contains(&name.as_str()));
        values.sort_by_key(|(name, _)| SHOWN.iter().position(|s| s == name));
        let title = GROUPS
            .iter()
            .find(|(g, _)| g == group)
            .map_or(group.as_str(), |(_, t)| t);
        groups.push(Bars {
            title: title.to_owned(),
            values,
        });
    }
    println!("Criterion medians (ns per operation)\n");
    println!("| group | implementation | median | / quick_cache |\n|---|---|---:|---:|");
    for group in &groups {
        let quick = group
            .values
            .iter()
            .find(|(n, _)| n == "quick_cache")
            .map(|(_, v)| *v);
        for (name, ns) in &group.values {
            let ratio = quick.map_or("-".into(), |q| format!("{:.2}", ns / q));
            println!("| {} | {name} | {ns:.1} | {ratio} |", group.title);
        }
    }
    if let Some(path) = &args.svg {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        charts::latency_bars(
            path,
            "Time per operation (criterion medians, one run per group; log scale)",
            "u64 -> u64. Generated by memokit-bench's latency_chart from `cargo bench` output; \
             a 2-core VM shared with other builds: read the ratios, not the nanoseconds.",
            &groups,
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().map_err(Into::into).and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latency_chart: {e}");
            ExitCode::FAILURE
        }
    }
}
