//! Tenants: each tenant the user may read, with its owning group, prefixes
//! and, per cluster, the cache policy its coordinator enforces and the
//! bytes its workers hold. Changing a tenant's TTL, quota or evictor on
//! chosen clusters starts a fan-out operation, followed on its own page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use ringside_api::{
    access::TenantOverview,
    operation::{Action as OperationAction, NewOperation, Rollout, Targets},
    tenant::{Evictor, TenantPolicy},
};

use super::{DataTable, fleet::ErrorNote, refresh_ticker};
use crate::{
    format,
    server::{access::list_tenants, operations::start_operation},
};

fn ttl(seconds: Option<u64>) -> String {
    match seconds {
        None => "none".into(),
        Some(s) if s % 86_400 == 0 => format!("{}d", s / 86_400),
        Some(s) if s % 3_600 == 0 => format!("{}h", s / 3_600),
        Some(s) if s % 60 == 0 => format!("{}m", s / 60),
        Some(s) => format!("{s}s"),
    }
}

/// `90s`, `15m`, `12h`, `7d` or blank (none) as seconds.
pub(crate) fn parse_ttl(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(None);
    }
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a TTL: expected e.g. 90s, 15m, 12h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit: expected s, m, h or d"
            ));
        }
    };
    Ok(Some(n * scale))
}

