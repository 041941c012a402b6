//! Page renders run to their end, whether or not the browser waits for it.
//!
//! A Leptos page streams while it renders, and its `Suspend` parts resolve
//! on other worker threads. When a client goes away mid-page, hyper drops
//! the handler and its response body, and with them the page's reactive
//! owner tree, on one thread while another may still be rendering inside
//! it. In reactive_graph 0.2.16 that drop can release the last reference to
//! a parent owner while the other thread holds a read lock on one of its
//! children (`Owner::with_context`), and that worker thread then waits on
//! itself for good: seen under `wrk`, whose connections close mid-response
//! when it stops, until no worker was left (docs/benchmarks.md, "Console at
//! fleet scale"). So each page is rendered by a task of its own: the client
//! gets the chunks as they come, and when it has gone the task reads the
//! page to its end and only then drops it, in the task that rendered it.

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::{SinkExt, StreamExt, channel::mpsc, channel::oneshot};
use tracing::Instrument;

/// Chunks rendered ahead of a slow client.
const CHUNKS_AHEAD: usize = 16;

/// The middleware, for the Leptos routes only: an endless response (a
/// stream of events) would keep its task reading after the client left.
pub async fn run_to_completion(request: Request, next: Next) -> Response {
    let (head, answer) = oneshot::channel();
    tokio::spawn(
        async move {
            let (parts, body) = next.run(request).await.into_parts();
            let (mut chunks_out, chunks_in) =
                mpsc::channel::<Result<Bytes, axum::Error>>(CHUNKS_AHEAD);
            let mut client_waits = head
                .send(Response::from_parts(parts, Body::from_stream(chunks_in)))
                .is_ok();
            let mut chunks = body.into_data_stream();
            while let Some(chunk) = chunks.next().await {
                client_waits = client_waits && chunks_out.send(chunk).await.is_ok();
            }
        }
        .in_current_span(),
    );
    answer.await.unwrap_or_else(|_| {
        tracing::error!("page render failed before its first byte");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be rendered",
        )
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use axum::{Router, routing::get};

    use super::*;

    /// A page of `CHUNKS` chunks, produced slowly, counting those produced.
    const CHUNKS: usize = 40;

    async fn serve(produced: Arc<AtomicUsize>) -> std::net::SocketAddr {
        let page = get(move || {
            let produced = produced.clone();
            async move {
                let chunks = futures::stream::iter(0..CHUNKS).then(move |i| {
                    let produced = produced.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        produced.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(Bytes::from(format!("<p>{i}</p>")))
                    }
                });
                Body::from_stream(chunks)
            }
        });
        let app = Router::new()
            .route("/", page)
            .layer(axum::middleware::from_fn(run_to_completion));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    #[tokio::test]
    async fn a_client_that_stays_gets_the_whole_page() {
        let addr = serve(Arc::new(AtomicUsize::new(0))).await;
        let body = reqwest::get(format!("http://{addr}/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let expected: String = (0..CHUNKS).map(|i| format!("<p>{i}</p>")).collect();
        assert_eq!(body, expected);
    }

    #[tokio::test]
    async fn a_page_is_rendered_to_its_end_after_the_client_leaves() {
        let produced = Arc::new(AtomicUsize::new(0));
        let addr = serve(produced.clone()).await;
        let mut response = reqwest::get(format!("http://{addr}/")).await.unwrap();
        assert!(response.chunk().await.unwrap().is_some());
        drop(response);
        let left_at = produced.load(Ordering::SeqCst);
        assert!(left_at < CHUNKS, "the client left before the page was done");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while produced.load(Ordering::SeqCst) < CHUNKS {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the render stopped at chunk {} of {CHUNKS} when the client left at {left_at}",
                produced.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
