//! Accepted input that could trip the expansion: a local module named `memokit`, shadowed
//! prelude names, user types named like the generated generics, a re-exported crate path,
//! restricted visibility and a `config` function given by a path.

// A local module named `memokit` must not capture the generated `::memokit::...` paths.
mod memokit {}

#[allow(dead_code)]
type Result<T> = std::result::Result<T, ()>;
#[allow(dead_code)]
struct Option;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Q(u32);
#[derive(Debug, Clone, PartialEq)]
pub struct E(String);

#[derive(::memokit::Cache)]
#[cache(key = Q, value = E, ttl = "1h30m", tti = std::time::Duration::from_secs(60), capacity = 1_000)]
pub(crate) struct Shadowed;

mod settings {
    use ::memokit::{ConfigError, Settings};

    pub fn from_env(settings: &mut Settings<(u32, String), Vec<u8>>) -> Result<(), ConfigError> {
        settings.capacity = Some(64);
        Ok(())
    }
}

mod kit {
    pub use ::memokit::*;
}

#[derive(kit::Cache)]
#[cache(
    name = "blobs",
    key = (u32, String),
    value = Vec<u8>,
    backend = memory,
    config = settings::from_env,
    crate = kit,
)]
struct Blobs;

fn main() {
    Shadowed::insert(Q(1), E("one".into())).unwrap();
    assert_eq!(Shadowed::get(&Q(1)).unwrap(), Some(E("one".into())));

    Blobs::insert((1, "a".into()), vec![1]).unwrap();
    assert_eq!(Blobs::get(&(1, "a".to_string())).unwrap(), Some(vec![1]));
    assert_eq!(Blobs::cache().unwrap().config().capacity(), Some(64));
    assert_eq!(Blobs::NAME, "blobs");
}
