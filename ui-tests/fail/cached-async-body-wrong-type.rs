use memokit::cached;

#[cached]
async fn name(id: u32) -> String {
    id
}

fn main() {}
