//! The performance table: runs every benchmark of the project one after another (fold and
//! store, grant latency locally and on the emulator, report and verify over 1M events, cold
//! start and size, cost) and prints each figure beside its goal, with the machine it ran on.
//! Takes several minutes: not part of CI's test run. Needs the benchmarks built
//! (`cargo bench -p stint-tests --no-run`) and the functions (`--profile lambda`).
//!
//! Run: `infra/scripts/with-moto.sh cargo bench -p stint-tests --bench perf_table`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;
use stint_tests::figures::Figure;
use stint_tests::lambda_bench::target_dir;

const BENCHES: [&str; 6] = [
    "foundation",
    "grant_latency",
    "report",
    "verify",
    "cold_start",
    "cost",
];

fn first_line(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = first_line("/proc/meminfo", "MemTotal")
        .trim_end_matches(" kB")
        .trim()
        .parse::<f64>()
        .map_or(f64::NAN, |kb| kb / 1_048_576.0);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{} ({cores} cores), {mem_gib:.0} GiB, {} {}, {rustc}",
        first_line("/proc/cpuinfo", "model name"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// The newest build of benchmark `name` beside this one (`<target>/release/deps/<name>-<hash>`).
fn sibling(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let deps = exe.parent().expect("deps folder");
    std::fs::read_dir(deps)
        .expect("read deps")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!("no build of bench {name}: run `cargo bench -p stint-tests --no-run` first")
        })
}

fn main() {
    let started = chrono::Utc::now();
    let load_before = load();
    let mut figures = Vec::new();
    for bench in BENCHES {
        eprintln!("== {bench}");
        let t = Instant::now();
        // The sibling benchmark's executable, not `cargo bench`: a cargo started under
        // `cargo bench` waits forever for the lock the outer one holds.
        let mut child = Command::new(sibling(bench))
            .arg("--bench")
            .env("CARGO_TARGET_DIR", target_dir())
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the benchmark");
        let out = child.stdout.take().expect("stdout");
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            match Figure::parse(&line) {
                Some(f) => figures.push(f),
                None => eprintln!("   {line}"),
            }
        }
        let status = child.wait().expect("wait");
        assert!(status.success(), "bench {bench} failed");
        eprintln!("   ({bench}: {:.0} s)", t.elapsed().as_secs_f64());
    }
    println!(
        "Stint performance, {} UTC, on {}; load average {load_before} before, {} after.",
        started.format("%Y-%m-%d %H:%M"),
        machine(),
        load()
    );
    println!();
    println!("| figure | value | goal | |");
    println!("| --- | ---: | ---: | :---: |");
    for f in &figures {
        let value = if f.value.abs() >= 1000.0 {
            format!("{:.0} {}", f.value, f.unit)
        } else if f.value.abs() >= 10.0 {
            format!("{:.1} {}", f.value, f.unit)
        } else {
            format!("{:.3} {}", f.value, f.unit)
        };
        let goal = f
            .goal
            .as_ref()
            .map(|(op, x)| format!("{op} {x} {}", f.unit))
            .unwrap_or_default();
        let met = match f.met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!("| {} | {value} | {goal} | {met} |", f.name);
    }
    let missed = figures.iter().filter(|f| f.met() == Some(false)).count();
    let goals = figures.iter().filter(|f| f.goal.is_some()).count();
    println!();
    println!("{} of {goals} goals met.", goals - missed);
}
