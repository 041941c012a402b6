//! The login page: single sign-on through the identity provider, and the
//! bootstrap admin's password form. Both are plain HTML forms and links,
//! so logging in works before (or without) the WASM bundle.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::server::access::login_choices;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next")).unwrap_or_else(|| "/".into());
    let error = move || query.with(|q| q.get("error"));
    let options = Resource::new(|| (), |_| login_choices());
    view! {
        <Title text="Log in"/>
        <div class="mx-auto mt-12 max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm" data-testid="login">
            <h1 class="text-xl font-semibold">"Log in to Ringside"</h1>
            {move || error().map(|e| view! {
                <p class="mt-3 rounded-md border border-rose-200 bg-rose-50 p-2 text-sm text-rose-800" data-testid="login-error">{e}</p>
            })}
            <Suspense fallback=|| view! { <p class="mt-4 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let options = options.await.unwrap_or_default();
                    let sso = options.provider.map(|issuer| {
                        let href = format!("/api/v1/auth/oidc?next={}", percent_encoding::utf8_percent_encode(&next(), percent_encoding::NON_ALPHANUMERIC));
                        view! {
                            <a
                                href=href
                                rel="external"
                                data-testid="login-sso"
                                class="mt-4 block rounded-md bg-sky-700 px-3 py-2 text-center text-sm font-medium text-white hover:bg-sky-800"
                            >
                                "Log in with single sign-on"
                            </a>
                            <p class="mt-1 text-center text-xs text-slate-500">{issuer}</p>
                        }
                    });
                    let password = options.password.then(|| view! {
                        <form method="post" action="/api/v1/auth/login" class="mt-6 space-y-3" data-testid="login-form">
                            <input type="hidden" name="next" value=next()/>
                            <label class="block text-sm">
                                <span class="text-xs text-slate-600">"User"</span>
                                <input name="username" value="admin" autocomplete="username" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1"/>
                            </label>
                            <label class="block text-sm">
                                <span class="text-xs text-slate-600">"Password"</span>
                                <input name="password" type="password" autocomplete="current-password" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1"/>
                            </label>
                            <button type="submit" class="w-full rounded-md bg-slate-800 px-3 py-2 text-sm font-medium text-white hover:bg-slate-900">
                                "Log in as the bootstrap admin"
                            </button>
                            <p class="text-xs text-slate-500">"The password was printed once when the console first started."</p>
                        </form>
                    });
                    view! { {sso} {password} }
                })}
            </Suspense>
        </div>
    }
}
