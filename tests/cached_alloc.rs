//! A hit of a memoized `fn(&str, &[u8])` allocates nothing: the key is looked up by its borrowed
//! form, and the value is handed out by `Clone` (an `Arc` here, so no allocation either).
//!
//! A counting global allocator counts allocations made on the current thread only, so other tests
//! and runtime threads in this binary don't disturb the count. This file is its own test binary
//! because a `#[global_allocator]` applies to the whole binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use memokit::cached;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` unchanged; the count is a thread-local `Cell` with a
// `const` initializer, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[cached]
fn checksum(name: &str, bytes: &[u8]) -> Arc<str> {
    let sum: u32 = bytes.iter().map(|b| u32::from(*b)).sum();
    format!("{name}:{sum}").into()
}

#[cached]
fn lookup(id: u64) -> u64 {
    id * 7
}

#[test]
fn hits_allocate_nothing() {
    let name = String::from("report");
    let bytes = vec![1u8, 2, 3];
    let first = checksum(&name, &bytes);
    lookup(3);

    let before = allocations();
    for _ in 0..1_000 {
        let hit = checksum(&name, &bytes);
        assert_eq!(hit, first);
        assert_eq!(lookup(3), 21);
    }
    assert_eq!(allocations() - before, 0, "hits allocated");
    assert_eq!(CHECKSUM_MEMO.stats().hits, 1_000);

    // The counter does count: a miss builds the owned key and the value.
    let before = allocations();
    checksum("other", &bytes);
    assert!(allocations() > before);
}
