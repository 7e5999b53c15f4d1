//! The endpoint's state: an in-memory user table, built once per worker by `init`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
}

/// What `init` returns; every handler of the endpoint may borrow it as `&Store`. Handlers run
/// concurrently, so the table is behind a `Mutex`.
#[derive(Debug, Default)]
pub struct Store {
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    users: BTreeMap<u64, User>,
}

/// `init: store::open`.
pub fn open() -> Store {
    Store::default()
}

impl Store {
    pub fn insert(&self, name: String, email: String) -> User {
        let mut table = self.inner.lock().unwrap();
        table.next_id += 1;
        let user = User {
            id: table.next_id,
            name,
            email,
        };
        table.users.insert(user.id, user.clone());
        user
    }

    pub fn get(&self, id: u64) -> Option<User> {
        self.inner.lock().unwrap().users.get(&id).cloned()
    }

    /// Renames the user `id`; the renamed user, or `None` when there is none.
    pub fn rename(&self, id: u64, name: String) -> Option<User> {
        let mut table = self.inner.lock().unwrap();
        let user = table.users.get_mut(&id)?;
        user.name = name;
        Some(user.clone())
    }

    pub fn remove(&self, id: u64) -> Option<User> {
        self.inner.lock().unwrap().users.remove(&id)
    }

    /// The first `limit` users in id order.
    pub fn list(&self, limit: usize) -> Vec<User> {
        let table = self.inner.lock().unwrap();
        table.users.values().take(limit).cloned().collect()
    }

    pub fn email_taken(&self, email: &str) -> bool {
        let table = self.inner.lock().unwrap();
        table.users.values().any(|u| u.email == email)
    }
}
