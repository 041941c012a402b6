//! `ringside-console`: serves the console's pages, server functions and
//! REST API, and polls every registered cluster.

use anyhow::Context;
use axum::{Router, extract::FromRef, routing::get};
use clap::Parser;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use ringside_api::http::shutdown_signal;
use ringside_app::{App, server_fn_denial, shell};
use ringside_console::{
    AppState, ConsoleConfig, api,
    gateway::{self, Gateway, routes},
    render,
};

// Rendering a page allocates thousands of small strings on whichever
// worker thread runs it; under 16 concurrent views glibc's malloc spent 45%
// of the console's CPU in its arena locks and free-list consolidation
// (docs/benchmarks.md, "Console at fleet scale").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ringside-console",
    version,
    about = "The Ringside federation console"
)]
struct Cli {
    #[command(flatten)]
    config: ConsoleConfig,
}

/// The router's state: the Leptos options its handlers need, and the
/// console's own state.
#[derive(Clone, FromRef)]
struct ServerState {
    leptos_options: LeptosOptions,
    app: AppState,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        // Escape codes only where someone reads a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let config = Cli::parse().config;

    let mut leptos_options = get_configuration(None)
        .context("reading the Leptos site configuration")?
        .leptos_options;
    leptos_options.site_root = config.site_root.display().to_string().into();
    leptos_options.site_addr = config.listen;

    let app = AppState::start(&config)
        .await
        .context("starting the console")?;
    tracing::info!(backend = app.store.backend(), "console store open");

    let state = ServerState {
        leptos_options: leptos_options.clone(),
        app: app.clone(),
    };
    let routes = generate_route_list(App);
    check_every_route_has_a_rule(&routes)?;
    let gateway = Gateway {
        state: app.clone(),
        server_fn_denial,
    };
    let router = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let app = app.clone();
                move || provide_context(app.clone())
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        // The pages and server functions only: a render the client leaves
        // must still run to its end (ringside_console::render).
        .layer(axum::middleware::from_fn(render::run_to_completion))
        .route("/healthz", get(|| async { "ok" }))
        .nest("/api/v1", api::router().with_state(app.clone()))
        .fallback(leptos_axum::file_and_error_handler::<ServerState, _>(shell))
        // Last, so it wraps every route above: nothing is served unchecked.
        .layer(axum::middleware::from_fn_with_state(
            gateway,
            gateway::check,
        ))
        .with_state(state);

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), "console listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    app.store.close().await;
    Ok(())
}

/// Refuses to start while a page, server function or REST route has no
/// gateway rule: such a route would be refused to everyone at run time,
/// and this way the mistake shows before anyone meets it.
fn check_every_route_has_a_rule(pages: &[leptos_axum::AxumRouteListing]) -> anyhow::Result<()> {
    let mut served: Vec<(axum::http::Method, String)> = Vec::new();
    for page in pages {
        served.push((axum::http::Method::GET, page.path().to_string()));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        served.push((method, path.to_string()));
    }
    for (path, item) in api::openapi().paths.paths {
        for (method, operation) in [
            (axum::http::Method::GET, &item.get),
            (axum::http::Method::POST, &item.post),
            (axum::http::Method::PUT, &item.put),
            (axum::http::Method::PATCH, &item.patch),
            (axum::http::Method::DELETE, &item.delete),
        ] {
            if operation.is_some() {
                served.push((method, path.clone()));
            }
        }
    }
    let missing = routes::unmapped(served.iter().map(|(m, p)| (m.clone(), p.as_str())));
    anyhow::ensure!(
        missing.is_empty(),
        "routes without a gateway rule (add them to console/src/gateway/routes.rs): {}",
        missing.join(", ")
    );
    Ok(())
}
