//! Helpers shared by the end-to-end tests: a minimal HTTP client, the worker exerciser,
//! copies of example projects, a handler crate read from disk, and the slow tier's switch.
#![allow(dead_code)]

pub mod docker;
pub mod http;
pub mod project;
pub mod serve;
pub mod workspace;

/// The variable that runs the slow tier: tests that build generated workspaces, example
/// workers or a new project, run them, or build the runtime with other features (minutes each
/// on two cores). `.ci/run` sets it; `cargo test --workspace` alone runs the fast tier.
pub const RUN_SLOW_TESTS: &str = "RUN_SLOW_TESTS";

/// Whether the slow tier runs (`RUN_SLOW_TESTS=1`). When it does not, prints why `test` is
/// skipped (shown by `cargo test -- --nocapture`, and in the test's output if it fails), so a
/// skipped test never passes silently; as rust-analyzer's `skip_slow_tests`.
pub fn run_slow_tests(test: &str) -> bool {
    let on = std::env::var(RUN_SLOW_TESTS).is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: {test} is in the slow tier; {RUN_SLOW_TESTS}=1 runs it");
    }
    on
}
