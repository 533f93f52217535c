//! The "ceiling" for collection speed: a bare AWS SDK for Rust loop issuing CloudTrail
//! `GetTrailStatus`, with nothing else (no recording, no hashing), against one endpoint.
//!
//! ```text
//! cargo build --release --example sdk_ceiling
//! AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_SESSION_TOKEN=... \
//!   target/release/examples/sdk_ceiling --endpoint-url http://127.0.0.1:5000 \
//!     --trails arn:aws:cloudtrail:us-east-1:111111111111:trail/t1,t2 --region us-east-1 \
//!     --concurrency 32 --calls 5000        # or --duration 10
//! ```
//!
//! Trails given as ARNs are asked in the ARN's region; plain names in `--region`. Prints one JSON
//! line: calls, errors, seconds, calls_per_s, concurrency.

#![allow(clippy::disallowed_macros)] // a command-line tool: it prints its result

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Times a bare SDK GetTrailStatus loop (the ceiling for auditpack collect)")]
struct Args {
    /// Endpoint to send every call to (e.g. a local moto server).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: String,
    /// Comma-separated trail ARNs or names; they are asked round-robin.
    #[arg(long, value_delimiter = ',', required = true)]
    trails: Vec<String>,
    /// Region for trails given by name.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Number of calls to time (ignored if --duration is given).
    #[arg(long, default_value_t = 5000)]
    calls: u64,
    /// Run for this many seconds instead of a fixed number of calls.
    #[arg(long)]
    duration: Option<f64>,
    /// Untimed calls first, to open connections.
    #[arg(long, default_value_t = 64)]
    warmup: u64,
}

/// One trail and the client for its region.
struct Target {
    name: String,
    client: aws_sdk_cloudtrail::Client,
}

fn region_of(trail: &str, default: &str) -> String {
    // arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME
    match trail.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "cloudtrail", region, ..] if !region.is_empty() => region.to_string(),
        _ => default.to_string(),
    }
}

async fn targets(args: &Args) -> Vec<Target> {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(args.region.clone()))
        .endpoint_url(&args.endpoint_url)
        .http_client(auditpack::aws::shared_http_client())
        .load()
        .await;
    let mut clients: HashMap<String, aws_sdk_cloudtrail::Client> = HashMap::new();
    args.trails
        .iter()
        .map(|trail| {
            let region = region_of(trail, &args.region);
            let client = clients
                .entry(region.clone())
                .or_insert_with(|| {
                    let conf = aws_sdk_cloudtrail::config::Builder::from(&sdk)
                        .region(Region::new(region))
                        .build();
                    aws_sdk_cloudtrail::Client::from_conf(conf)
                })
                .clone();
            Target {
                name: trail.clone(),
                client,
            }
        })
        .collect()
}

/// Runs `concurrency` workers that take call numbers from a shared counter until `limit` calls or
/// the deadline; returns (calls done, errors, first error).
async fn run(
    targets: Arc<Vec<Target>>,
    concurrency: usize,
    limit: u64,
    deadline: Option<Instant>,
) -> (u64, u64, Option<String>) {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let workers = (0..concurrency.max(1)).map(|_| {
        let (targets, next, errors, done, first_error) = (
            targets.clone(),
            next.clone(),
            errors.clone(),
            done.clone(),
            first_error.clone(),
        );
        tokio::spawn(async move {
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let t = &targets[(i % targets.len() as u64) as usize];
                let result = t.client.get_trail_status().name(&t.name).send().await;
                done.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = result {
                    errors.fetch_add(1, Ordering::Relaxed);
                    let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert_with(|| format!("{}: {e:?}", t.name));
                }
            }
        })
    });
    futures::future::join_all(workers).await;
    let first = first_error.lock().unwrap_or_else(|p| p.into_inner()).take();
    (
        done.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        first,
    )
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let targets = Arc::new(targets(&args).await);
    run(targets.clone(), args.concurrency, args.warmup, None).await;
    let (limit, deadline) = match args.duration {
        Some(secs) => (
            u64::MAX,
            Some(Instant::now() + Duration::from_secs_f64(secs)),
        ),
        None => (args.calls, None),
    };
    let start = Instant::now();
    let (calls, errors, first_error) = run(targets, args.concurrency, limit, deadline).await;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "calls": calls,
            "warmup_calls": args.warmup,
            "errors": errors,
            "seconds": seconds,
            "calls_per_s": calls as f64 / seconds,
            "concurrency": args.concurrency,
            "first_error": first_error,
        })
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
