use futures_util::Stream;

pub fn watch() -> impl Stream<Item = u64> {
    futures_util::stream::iter(0..10)
}

pub fn status() -> String {
    "ok".into()
}
