use std::collections::HashMap;

use memokit::cached;

#[cached]
fn lookup(table: HashMap<&str, u32>, names: Option<&[&str]>) -> usize {
    table.len() + names.map_or(0, <[&str]>::len)
}

fn main() {}
