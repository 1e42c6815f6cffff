use memokit::cached;

#[cached(key = (user, page))]
fn list(user_id: u64, page: u32) -> Vec<u64> {
    vec![user_id, u64::from(page)]
}

fn main() {}
