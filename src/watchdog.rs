//! Handlers that block their thread: a plain thread (it runs even when every runtime thread is
//! blocked) looks at the handlers running and names the ones still running well past the
//! handler timeout, which only a handler that does not yield can do (an async handler is cut
//! off at the timeout).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Running {
    handler: &'static str,
    started: Instant,
    reported: bool,
}

fn running() -> &'static Mutex<HashMap<u64, Running>> {
    static RUNNING: OnceLock<Mutex<HashMap<u64, Running>>> = OnceLock::new();
    RUNNING.get_or_init(Mutex::default)
}

/// Registered while a handler runs.
pub(crate) struct HandlerRun(u64);

impl HandlerRun {
    pub(crate) fn start(handler: &'static str) -> HandlerRun {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        running().lock().unwrap_or_else(|e| e.into_inner()).insert(
            id,
            Running {
                handler,
                started: Instant::now(),
                reported: false,
            },
        );
        HandlerRun(id)
    }
}

impl Drop for HandlerRun {
    fn drop(&mut self) {
        running()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// Reports, once per run, each handler running longer than `limit`, until `stop` is set.
pub(crate) fn spawn(limit: Duration, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("bcapp-watchdog".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                let mut running = running().lock().unwrap_or_else(|e| e.into_inner());
                for run in running.values_mut() {
                    let elapsed = run.started.elapsed();
                    if !run.reported && elapsed > limit {
                        run.reported = true;
                        crate::metrics::blocked_handler(run.handler);
                        tracing::error!(
                            handler = run.handler,
                            running_for = ?elapsed,
                            "handler still running past its timeout: it blocks its thread \
                             (std::thread::sleep, a blocking client?); move blocking work to \
                             tokio::task::spawn_blocking"
                        );
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the handler watchdog did not start");
    }
}
