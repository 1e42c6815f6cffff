//! `refresh` and `sync` in the shapes they accept: borrowed, owned and no arguments, sync and
//! async, with a `Duration` expression, beside `ttl`.

use std::time::Duration;

use memokit::cached;

#[cached(refresh = "30s", ttl = "1h")]
fn by_ref(name: &str, items: &[u8], count: &u64, page: u32) -> usize {
    name.len() + items.len() + *count as usize + page as usize
}

#[cached(refresh = Duration::from_secs(5))]
fn no_arguments() -> Result<u8, String> {
    Ok(1)
}

#[cached(refresh = "1m", sync = false)]
async fn owned(mut name: String) -> Option<String> {
    name.push('!');
    Some(name)
}

#[cached(sync = true)]
fn explicit_default(x: u8) -> u8 {
    x
}

fn main() {
    assert_eq!(by_ref("ab", &[1], &2, 3), 8);
    assert_eq!(no_arguments(), Ok(1));
    assert_eq!(explicit_default(4), 4);
    let _ = owned("x".to_string());
}
