mod users;

pub mod admin {
    pub(crate) fn reset() {}
}
