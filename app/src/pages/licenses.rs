//! The license dashboard: every cluster's license (kind, expiry, days
//! left, workers and capacity against their limits, signature), the alerts
//! they raise, a chart of expiries ahead, the capacity forecast, and the
//! licenses uploaded to the console with a button to apply each.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use ringside_api::{
    license::{LicenseKind, LicenseState},
    licenses::{LicenseDashboard, LicenseRow, UploadedLicense},
};

use super::{Bar, DataTable, fleet::ErrorNote, refresh_ticker};
use crate::{
    format,
    server::licenses::{
        apply_license, get_license_dashboard, license_expiry_chart, upload_license,
    },
};

fn state_class(state: LicenseState) -> &'static str {
    match state {
        LicenseState::Valid => "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
        LicenseState::Grace => "bg-amber-50 text-amber-800 ring-amber-600/30",
        LicenseState::Expired | LicenseState::Invalid => {
            "bg-rose-50 text-rose-800 ring-rose-600/30"
        }
        LicenseState::Unlicensed => "bg-slate-100 text-slate-700 ring-slate-500/30",
    }
}

fn kind(kind: LicenseKind) -> &'static str {
    match kind {
        LicenseKind::Cluster => "cluster",
        LicenseKind::Deployment => "deployment",
    }
}

fn day(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[component]
pub fn LicensesPage() -> impl IntoView {
    let tick = refresh_ticker();
    let uploads = RwSignal::new(0u32);
    let dashboard = Resource::new(
        move || (tick.get(), uploads.get()),
        |_| get_license_dashboard(),
    );
    let chart = LocalResource::new(move || {
        uploads.track();
        license_expiry_chart()
    });
    let token = RwSignal::new(String::new());
    let upload = Action::new(|token: &String| upload_license(token.clone()));
    let apply = Action::new(|id: &String| apply_license(id.clone()));
    Effect::new(move || {
        if let Some(Ok(_)) = upload.value().get() {
            token.set(String::new());
            uploads.update(|n| *n += 1);
        }
    });
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(op)) = apply.value().get() {
            navigate(
                &format!("/operations/{}", op.summary.id),
                Default::default(),
            );
        }
    });
    view! {
        <Title text="Licenses"/>
        <h1 class="text-2xl font-semibold">"Licenses"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Every cluster's license as its coordinator reports it. Coordinators verify signatures; a cluster past its grace period refuses new jobs but keeps serving reads."
        </p>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(d) => view! { <Dashboard dashboard=d apply/> }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        {move || apply.value().get().and_then(Result::err).map(|e| view! { <div class="mt-3"><ErrorNote error=e/></div> })}
        <section class="mt-8 grid grid-cols-1 gap-6 lg:grid-cols-2">
            <div class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="license-expiry-chart">
                {move || match chart.get() {
                    Some(Ok(svg)) => view! { <div class="[&>svg]:h-auto [&>svg]:w-full" inner_html=svg></div> }.into_any(),
                    Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
                    None => view! { <p class="text-sm text-slate-500">"Drawing…"</p> }.into_any(),
                }}
            </div>
            <div class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <h2 class="mb-2 text-lg font-semibold">"Upload a license"</h2>
                <p class="mb-2 text-xs text-slate-600">"A deployment license is uploaded once and applied to every cluster it names."</p>
                <textarea
                    class="block h-24 w-full rounded-md border border-slate-300 p-2 font-mono text-xs"
                    data-testid="license-token"
                    placeholder="RSL1.…"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                ></textarea>
                <button
                    class="mt-2 rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800"
                    data-testid="license-upload"
                    on:click=move |_| { upload.dispatch(token.get_untracked()); }
                >"Upload"</button>
                {move || upload.value().get().map(|r| match r {
                    Ok(l) => view! { <p class="mt-2 text-sm text-emerald-700" data-testid="license-uploaded">{format!("Uploaded {}", l.license.id)}</p> }.into_any(),
                    Err(e) => view! { <div class="mt-2"><ErrorNote error=e/></div> }.into_any(),
                })}
            </div>
        </section>
    }
}

#[component]
fn Dashboard(
    dashboard: LicenseDashboard,
    apply: Action<String, Result<ringside_api::operation::OperationView, crate::error::UiError>>,
) -> impl IntoView {
    let LicenseDashboard { rows, uploaded } = dashboard;
    let alerts: Vec<(String, String)> = rows
        .iter()
        .flat_map(|r| r.alerts.iter().map(|a| (r.cluster.clone(), a.clone())))
        .collect();
    view! {
        {(!alerts.is_empty()).then(|| view! {
            <ul data-testid="license-alerts" class="mb-4 list-disc rounded-md border border-amber-200 bg-amber-50 py-2 pl-8 pr-3 text-sm text-amber-900">
                {alerts.into_iter().map(|(c, a)| view! { <li data-testid="license-alert"><a class="font-medium hover:underline" href=format!("/clusters/{c}")>{c.clone()}</a>": "{a}</li> }).collect_view()}
            </ul>
        })}
        <DataTable headers=&["Cluster", "State", "License", "Expires", "Days left", "Workers", "Capacity", "Signature", "Capacity limit reached"] testid="license-table">
                {rows.into_iter().map(|row| view! { <Row row/> }).collect_view()}
            </DataTable>
        <h2 class="mb-2 mt-8 text-lg font-semibold">"Uploaded licenses"</h2>
        <Uploaded list=uploaded apply/>
    }
}

