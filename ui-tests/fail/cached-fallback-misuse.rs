use memokit::cached;

#[cached(fallback = "1h")]
fn no_ttl(x: u32) -> Result<u32, String> {
    Ok(x)
}

#[cached(ttl = "1m", fallback = "1h")]
fn not_a_result(x: u32) -> u32 {
    x
}

#[cached(ttl = "1m", fallback = "1h", cache_err)]
fn errors_cached(x: u32) -> Result<u32, String> {
    Ok(x)
}

#[cached(ttl = "1m", fallback = "soon")]
fn bad_age(x: u32) -> Result<u32, String> {
    Ok(x)
}

fn main() {}
