use memokit::cached;

#[cached(cache_err, cache_none)]
fn parse(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| text.to_string())
}

fn main() {}
