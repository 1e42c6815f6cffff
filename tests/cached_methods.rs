//! `#[cached]` on methods: `&self` (sync and async), receiver-less associated functions, keys that
//! use the receiver, generic impls and trait impls.

use std::sync::atomic::{AtomicU32, Ordering};

use memokit::cached;

static PRICE_RUNS: AtomicU32 = AtomicU32::new(0);
static ASYNC_RUNS: AtomicU32 = AtomicU32::new(0);
static RATE_RUNS: AtomicU32 = AtomicU32::new(0);

struct Catalog {
    region: &'static str,
}

impl Catalog {
    #[cached]
    fn price(&self, sku: u32) -> u32 {
        PRICE_RUNS.fetch_add(1, Ordering::SeqCst);
        sku * 10
    }

    #[cached(key: (String, u32) = (self.region.to_string(), sku))]
    fn regional(&self, sku: u32) -> String {
        format!("{}:{sku}", self.region)
    }

    #[cached]
    async fn price_async(&self, sku: &str) -> usize {
        ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        sku.len()
    }

    /// Receiver-less: the body must not reach the companion through `Self` or a bare name.
    #[cached]
    fn rate(country: &str) -> u32 {
        RATE_RUNS.fetch_add(1, Ordering::SeqCst);
        country.len() as u32
    }

    #[cached]
    fn by_value(self, n: u8) -> u8 {
        n
    }
}

#[test]
fn the_receiver_is_not_part_of_the_default_key() {
    let eu = Catalog { region: "eu" };
    let us = Catalog { region: "us" };
    assert_eq!(eu.price(1), 10);
    assert_eq!(us.price(1), 10);
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(Catalog::PRICE_MEMO.stats().hits, 1);
    assert!(Catalog::PRICE_MEMO.invalidate(&1).unwrap());
}

#[test]
fn a_key_expression_may_use_the_receiver() {
    let eu = Catalog { region: "eu" };
    let us = Catalog { region: "us" };
    assert_eq!(eu.regional(1), "eu:1");
    assert_eq!(us.regional(1), "us:1");
    assert_eq!(eu.regional(1), "eu:1");
    assert_eq!(Catalog::REGIONAL_MEMO.len(), 2);
    assert!(
        Catalog::REGIONAL_MEMO
            .invalidate(&("us".to_string(), 1))
            .unwrap()
    );
}

#[tokio::test]
async fn async_methods_with_borrowed_arguments() {
    let eu = Catalog { region: "eu" };
    assert_eq!(eu.price_async("abc").await, 3);
    assert_eq!(eu.price_async("abc").await, 3);
    assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(Catalog::PRICE_ASYNC_MEMO.stats().hits, 1);
}

#[test]
fn associated_functions_without_a_receiver() {
    assert_eq!(Catalog::rate("DE"), 2);
    assert_eq!(Catalog::rate("DE"), 2);
    assert_eq!(RATE_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(Catalog::RATE_MEMO.len(), 1);
}

#[test]
fn methods_taking_self_by_value() {
    assert_eq!(Catalog { region: "x" }.by_value(4), 4);
    assert_eq!(Catalog { region: "y" }.by_value(4), 4);
    assert_eq!(Catalog::BY_VALUE_MEMO.stats().hits, 1);
}

struct Wrapper<T>(T);

impl<T: Clone + Into<u64>> Wrapper<T> {
    /// One cache for every `T`: the key and result don't mention it.
    #[cached(key: u64 = self.0.clone().into())]
    fn widened(&self) -> u64 {
        self.0.clone().into() * 2
    }
}

#[test]
fn methods_of_generic_impls() {
    assert_eq!(Wrapper(3u8).widened(), 6);
    assert_eq!(Wrapper(3u32).widened(), 6);
    assert_eq!(Wrapper::<u8>::WIDENED_MEMO.stats().hits, 1);
    assert_eq!(
        Wrapper::<u16>::WIDENED_MEMO.len(),
        1,
        "one cache whatever the `T`"
    );
}

trait Shape {
    fn area(&self, scale: u32) -> u32;
    fn unit() -> u32;
}

static AREA_RUNS: AtomicU32 = AtomicU32::new(0);

struct Square;

impl Shape for Square {
    #[cached(companion = false, name = "methods::square-area", key = scale)]
    fn area(&self, scale: u32) -> u32 {
        AREA_RUNS.fetch_add(1, Ordering::SeqCst);
        scale * 4
    }

    #[cached(companion = false, name = "methods::square-unit")]
    fn unit() -> u32 {
        1
    }
}

#[test]
fn trait_impl_methods_are_memoized_and_listed_by_name() {
    assert_eq!(Square.area(2), 8);
    assert_eq!(Square.area(2), 8);
    assert_eq!(AREA_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(Square::unit(), 1);
    let listed: Vec<_> = memokit::caches()
        .into_iter()
        .filter(|c| c.name.starts_with("methods::square-"))
        .map(|c| (c.name, c.stats.entries))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("methods::square-area".to_string(), 1),
            ("methods::square-unit".to_string(), 1)
        ]
    );
}

mod visibility {
    pub struct Api;

    impl Api {
        #[memokit::cached]
        pub fn public(x: u8) -> u8 {
            x
        }
    }

    #[memokit::cached]
    pub(crate) fn crate_visible(x: u8) -> u8 {
        x
    }
}

#[test]
fn companions_follow_the_function_visibility() {
    visibility::Api::public(1);
    visibility::crate_visible(1);
    assert_eq!(visibility::Api::PUBLIC_MEMO.len(), 1);
    assert_eq!(visibility::CRATE_VISIBLE_MEMO.len(), 1);
}
