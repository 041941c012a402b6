//! API tokens: issue one for automation (shown once), list and revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{DataTable, fleet::ErrorNote};
use crate::{
    format,
    server::access::{issue_token, list_tokens, revoke_token},
};

#[component]
pub fn TokensPage() -> impl IntoView {
    let changes = RwSignal::new(0u32);
    let tokens = Resource::new(move || changes.get(), |_| list_tokens());
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new("read".to_string());
    let expires = RwSignal::new("30d".to_string());
    let issue = Action::new(|(name, scopes, expires): &(String, String, String)| {
        issue_token(name.clone(), scopes.clone(), expires.clone())
    });
    let revoke = Action::new(|id: &String| revoke_token(id.clone()));
    Effect::new(move || {
        if issue.value().get().is_some() || revoke.value().get().is_some() {
            changes.update(|n| *n += 1);
        }
    });
    view! {
        <Title text="API tokens"/>
        <h1 class="text-2xl font-semibold">"API tokens"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "For scripts and CI: send a token as Authorization: Bearer. It acts as you, with your groups and roles of now; a read token can change nothing."
        </p>
        <section class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <div class="grid grid-cols-1 gap-3 text-sm sm:grid-cols-4">
                <label class="block">
                    <span class="text-xs text-slate-600">"What it is for"</span>
                    <input data-testid="token-name" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label class="block">
                    <span class="text-xs text-slate-600">"Scopes"</span>
                    <select data-testid="token-scopes" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" on:change=move |ev| scopes.set(event_target_value(&ev))>
                        <option value="read">"read"</option>
                        <option value="read,write">"read, write"</option>
                    </select>
                </label>
                <label class="block">
                    <span class="text-xs text-slate-600">"Expires in (blank: never)"</span>
                    <input data-testid="token-expires" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev))/>
                </label>
                <button type="button" data-testid="token-issue" class="self-end rounded-md bg-slate-800 px-3 py-1.5 text-white"
                    on:click=move |_| { issue.dispatch((name.get_untracked(), scopes.get_untracked(), expires.get_untracked())); }>
                    "Issue token"
                </button>
            </div>
            {move || issue.value().get().map(|issued| match issued {
                Ok(issued) => view! {
                    <p class="mt-3 text-sm">"Copy it now, it is not shown again: "
                        <code class="break-all rounded bg-slate-100 px-1" data-testid="token-value">{issued.token}</code>
                    </p>
                }.into_any(),
                Err(e) => view! { <div class="mt-3"><ErrorNote error=e/></div> }.into_any(),
            })}
        </section>
        <Transition fallback=|| view! { <p class="mt-4 text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    Ok(list) => {
                        let rows = list.into_iter().map(|t| {
                            let id = t.id.clone();
                            view! {
                                <tr data-testid="token-row" data-token=t.id.clone()>
                                    <td class="px-3 py-1 font-mono text-xs">{t.id.clone()}</td>
                                    <td class="px-3 py-1">{t.name.clone()}</td>
                                    <td class="px-3 py-1">{t.owner.clone()}</td>
                                    <td class="px-3 py-1">{t.scopes.join(", ")}</td>
                                    <td class="px-3 py-1 text-xs">{t.expires_at.as_ref().map_or("never".into(), format::time)}</td>
                                    <td class="px-3 py-1">{if t.revoked { "revoked" } else { "active" }}</td>
                                    <td class="px-3 py-1">
                                        {(!t.revoked).then(|| view! {
                                            <button type="button" data-testid="token-revoke" class="rounded border border-slate-300 px-2 py-0.5 text-xs" on:click=move |_| { revoke.dispatch(id.clone()); }>"Revoke"</button>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view();
                        view! { <div class="mt-4"><DataTable headers=&["Id", "Name", "Owner", "Scopes", "Expires", "State", ""] testid="tokens-table">{rows}</DataTable></div> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
