use memokit::cached;

struct Repo {
    prefix: String,
}

impl Repo {
    #[cached]
    fn label(&self, id: u32) -> String {
        format!("{}{id}", self.prefix)
    }

    #[cached]
    async fn label_async(&self, id: u32, suffix: &str) -> String {
        format!("{}{id}{suffix}", self.prefix)
    }
}

#[cached]
fn join(parts: &[String], separator: &str, pair: (u8, u8)) -> String {
    format!("{}{}{:?}", parts.join(separator), separator, pair)
}

#[cached]
fn r#type(r#fn: u8) -> u8 {
    r#fn
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let repo = Repo { prefix: "user-".into() };
    assert_eq!(repo.label(1), "user-1");
    assert_eq!(repo.label(1), "user-1");
    assert_eq!(Repo::LABEL_MEMO.stats().hits, 1);
    assert_eq!(repo.label_async(2, "!").await, "user-2!");
    assert_eq!(repo.label_async(2, "!").await, "user-2!");
    assert_eq!(Repo::LABEL_ASYNC_MEMO.stats().hits, 1);
    let parts = vec!["a".to_string(), "b".to_string()];
    assert_eq!(join(&parts, "-", (1, 2)), "a-b-(1, 2)");
    assert_eq!(r#type(3), 3);
    assert_eq!(TYPE_MEMO.len(), 1);
}
