//! The console's browser entry point: cargo-leptos compiles this crate to
//! WebAssembly, and `hydrate` attaches the interactive app to the HTML the
//! server rendered.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ringside_app::App);
}
