//! Counters of the pipeline's repeated work, per thread: how often a file was loaded, an
//! environment merged, a route key parsed, a route value unpacked, the crate indexed. A test
//! holds each to once per command (`tests/analysis.rs`): a fact derived twice can drift.
//!
//! One thread-local cell per counter: a few instructions per event, no locking, and tests that
//! run in parallel threads do not see each other's counts.

use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// flash.yaml read into a spanned tree.
    Load,
    /// `defaults` and an overlay folded into the endpoints of one environment.
    Merge,
    /// A route key parsed.
    RouteParse,
    /// A route's value unpacked (its handler found in a string or a map).
    RouteUnpack,
    /// The handler crate parsed into an index.
    CrateIndex,
}

const COUNTERS: usize = 5;

thread_local! {
    static COUNTS: [Cell<u64>; COUNTERS] = const { [const { Cell::new(0) }; COUNTERS] };
}

/// Counts one event on this thread.
pub fn count(counter: Counter) {
    COUNTS.with(|c| {
        let cell = &c[counter as usize];
        cell.set(cell.get() + 1);
    });
}

/// This thread's count of `counter` since the last [`reset`].
pub fn get(counter: Counter) -> u64 {
    COUNTS.with(|c| c[counter as usize].get())
}

/// Sets this thread's counters to zero.
pub fn reset() {
    COUNTS.with(|c| c.iter().for_each(|cell| cell.set(0)));
}
