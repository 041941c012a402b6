//! The console's user interface: the Leptos components of every page and
//! the server functions that feed them. Compiled twice: with `ssr` into the
//! server, which renders the HTML, and with `hydrate` into the WASM bundle,
//! which makes that HTML interactive.

pub mod error;
pub mod fleet_query;
pub mod format;
pub mod pages;
pub mod server;

#[cfg(feature = "ssr")]
pub use error::server_fn_denial;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{A, Route, Router, Routes},
    path,
};

use crate::pages::{
    audit::AuditTrailPage,
    cluster::ClusterPage,
    drift::DriftPage,
    fleet::FleetPage,
    licenses::LicensesPage,
    login::LoginPage,
    not_found::NotFound,
    operations::{OperationPage, OperationsPage},
    policy::PolicyPage,
    tenants::TenantsPage,
    tokens::TokensPage,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this flag tells tests (and people
    // debugging) that the WASM bundle has taken over the page.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/ringside.css"/>
        <Title formatter=|page: String| format!("{page} · Ringside")/>
        <Router>
            <div class="min-h-screen" data-hydrated=move || hydrated.get().then_some("true")>
                <header class="border-b border-slate-200 bg-slate-900 text-white">
                    <nav class="mx-auto flex max-w-7xl items-center gap-6 px-6 py-3">
                        <A href="/" attr:class="text-lg font-semibold tracking-tight">"Ringside"</A>
                        <A href="/" attr:class="text-sm text-slate-300 hover:text-white">"Fleet"</A>
                        <A href="/operations" attr:class="text-sm text-slate-300 hover:text-white">"Operations"</A>
                        <A href="/licenses" attr:class="text-sm text-slate-300 hover:text-white">"Licenses"</A>
                        <A href="/drift" attr:class="text-sm text-slate-300 hover:text-white">"Config drift"</A>
                        <A href="/tenants" attr:class="text-sm text-slate-300 hover:text-white">"Tenants"</A>
                        <A href="/audit" attr:class="text-sm text-slate-300 hover:text-white">"Audit trail"</A>
                        <A href="/policy" attr:class="text-sm text-slate-300 hover:text-white">"Policy"</A>
                        <UserMenu/>
                    </nav>
                </header>
                <main class="mx-auto max-w-7xl px-6 py-6">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=FleetPage/>
                        <Route path=path!("/operations") view=OperationsPage/>
                        <Route path=path!("/operations/:id") view=OperationPage/>
                        <Route path=path!("/licenses") view=LicensesPage/>
                        <Route path=path!("/drift") view=DriftPage/>
                        <Route path=path!("/audit") view=AuditTrailPage/>
                        <Route path=path!("/tenants") view=TenantsPage/>
                        <Route path=path!("/policy") view=PolicyPage/>
                        <Route path=path!("/tokens") view=TokensPage/>
                        <Route path=path!("/login") view=LoginPage/>
                        <Route path=path!("/clusters/:name") view=ClusterPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// Who is logged in, and the way out: a plain form, so logging out works
/// without the WASM bundle too.
#[component]
fn UserMenu() -> impl IntoView {
    let me = Resource::new(|| (), |_| crate::server::access::whoami());
    view! {
        <div class="ml-auto flex items-center gap-3 text-sm">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await.ok().map(|me| {
                        let roles = if me.roles.is_empty() { "no role".to_string() } else { me.roles.join(", ") };
                        view! {
                            <A href="/tokens" attr:class="text-slate-300 hover:text-white">"API tokens"</A>
                            <span class="text-slate-300" data-testid="whoami" data-user=me.user.clone()>
                                {format!("{} ({roles})", me.display_name)}
                            </span>
                            <form method="post" action="/api/v1/auth/logout">
                                <button type="submit" data-testid="logout" class="rounded border border-slate-600 px-2 py-0.5 text-xs text-slate-200 hover:bg-slate-800">
                                    "Log out"
                                </button>
                            </form>
                        }
                    })
                })}
            </Suspense>
        </div>
    }
}
