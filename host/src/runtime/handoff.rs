//! Handing a call to the plugin threads and its answer back without waiting
//! for a sleeping thread to wake.
//!
//! Calls run on their own threads (see the module docs of `runtime`), so each
//! one crosses threads twice. When the thread on the far side is asleep, the
//! crossing costs a futex wake-up, and on a virtual machine whose vCPU has
//! halted, tens of microseconds: `bench plugins` measured the TikTok
//! `describe` call at 34 µs p50 on an idle machine against 15 µs for its
//! steps. Both sides therefore stay awake for a short while:
//! - a plugin thread about to park spins first (tokio's `on_thread_park`),
//!   until a call is submitted or [`PLUGIN_THREAD_SPIN`] has passed; while
//!   it spins tokio counts it as searching for work, so a submission does
//!   not even issue a wake-up, and the worker finds the call as it parks;
//! - the caller polls for the call's answer between yields to its own executor
//!   for up to [`CALLER_SPIN`] before it waits for a wake-up; other tasks
//!   run in between, so nothing is held. Only a caller with no other caller
//!   waiting spins: under load, spinning callers would take the cores the
//!   work needs.
//!
//! The spins are bounded so that an idle server stays idle: a plugin thread
//! spins once per park, at its lower priority, and a caller at most once per
//! call.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long a plugin thread with nothing to do spins before it parks.
/// Longer than the gap between two calls of a busy caller, short enough
/// that an idle node spends nothing measurable.
pub(super) const PLUGIN_THREAD_SPIN: Duration = Duration::from_micros(50);

/// How long a caller polls for its call's answer before it parks. Covers a
/// short verb (`describe` 15 µs, TikTok verify+parse about 25 µs of work);
/// a longer call (one that sends HTTP) then waits as before.
pub(super) const CALLER_SPIN: Duration = Duration::from_micros(40);

/// Counts calls handed to the plugin threads, so that a spinning plugin
/// thread sees a new one at once, and the calls whose callers still wait.
#[derive(Debug, Default)]
pub(super) struct Submissions {
    submitted: AtomicU64,
    waiting: AtomicUsize,
}

/// A caller waiting for its call's answer; counted until dropped.
pub(super) struct Waiting<'a>(&'a Submissions);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Submissions {
    /// Marks one call handed over. Answers the caller's wait and how long
    /// it may spin: [`CALLER_SPIN`] when no other caller is waiting, else
    /// nothing. Under load, callers that spun would take the cores the
    /// calls and the database need (`bench webhooks` on 2 cores: 13% fewer
    /// webhooks/s on SQLite with every caller spinning), and a busy plugin
    /// thread has little wake-up latency to hide. A long call (one waiting
    /// on HTTP egress) counts as waiting too, so while one runs nobody
    /// spins: slower, never wrong.
    pub(super) fn submitted(&self) -> (Waiting<'_>, Duration) {
        self.submitted.fetch_add(1, Ordering::Release);
        let others = self.waiting.fetch_add(1, Ordering::Relaxed);
        let spin = if others == 0 { CALLER_SPIN } else { Duration::ZERO };
        (Waiting(self), spin)
    }

    /// Spins until a call is handed over or `limit` has passed.
    pub(super) fn spin_until_submitted(&self, limit: Duration) {
        let seen = self.submitted.load(Ordering::Acquire);
        let started = Instant::now();
        while self.submitted.load(Ordering::Acquire) == seen && started.elapsed() < limit {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
    }
}

/// Awaits a call's answer, polling for it between yields for up to `spin`
/// before it waits to be woken.
pub(super) async fn await_spinning<F: Future + Unpin>(mut answer: F, spin: Duration) -> F::Output {
    let started = Instant::now();
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut answer).poll(cx))).await;
        if let Poll::Ready(answer) = polled {
            return answer;
        }
        if started.elapsed() >= spin {
            return answer.await;
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_spinning_wait_returns_the_answer_of_a_short_and_of_a_long_call() {
        let short = tokio::spawn(async { 7 });
        assert_eq!(await_spinning(short, CALLER_SPIN).await.unwrap(), 7);
        let long = tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            8
        });
        assert_eq!(await_spinning(long, Duration::from_micros(1)).await.unwrap(), 8);
    }

    #[test]
    fn only_a_caller_alone_spins_and_a_dropped_wait_is_uncounted() {
        let submissions = Submissions::default();
        let (first, spin) = submissions.submitted();
        assert_eq!(spin, CALLER_SPIN);
        let (second, spin) = submissions.submitted();
        assert_eq!(spin, Duration::ZERO, "another caller is waiting");
        drop(first);
        drop(second);
        let (_third, spin) = submissions.submitted();
        assert_eq!(spin, CALLER_SPIN, "the earlier waits ended");
    }

    #[test]
    fn a_spinning_thread_stops_at_a_submission_or_at_its_limit() {
        let submissions = Arc::new(Submissions::default());
        let started = Instant::now();
        submissions.spin_until_submitted(Duration::from_millis(5));
        assert!(started.elapsed() >= Duration::from_millis(5), "spun to the limit");
        let spinner = std::thread::spawn({
            let submissions = submissions.clone();
            move || {
                let started = Instant::now();
                submissions.spin_until_submitted(Duration::from_secs(60));
                started.elapsed()
            }
        });
        std::thread::sleep(Duration::from_millis(10));
        drop(submissions.submitted());
        assert!(
            spinner.join().unwrap() < Duration::from_secs(60),
            "the submission ended the spin"
        );
    }
}
