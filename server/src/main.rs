//! `ringside-console`: serves the console's pages, server functions and
//! REST API, and polls every registered cluster.

use anyhow::Context;
use axum::{Router, extract::FromRef, routing::get};
use clap::Parser;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use ringside_api::http::shutdown_signal;
use ringside_app::{App, shell};
use ringside_console::{AppState, ConsoleConfig, api};

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
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .nest("/api/v1", api::router().with_state(app.clone()))
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
        .fallback(leptos_axum::file_and_error_handler::<ServerState, _>(shell))
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
