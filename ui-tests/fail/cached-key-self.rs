use memokit::cached;

struct Repo;

impl Repo {
    #[cached(key = (self, id))]
    fn get(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
