//! Binlog decoding throughput: decodes the largest fixture binlogs from
//! memory repeatedly (CRC check + full decode of every event and row) and
//! prints events/s, rows/s and MB/s (median of several runs).
//!
//! `cargo bench -p benches --bench binlog_decode`

use std::path::Path;
use std::time::Instant;

use replicator::binlog::{BinlogEvent, Decoder, EventHeader};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/binlogs");
const FILES: &[&str] = &[
    "mysql-binlog-connector-java/mysql-bin.sakila",
    "mariadb-poc/domain_id_0/mariadb-repl-bin.000002",
    "mysql-binlog-connector-java/mysql-bin.checksum-crc32",
];
const RUNS: usize = 7;

/// Decodes every event of `data` (a whole binlog file); returns (events, rows, values).
fn decode_all(data: &[u8], dec: &mut Decoder) -> (u64, u64, u64) {
    let (mut events, mut rows, mut values) = (0u64, 0u64, 0u64);
    let mut pos = 4usize;
    while let Some(h) = data.get(pos..).and_then(EventHeader::parse) {
        let end = pos + h.event_size as usize;
        let Some(raw) = data.get(pos..end) else { break };
        match dec.decode(raw, pos as u64) {
            Ok(BinlogEvent::Rows(r)) => {
                rows += r.changes.rows.len() as u64;
                values += r
                    .changes
                    .rows
                    .iter()
                    .map(|i| (i.before.len() + i.after.len()) as u64)
                    .sum::<u64>();
            }
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        events += 1;
        pos = end;
    }
    (events, rows, values)
}

fn main() {
    println!("binlog_decode: median of {RUNS} runs, one thread, from memory (CRC32 verified)");
    for f in FILES {
        let path = Path::new(FIXTURES).join(f);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                println!("{f}: skipped ({e})");
                continue;
            }
        };
        // Repeat small files so one run takes a measurable time.
        let reps = (50_000_000 / data.len()).clamp(1, 200);
        let mut times = Vec::with_capacity(RUNS);
        let mut counts = (0, 0, 0);
        for _ in 0..RUNS {
            let t = Instant::now();
            for _ in 0..reps {
                let mut dec = Decoder::new("bench");
                counts = decode_all(&data, &mut dec);
            }
            times.push(t.elapsed().as_secs_f64() / reps as f64);
        }
        times.sort_by(f64::total_cmp);
        let med = times[RUNS / 2];
        let (ev, rows, vals) = counts;
        println!(
            "{f}: {:.2} MB, {ev} events, {rows} rows, {vals} values: {:.3} ms/pass, {:.0} k events/s, {:.0} k rows/s, {:.1} M values/s, {:.0} MB/s",
            data.len() as f64 / 1e6,
            med * 1e3,
            ev as f64 / med / 1e3,
            rows as f64 / med / 1e3,
            vals as f64 / med / 1e6,
            data.len() as f64 / med / 1e6
        );
    }
}
