//! The end-to-end suite as one test binary: every module is one file of this directory, with
//! its own documentation. One binary instead of one per file keeps the build to a single link
//! of wasmtime (minutes and gigabytes of disk fewer in CI).
//!
//! Run one file's tests with a filter on its module name, for example
//! `cargo test -p e2e --test end_to_end -- control:: --nocapture`.
//!
//! `guest_streaming.rs` is a binary of its own: it measures this process's peak RSS, which the
//! other tests running in parallel threads would disturb.

mod abi_abuse;
mod abi_drift;
mod assemblyscript_guest;
mod async_embedding;
mod audit;
mod c_guest;
mod compat;
mod control;
mod credentials;
mod examples;
mod guest_e2e;
mod header_block;
mod panic_guard;
mod production_limits;
mod production_nginx;
mod production_policy;
mod production_reuse;
mod production_timeouts;
mod proxy;
mod quotas;
mod spec_precision;
mod tls;