#[component]
pub fn TenantsPage() -> impl IntoView {
    let tick = refresh_ticker();
    let tenants = Resource::new(move || tick.get(), |_| list_tenants());
    let editing = RwSignal::new(None::<TenantOverview>);
    view! {
        <Title text="Tenants"/>
        <h1 class="text-2xl font-semibold">"Tenants"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Each tenant owns path prefixes and has its own cache policy on every cluster it is pushed to: a quota, a TTL and an evictor. Only tenants your groups may read are listed."
        </p>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tenants.await {
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                    Ok(overview) => {
                        let unreachable = overview.unreachable.into_iter().map(|(cluster, error)| view! {
                            <p class="mb-2 text-sm text-amber-700" data-testid="tenants-unreachable">{format!("{cluster}: {error}")}</p>
                        }).collect_view();
                        let rows = overview.tenants.into_iter().map(|tenant| {
                            let clusters = tenant.clusters.iter().map(|c| {
                                let policy = c.policy.as_ref();
                                format!(
                                    "{}: TTL {}, quota {}, {}, {} cached",
                                    c.cluster,
                                    ttl(policy.and_then(|p| p.ttl_seconds)),
                                    policy.and_then(|p| p.quota_bytes).map_or("none".into(), format::bytes),
                                    policy.map_or("LRU", |p| p.evictor.as_str()),
                                    format::bytes(c.used_bytes),
                                )
                            }).map(|line| view! { <li>{line}</li> }).collect_view();
                            let edit = tenant.clone();
                            view! {
                                <tr data-testid="tenant-row" data-tenant=tenant.name.clone()>
                                    <td class="px-3 py-2 font-medium">{tenant.name.clone()}</td>
                                    <td class="px-3 py-2">{tenant.group.clone()}</td>
                                    <td class="px-3 py-2 font-mono text-xs">{tenant.prefixes.join(", ")}</td>
                                    <td class="px-3 py-2 text-xs"><ul data-testid="tenant-clusters">{clusters}</ul></td>
                                    <td class="px-3 py-2">
                                        <button
                                            type="button"
                                            data-testid="tenant-edit"
                                            class="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100"
                                            on:click=move |_| editing.set(Some(edit.clone()))
                                        >
                                            "Change policy"
                                        </button>
                                    </td>
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            {unreachable}
                            <DataTable headers=&["Tenant", "Group", "Prefixes", "Per cluster", ""] testid="tenants-table">{rows}</DataTable>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        {move || editing.get().map(|tenant| view! { <EditTenant tenant/> })}
    }
}

/// The form that pushes a changed policy to the chosen clusters.
#[component]
fn EditTenant(tenant: TenantOverview) -> impl IntoView {
    let first = tenant.clusters.iter().find_map(|c| c.policy.clone());
    let ttl_text = RwSignal::new(ttl(first.as_ref().and_then(|p| p.ttl_seconds)));
    let quota = RwSignal::new(
        first
            .as_ref()
            .and_then(|p| p.quota_bytes)
            .map(|q| q.to_string())
            .unwrap_or_default(),
    );
    let evictor = RwSignal::new(first.as_ref().map_or(Evictor::Lru, |p| p.evictor));
    let chosen = RwSignal::new(
        tenant
            .clusters
            .iter()
            .map(|c| c.cluster.clone())
            .collect::<Vec<_>>(),
    );
    let problem = RwSignal::new(None::<String>);
    let start = Action::new(|request: &NewOperation| start_operation(request.clone()));
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(op)) = start.value().get() {
            navigate(
                &format!("/operations/{}", op.summary.id),
                Default::default(),
            );
        }
    });
    let name = tenant.name.clone();
    let group = tenant.group.clone();
    let prefixes = tenant.prefixes.clone();
    let submit = move |_| {
        problem.set(None);
        let ttl_seconds = match parse_ttl(&ttl_text.get_untracked()) {
            Ok(ttl) => ttl,
            Err(e) => return problem.set(Some(e)),
        };
        let quota_bytes = match quota.get_untracked().trim() {
            "" => None,
            text => match text.parse::<u64>() {
                Ok(q) => Some(q),
                Err(_) => return problem.set(Some(format!("{text:?} is not a number of bytes"))),
            },
        };
        let names = chosen.get_untracked();
        if names.is_empty() {
            return problem.set(Some("choose at least one cluster".into()));
        }
        start.dispatch(NewOperation {
            action: OperationAction::SetTenantPolicy {
                policy: TenantPolicy {
                    name: name.clone(),
                    group: group.clone(),
                    prefixes: prefixes.clone(),
                    quota_bytes,
                    ttl_seconds,
                    evictor: evictor.get_untracked(),
                },
            },
            targets: Targets::Clusters { names },
            rollout: Rollout::default(),
        });
    };
    let boxes = tenant
        .clusters
        .iter()
        .map(|c| {
            let cluster = c.cluster.clone();
            let toggled = cluster.clone();
            view! {
                <label class="mr-4 inline-flex items-center gap-1">
                    <input
                        type="checkbox"
                        data-testid="tenant-cluster"
                        value=cluster.clone()
                        prop:checked=move || chosen.with(|c| c.contains(&cluster))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|c| {
                                c.retain(|n| n != &toggled);
                                if on { c.push(toggled.clone()); }
                            });
                        }
                    />
                    {c.cluster.clone()}
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="mt-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="tenant-form">
            <h2 class="text-lg font-semibold">{format!("Change {}'s cache policy", tenant.name)}</h2>
            <div class="mt-3 grid grid-cols-1 gap-3 text-sm sm:grid-cols-3">
                <label class="block">
                    <span class="text-xs text-slate-600">"TTL (e.g. 90s, 15m, 12h, 7d; blank: none)"</span>
                    <input data-testid="tenant-ttl" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" prop:value=move || ttl_text.get() on:input=move |ev| ttl_text.set(event_target_value(&ev))/>
                </label>
                <label class="block">
                    <span class="text-xs text-slate-600">"Quota in bytes (blank: none)"</span>
                    <input data-testid="tenant-quota" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1" prop:value=move || quota.get() on:input=move |ev| quota.set(event_target_value(&ev))/>
                </label>
                <label class="block">
                    <span class="text-xs text-slate-600">"Evictor"</span>
                    <select data-testid="tenant-evictor" class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1"
                        on:change=move |ev| {
                            let value = event_target_value(&ev);
                            if let Some(e) = Evictor::ALL.into_iter().find(|e| e.as_str() == value) { evictor.set(e); }
                        }>
                        {Evictor::ALL.into_iter().map(|e| view! { <option value=e.as_str() selected=move || evictor.get() == e>{e.as_str()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="mt-3 text-sm"><span class="mr-2 text-xs text-slate-600">"On clusters:"</span>{boxes}</div>
            {move || problem.get().map(|p| view! { <p class="mt-2 text-sm text-rose-700" data-testid="tenant-problem">{p}</p> })}
            {move || start.value().get().and_then(|r| r.err()).map(|e| view! { <div class="mt-2"><ErrorNote error=e/></div> })}
            <button type="button" data-testid="tenant-apply" class="mt-3 rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800" on:click=submit>
                "Apply to the chosen clusters"
            </button>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_back_as_written() {
        for text in ["90s", "15m", "12h", "7d"] {
            assert_eq!(ttl(parse_ttl(text).unwrap()), text);
        }
        assert_eq!(parse_ttl(" ").unwrap(), None);
        assert!(parse_ttl("7w").unwrap_err().contains("unknown unit"));
        assert!(parse_ttl("soon").unwrap_err().contains("not a TTL"));
    }
}
