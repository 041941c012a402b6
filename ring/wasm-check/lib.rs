//! Exposes the placement checksum to a wasm host, so the same computation the
//! native tests pin can be compared in a wasm32 build.

#[path = "../tests/support/mod.rs"]
mod support;

#[unsafe(no_mangle)]
pub extern "C" fn placement_checksum() -> u64 {
    support::placement_checksum(10_000)
}
