//! The one table `switchboard bench all` ends with: each headline figure of
//! issue 16 next to its target and its baseline. Every benchmark prints its
//! own detailed table as it runs and records its headline figures here;
//! `bench all` prints them together at the end.
//!
//! Baselines are the figures the speed work started from (BENCHMARKS.md,
//! "Speed work, issue 16"), or the physical reference measured in the same
//! run where one exists (pgbench on PostgreSQL).

use std::sync::Mutex;

/// One headline figure.
struct Row {
    what: String,
    figure: String,
    target: String,
    baseline: String,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Records a headline figure for the closing table.
pub(super) fn record(
    what: impl Into<String>,
    figure: impl Into<String>,
    target: impl Into<String>,
    baseline: impl Into<String>,
) {
    ROWS.lock().expect("not poisoned").push(Row {
        what: what.into(),
        figure: figure.into(),
        target: target.into(),
        baseline: baseline.into(),
    });
}

/// Prints every recorded figure as one Markdown table, and forgets them.
pub(super) fn print() {
    let rows = std::mem::take(&mut *ROWS.lock().expect("not poisoned"));
    println!("| what | measured | target | baseline |");
    println!("|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.what, row.figure, row.target, row.baseline
        );
    }
}
