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
const PAYLOAD: f64 = 16.0; // a u64 key and a u64 value

/// Builds a cache with `fill`, keeps it alive while measuring, and prints one row.
fn measure<C>(name: &str, fill: impl FnOnce() -> (C, u64)) {
    let before = LIVE.load(Ordering::Relaxed);
    let (cache, entries) = fill();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    let per_entry = bytes as f64 / entries as f64;
    println!(
        "| {name} | {entries} | {:.1} | {:.1} |",
        bytes as f64 / 1e6,
        per_entry - PAYLOAD
    );
    drop(cache);
}

fn main() {
    println!("Heap use for u64 -> u64, capacity {ENTRIES}, {ENTRIES} distinct keys inserted\n");
    println!("| cache | entries held | MB | bytes/entry beyond K+V |");
    println!("|---|---:|---:|---:|");
    measure("hashbrown::HashMap (floor)", || {
        let map: hashbrown::HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k)).collect();
        let n = map.len() as u64;
        (map, n)
    });
    measure("memokit", || {
        let cache: Cache<u64, u64> = Cache::builder("memory")
            .capacity(ENTRIES)
            .build()
            .expect("valid");
        for k in 0..ENTRIES {
            let _ = cache.insert(k, k);
        }
        let n = cache.len();
        (cache, n)
    });
    measure("moka::sync::Cache", || {
        let cache = moka::sync::Cache::new(ENTRIES);
        for k in 0..ENTRIES {
            cache.insert(k, k);
        }
        cache.run_pending_tasks();
        let n = cache.entry_count();
        (cache, n)
    });
    measure("quick_cache::sync::Cache", || {
        let cache = quick_cache::sync::Cache::new(ENTRIES as usize);
        for k in 0..ENTRIES {
            cache.insert(k, k);
        }
        let n = cache.len() as u64;
        (cache, n)
    });
}
