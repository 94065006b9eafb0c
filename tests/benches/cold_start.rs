//! Cold start and size of each function as SAM deploys it (`--profile lambda`), run as a
//! process against a Lambda Runtime API stand-in with the emulator behind it and the catalog
//! from a file: init (process start to the first `/invocation/next` poll), the first and a
//! warm invocation of its sample event (the same event again: a duplicate delivery), peak
//! resident memory, and the stripped binary's size. Each function runs `STINT_BENCH_RUNS`
//! times (default 5), each time in a fresh process against a fresh table; medians.
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench cold_start`

use std::time::Duration;
use stint_tests::aws::Fixture;
use stint_tests::figures::{emit, median, Figure};
use stint_tests::lambda_bench::{lambda_binary, prepare, run_process, FUNCTIONS};

const INIT_GOAL_MS: f64 = 30.0;
/// The "under 8 MB", read strictly: 8,000,000 bytes, not 8 MiB.
const SIZE_GOAL_BYTES: u64 = 8_000_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runs: usize = std::env::var("STINT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let binaries: Vec<_> = FUNCTIONS.iter().map(|f| lambda_binary(f)).collect();
    println!("| function | bytes | init ms | first ms | warm ms | peak RSS MiB | answers |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    let (mut worst_init, mut worst_size) = (0.0f64, 0u64);
    for (function, binary) in FUNCTIONS.iter().zip(&binaries) {
        let size = std::fs::metadata(binary).expect("binary").len();
        let (mut init, mut first, mut warm, mut rss) = (vec![], vec![], vec![], vec![]);
        let mut answers = String::new();
        for _ in 0..runs {
            let run = rt.block_on(async {
                let f = Fixture::new(chrono::Utc::now()).await;
                let (env, event) = prepare(&f, function).await;
                run_process(binary, &env, vec![event.clone(), event]).await
            });
            assert_eq!(run.invocations.len(), 2, "{function}: {run:?}");
            init.push(ms(run.init));
            first.push(ms(run.invocations[0].took));
            warm.push(ms(run.invocations[1].took));
            rss.push(run.peak_rss_kib as f64 / 1024.0);
            answers = run
                .invocations
                .iter()
                .map(|i| match i.body.get("statusCode") {
                    Some(code) => format!("{} {code}", i.kind),
                    None => i.kind.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
        }
        let (init, first, warm, rss) = (median(init), median(first), median(warm), median(rss));
        worst_init = worst_init.max(init);
        worst_size = worst_size.max(size);
        println!(
            "| {function} | {size} | {init:.1} | {first:.1} | {warm:.1} | {rss:.1} | {answers} |"
        );
        let name = function.trim_start_matches("stint-");
        emit(Figure::new(format!("cold start: {name} init"), init, "ms").goal_below(INIT_GOAL_MS));
        emit(Figure::new(
            format!("cold start: {name} first invocation"),
            first,
            "ms",
        ));
        emit(Figure::new(
            format!("cold start: {name} warm invocation"),
            warm,
            "ms",
        ));
        emit(Figure::new(
            format!("cold start: {name} peak RSS"),
            rss,
            "MiB",
        ));
        emit(
            Figure::new(format!("size: {name}"), size as f64 / 1e6, "MB")
                .goal_below(SIZE_GOAL_BYTES as f64 / 1e6),
        );
    }
    println!(
        "slowest init {worst_init:.1} ms (goal < {INIT_GOAL_MS} ms: {}); largest binary {worst_size} bytes (goal < {SIZE_GOAL_BYTES}: {}); medians of {runs} runs",
        if worst_init < INIT_GOAL_MS { "met" } else { "MISSED" },
        if worst_size < SIZE_GOAL_BYTES { "met" } else { "MISSED" },
    );
}
