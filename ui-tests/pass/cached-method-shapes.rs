//! Every place a function can sit: free, inherent (with and without a receiver, sync and async),
//! generic impls with a key, trait impls with `companion = false`, and nested functions.

use memokit::cached;

pub struct Store<T> {
    items: Vec<T>,
}

impl<T: Clone + Into<u64>> Store<T> {
    #[cached(key: (usize, u64) = (self.items.len(), self.items.iter().cloned().map(Into::into).sum()))]
    pub fn total(&self) -> u64 {
        self.items.iter().cloned().map(Into::into).sum()
    }

    #[cached]
    pub fn label(prefix: &str) -> String {
        format!("{prefix}-store")
    }

    #[cached]
    pub async fn size_async(&self, scale: u32) -> usize {
        self.items.len() * scale as usize
    }
}

pub trait Repo {
    fn get(&self, id: u32) -> Option<String>;
    fn kind() -> String;
}

pub struct Memory;

impl Repo for Memory {
    #[cached(companion = false)]
    fn get(&self, id: u32) -> Option<String> {
        (id > 0).then(|| format!("row {id}"))
    }

    #[cached(companion = false)]
    fn kind() -> String {
        "memory".into()
    }
}

fn outer() -> u32 {
    #[cached]
    fn nested(x: u32) -> u32 {
        x + 1
    }
    nested(1) + NESTED_MEMO.len() as u32
}

fn main() {
    let store = Store { items: vec![1u8, 2, 3] };
    assert_eq!(store.total(), 6);
    assert_eq!(Store::<u8>::TOTAL_MEMO.len(), 1);
    assert_eq!(Store::<u8>::label("a"), "a-store");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(store.size_async(2)), 6);
    assert_eq!(Memory.get(1).as_deref(), Some("row 1"));
    assert_eq!(Memory::kind(), "memory");
    assert_eq!(outer(), 3);
}
