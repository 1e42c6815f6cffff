//! Bytes per entry beyond the key and value, for `u64 -> u64` at 1M entries: memokit beside moka,
//! quick_cache and a plain `hashbrown` map, measured by a counting global allocator.
//!
//! ```text
//! cargo run --release -p memokit-bench --bin memory
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use memokit::Cache;

/// Counts live heap bytes on top of the system allocator.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`, per the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ENTRIES: u64 = 1_000_000;
/// Distinct keys inserted for the second column: enough to evict twice the capacity, so
/// every eviction structure (ghosts, frequency sketch, free lists) is at its working size.
const CHURNED: u64 = 3 * ENTRIES;
const PAYLOAD: f64 = 16.0; // a u64 key and a u64 value

/// Heap bytes per held entry beyond K+V of the cache `fill(keys)` builds and fills with keys
/// `0..keys`, kept alive while measuring.
fn per_entry<C>(fill: &impl Fn(u64) -> (C, u64), keys: u64) -> f64 {
    let before = LIVE.load(Ordering::Relaxed);
    let (cache, entries) = fill(keys);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(cache);
    bytes as f64 / entries as f64 - PAYLOAD
}

/// Prints one row: the cache filled to capacity, then at capacity after churn.
fn measure<C>(name: &str, fill: impl Fn(u64) -> (C, u64)) {
    let filled = per_entry(&fill, ENTRIES);
    let churned = per_entry(&fill, CHURNED);
    println!("| {name} | {filled:.1} | {churned:.1} |");
}

fn main() {
    println!(
        "Heap bytes per entry beyond K+V for u64 -> u64 at capacity {ENTRIES}: after inserting \
         {ENTRIES} distinct keys, and after inserting {CHURNED} (evicting)\n"
    );
    println!("| cache | filled | churned |");
    println!("|---|---:|---:|");
    measure("hashbrown::HashMap (floor)", |_| {
        let map: hashbrown::HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k)).collect();
        let n = map.len() as u64;
        (map, n)
    });
    measure("memokit", |keys| {
        let cache: Cache<u64, u64> = Cache::builder("memory")
            .capacity(ENTRIES)
            .build()
            .expect("valid");
        for k in 0..keys {
            let _ = cache.insert(k, k);
        }
        let n = cache.len();
        (cache, n)
    });
    measure("moka::sync::Cache", |keys| {
        let cache = moka::sync::Cache::new(ENTRIES);
        for k in 0..keys {
            cache.insert(k, k);
        }
        cache.run_pending_tasks();
        let n = cache.entry_count();
        (cache, n)
    });
    measure("quick_cache::sync::Cache", |keys| {
        let cache = quick_cache::sync::Cache::new(ENTRIES as usize);
        for k in 0..keys {
            cache.insert(k, k);
        }
        let n = cache.len() as u64;
        (cache, n)
    });
}
