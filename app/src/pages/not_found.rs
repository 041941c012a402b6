use leptos::prelude::*;
use leptos_meta::Title;

/// The page for an address that names nothing; answers with status 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <div class="py-16 text-center">
            <h1 class="text-2xl font-semibold">"Not found"</h1>
            <p class="mt-2 text-slate-600">"Nothing lives at this address."</p>
            <a href="/" class="mt-4 inline-block text-sky-700 hover:underline">"Back to the fleet"</a>
        </div>
    }
}
