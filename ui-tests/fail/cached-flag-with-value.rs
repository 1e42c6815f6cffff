use memokit::cached;

#[cached(cache_err = true)]
fn parse(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| text.to_string())
}

fn main() {}