#[component]
fn Row(row: LicenseRow) -> impl IntoView {
    let LicenseRow {
        cluster,
        status,
        alerts,
        capacity_limit_reached_at,
    } = row;
    let Some(s) = status else {
        return view! {
            <tr data-testid="license-row" data-cluster=cluster.clone()>
                <td class="px-3 py-2">{cluster.clone()}</td>
                <td class="px-3 py-2 text-xs text-slate-500" colspan="8">"not reported yet"</td>
            </tr>
        }
        .into_any();
    };
    let limit_cell = |used: u64, limit: Option<u64>, text: String| {
        match limit {
        Some(limit) => view! {
            <td class="px-3 py-2 text-xs">
                {text}
                <Bar fraction=format::fraction(used, limit) color={if used * 10 > limit * 9 { "bg-rose-600" } else { "bg-sky-600" }}/>
            </td>
        }
        .into_any(),
        None => view! { <td class="px-3 py-2 text-xs">{text}</td> }.into_any(),
    }
    };
    let workers = limit_cell(
        u64::from(s.workers_used),
        s.workers_limit.map(u64::from),
        format!(
            "{} / {}",
            s.workers_used,
            s.workers_limit
                .map_or("unlimited".into(), |l| l.to_string())
        ),
    );
    let capacity = limit_cell(
        s.capacity_used_bytes,
        s.capacity_limit_bytes,
        format!(
            "{} / {}",
            format::bytes(s.capacity_used_bytes),
            s.capacity_limit_bytes
                .map_or("unlimited".into(), format::bytes)
        ),
    );
    let license = s.license.as_ref();
    let signature = match s.state {
        LicenseState::Invalid => "invalid",
        LicenseState::Unlicensed => "—",
        _ => "verified",
    };
    view! {
        <tr data-testid="license-row" data-cluster=cluster.clone() data-state=s.state.as_str() class=("bg-amber-50", !alerts.is_empty())>
            <td class="px-3 py-2"><a class="text-sky-700 hover:underline" href=format!("/clusters/{cluster}")>{cluster.clone()}</a></td>
            <td class="px-3 py-2" title=s.message.clone()>
                <span class=format!("inline-flex rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset {}", state_class(s.state))>{s.state.as_str()}</span>
            </td>
            <td class="px-3 py-2 text-xs">
                {license.map(|l| format!("{} · {} · {}", l.id, kind(l.kind), l.customer)).unwrap_or_else(|| "—".into())}
            </td>
            <td class="px-3 py-2 text-xs">{license.map(|l| day(&l.expires_at)).unwrap_or_else(|| "—".into())}</td>
            <td class="px-3 py-2 text-xs" data-testid="license-days-left">{s.days_left.map(|d| d.to_string()).unwrap_or_else(|| "—".into())}</td>
            {workers}
            {capacity}
            <td class="px-3 py-2 text-xs">{signature}</td>
            <td class="px-3 py-2 text-xs">{capacity_limit_reached_at.map(|t| day(&t)).unwrap_or_else(|| "not within a year".into())}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn Uploaded(
    list: Vec<UploadedLicense>,
    apply: Action<String, Result<ringside_api::operation::OperationView, crate::error::UiError>>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="text-sm text-slate-600">"None uploaded."</p> }.into_any();
    }
    let rows = list
        .into_iter()
        .map(|u| {
            let id = u.license.id.clone();
            let to_apply = id.clone();
            let can_apply = !u.registered.is_empty();
            view! {
                <tr data-testid="uploaded-license" data-id=id.clone()>
                    <td class="px-3 py-2 font-mono text-xs">{id.clone()}</td>
                    <td class="px-3 py-2 text-xs">{u.license.customer.clone()}</td>
                    <td class="px-3 py-2 text-xs">{kind(u.license.kind)}</td>
                    <td class="px-3 py-2 text-xs">{day(&u.license.expires_at)}</td>
                    <td class="px-3 py-2 text-xs">
                        {u.registered.join(", ")}
                        {(!u.unregistered.is_empty()).then(|| view! {
                            <span class="text-slate-500">{format!(" (not registered: {})", u.unregistered.join(", "))}</span>
                        })}
                    </td>
                    <td class="px-3 py-2">
                        <button
                            class="rounded-md border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50 disabled:opacity-50"
                            data-testid="license-apply"
                            disabled=!can_apply
                            on:click=move |_| { apply.dispatch(to_apply.clone()); }
                        >{format!("Apply to {} clusters", u.registered.len())}</button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <DataTable headers=&["Id", "Customer", "Kind", "Expires", "Clusters", ""] testid="uploaded-licenses">{rows}</DataTable>
    }
    .into_any()
}
