//! The policy page: the Rego policy in force (its backend, revision and
//! text, and the last reload error), a simulator that asks the same engine
//! "would user U be allowed action A on resource R?", and the latest
//! decisions the gateway took.

use leptos::prelude::*;
use leptos_meta::Title;
use ringside_api::access::{PolicyResource, Simulation};

use super::{DataTable, fleet::ErrorNote, refresh_ticker};
use crate::{
    format,
    server::access::{policy_status, simulate_policy},
};

/// The actions the console asks the policy about (`ringside_policy::Action`).
const ACTIONS: &[&str] = &[
    "fleet.read",
    "cluster.read",
    "cluster.create",
    "cluster.update",
    "cluster.delete",
    "operation.read",
    "operation.run",
    "license.read",
    "license.manage",
    "tenant.read",
    "tenant.create",
    "tenant.update",
    "tenant.delete",
    "audit.read",
    "policy.read",
    "policy.simulate",
    "token.read",
    "token.manage",
];

fn optional(text: String) -> Option<String> {
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[component]
pub fn PolicyPage() -> impl IntoView {
    let tick = refresh_ticker();
    let status = Resource::new(move || tick.get(), |_| policy_status());
    view! {
        <Title text="Policy"/>
        <h1 class="text-2xl font-semibold">"Policy"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Every page, server function and API call is authorized by this Rego policy; anything it does not allow is denied."
        </p>
        <Simulator/>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    Ok(page) => {
                        let policy = page.policy;
                        let decisions = page.decisions.into_iter().take(50).map(|d| {
                            let allowed = d.result == "allow";
                            view! {
                                <tr data-testid="decision-row" data-result=d.result.clone() data-user=d.user.clone() data-action=d.action.clone()>
                                    <td class="px-3 py-1 text-xs">{format::time(&d.time)}</td>
                                    <td class="px-3 py-1">{d.user.clone()}</td>
                                    <td class="px-3 py-1 font-mono text-xs">{d.action.clone()}</td>
                                    <td class="px-3 py-1 font-mono text-xs">{describe_resource(&d.resource)}</td>
                                    <td class="px-3 py-1" class=("text-emerald-700", allowed) class=("text-rose-700", !allowed)>{d.result.clone()}</td>
                                    <td class="px-3 py-1 font-mono text-xs">{d.revision.clone()}</td>
                                </tr>
                            }
                        }).collect_view();
                        let texts = policy.text.into_iter().map(|source| view! {
                            <details class="mt-2 rounded border border-slate-200 bg-white" open>
                                <summary class="cursor-pointer px-3 py-1 text-sm font-medium">{source.name}</summary>
                                <pre class="overflow-x-auto px-3 py-2 text-xs" data-testid="policy-text">{source.text}</pre>
                            </details>
                        }).collect_view();
                        view! {
                            <section class="mt-6">
                                <h2 class="text-lg font-semibold">"In force"</h2>
                                <p class="text-sm" data-testid="policy-status">
                                    {format!(
                                        "{} backend, revision {}, from {}",
                                        policy.backend,
                                        policy.revision.unwrap_or_else(|| "(decided by OPA)".into()),
                                        policy.sources.join(", "),
                                    )}
                                </p>
                                {policy.last_error.map(|e| view! {
                                    <p class="mt-2 rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-800" data-testid="policy-error">
                                        {format!("The last edit did not load, the previous policy stays in force: {e}")}
                                    </p>
                                })}
                                {texts}
                            </section>
                            <section class="mt-6">
                                <h2 class="mb-2 text-lg font-semibold">"Recent decisions"</h2>
                                <DataTable headers=&["Time", "User", "Action", "Resource", "Result", "Revision"] testid="decisions-table">{decisions}</DataTable>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn describe_resource(resource: &PolicyResource) -> String {
    let mut parts = vec![resource.kind.clone()];
    for (key, value) in [
        ("cluster", &resource.cluster),
        ("tenant", &resource.tenant),
        ("path", &resource.path),
        ("group", &resource.group),
    ] {
        if let Some(value) = value {
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(" ")
}

#[component]
fn Simulator() -> impl IntoView {
    let user = RwSignal::new(String::new());
    let groups = RwSignal::new(String::new());
    let roles = RwSignal::new("admin".to_string());
    let action = RwSignal::new("tenant.update".to_string());
    let kind = RwSignal::new("tenant".to_string());
    let cluster = RwSignal::new(String::new());
    let tenant = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    let ask = Action::new(|question: &Simulation| simulate_policy(question.clone()));
    let field = |label: &'static str, testid: &'static str, value: RwSignal<String>| {
        view! {
            <label class="block">
                <span class="text-xs text-slate-600">{label}</span>
                <input data-testid=testid class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="simulator">
            <h2 class="text-lg font-semibold">"Simulator"</h2>
            <p class="text-sm text-slate-600">"Would this user be allowed this action on this resource? Asked of the policy in force; nothing is logged under their name."</p>
            <div class="mt-3 grid grid-cols-2 gap-3 text-sm md:grid-cols-4">
                {field("User", "sim-user", user)}
                {field("Groups (comma-separated)", "sim-groups", groups)}
                {field("Roles (comma-separated)", "sim-roles", roles)}
                <label class="block">
                    <span class="text-xs text-slate-600">"Action"</span>
                    <select data-testid="sim-action" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" on:change=move |ev| action.set(event_target_value(&ev))>
                        {ACTIONS.iter().map(|a| view! { <option value=*a selected=move || action.get() == *a>{*a}</option> }).collect_view()}
                    </select>
                </label>
                {field("Resource kind", "sim-kind", kind)}
                {field("Cluster", "sim-cluster", cluster)}
                {field("Tenant", "sim-tenant", tenant)}
                {field("Owning group", "sim-group", group)}
            </div>
            <button type="button" data-testid="sim-ask" class="mt-3 rounded-md bg-slate-800 px-3 py-1.5 text-sm text-white"
                on:click=move |_| {
                    ask.dispatch(Simulation {
                        user: user.get_untracked(),
                        groups: crate::format::comma_list(&groups.get_untracked()),
                        roles: crate::format::comma_list(&roles.get_untracked()),
                        action: action.get_untracked(),
                        resource: PolicyResource {
                            kind: kind.get_untracked(),
                            cluster: optional(cluster.get_untracked()),
                            tenant: optional(tenant.get_untracked()),
                            path: None,
                            group: optional(group.get_untracked()),
                        },
                    });
                }>
                "Would it be allowed?"
            </button>
            {move || ask.value().get().map(|answer| match answer {
                Ok(answer) => view! {
                    <p class="mt-3 text-sm font-medium" data-testid="sim-answer" data-allow=answer.allow.to_string()
                        class=("text-emerald-700", answer.allow) class=("text-rose-700", !answer.allow)>
                        {format!("{} (revision {}){}", if answer.allow { "Allowed" } else { "Denied" }, answer.revision, answer.reason.map(|r| format!(": {r}")).unwrap_or_default())}
                    </p>
                }.into_any(),
                Err(e) => view! { <div class="mt-3"><ErrorNote error=e/></div> }.into_any(),
            })}
        </section>
    }
}
