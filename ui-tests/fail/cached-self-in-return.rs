use memokit::cached;

#[derive(Clone)]
struct Config;

impl Config {
    #[cached]
    fn load(id: u32) -> Self {
        let _ = id;
        Config
    }
}

fn main() {}
