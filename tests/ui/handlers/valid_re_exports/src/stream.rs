pub fn feed(ctx: flash_runtime::Context) -> impl futures_util::Stream<Item = Result<u64, String>> {
    futures_util::stream::iter([])
}
