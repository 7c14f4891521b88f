//! `torture`: seeded rounds of faults on a master → relay → slave chain
//! under load (`tests::torture`), verified every `--verify-every` rounds
//! and at the end. Prints `N faults, T transactions, 0 lost, 0 duplicated`
//! or the seed and round of the first failure (exit status 1).
//!
//! Usage: `torture [--rounds 200] [--seed S] [--verify-every 20] [--keep]`
//! (`scripts/torture` builds it and runs it; the replicator must carry the
//! crash points, which a workspace build gives it).

use std::process::ExitCode;
use std::time::Instant;

use tests::torture::{random_fault, Rng, Torture};

#[derive(Debug)]
struct Args {
    rounds: usize,
    seed: u64,
    verify_every: usize,
    keep: bool,
}

const USAGE: &str = "usage: torture [--rounds N (200)] [--seed S (1)] [--verify-every N (20)] [--keep]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rounds: 200,
        seed: 1,
        verify_every: 20,
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match a.as_str() {
            "--rounds" => args.rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--verify-every" => {
                args.verify_every = value("--verify-every")?
                    .parse()
                    .map_err(|e| format!("--verify-every: {e}"))?
            }
            "--keep" => args.keep = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.verify_every == 0 {
        return Err("--verify-every must be at least 1".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("torture: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let root = match tempfile::Builder::new().prefix("torture-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("torture: temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut torture = match Torture::start(root.path()).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("torture: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rng = Rng::new(args.seed);
    let hosts = torture.cluster.hosts().to_vec();
    println!(
        "torture: seed {}, {} rounds, chain {}",
        args.seed,
        args.rounds,
        hosts.join(" → ")
    );
    let mut failure = None;
    for round in 1..=args.rounds {
        let fault = random_fault(&mut rng, &hosts);
        println!("round {round}: {fault}");
        if let Err(e) = torture.inject(&fault).await {
            failure = Some(format!("seed {} round {round} ({fault}): {e}", args.seed));
            break;
        }
        if round % args.verify_every == 0 || round == args.rounds {
            match torture.verify().await {
                Ok(summary) => println!("after round {round}: {summary}"),
                Err(e) => {
                    failure = Some(format!("seed {} round {round} ({fault}): {e}", args.seed));
                    break;
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs();
    match failure {
        None => {
            println!(
                "torture: seed {}, {} rounds in {elapsed} s: passed",
                args.seed, args.rounds
            );
            ExitCode::SUCCESS
        }
        Some(f) => {
            eprintln!("torture: FAILED: {f}");
            if args.keep {
                let kept = root.keep();
                eprintln!("torture: kept {} (logs in <host>/replicator.log)", kept.display());
            }
            ExitCode::FAILURE
        }
    }
}
