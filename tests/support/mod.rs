//! Helpers shared by the end-to-end tests: a minimal HTTP client and the worker exerciser.
#![allow(dead_code)]

pub mod http;
pub mod serve;
