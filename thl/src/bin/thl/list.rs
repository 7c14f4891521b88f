//! `thl list`.

use std::io::Write;
use std::path::Path;

use clap::Args;
use thl::display::{self, HeaderJson, SqlScript};
use thl::seqno::Seqno;
use thl::store::{Reader, RecordRef, StoreError};

use crate::{CmdResult, Failure};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// First seqno to print (default: the lowest stored).
    #[arg(
        long,
        alias = "from",
        value_name = "SEQNO",
        conflicts_with = "seqno",
        allow_negative_numbers = true
    )]
    low: Option<Seqno>,
    /// Last seqno to print (default: the highest stored when the command starts).
    #[arg(
        long,
        alias = "to",
        value_name = "SEQNO",
        conflicts_with = "seqno",
        allow_negative_numbers = true
    )]
    high: Option<Seqno>,
    /// Print only this seqno (all its fragments).
    #[arg(long, value_name = "SEQNO", allow_negative_numbers = true)]
    seqno: Option<Seqno>,
    /// Print the events of one file (thl.data.0000000001, its path, or its number).
    #[arg(long, value_name = "FILE")]
    file: Option<String>,
    /// One tab-separated line per fragment: seqno, epoch, frag, lastFrag,
    /// time, eventId, sourceId, shard (or `filtered A-B`).
    #[arg(long)]
    headers: bool,
    /// JSON: with -headers an array of header objects; alone, each
    /// fragment as one line of JSON.
    #[arg(long, conflicts_with = "sql")]
    json: bool,
    /// Re-executable SQL: statements with USE/SET, row changes as
    /// INSERT/UPDATE/DELETE with literal values.
    #[arg(long, conflicts_with = "headers")]
    sql: bool,
    /// Accepted for compatibility with Tungsten; CRCs are always checked.
    #[arg(long = "no-checksum")]
    no_checksum: bool,
}

/// The number of a data file named on the command line.
fn file_number(arg: &str) -> Result<u32, Failure> {
    let name = Path::new(arg).file_name().and_then(|n| n.to_str()).unwrap_or(arg);
    let digits = name.strip_prefix("thl.data.").unwrap_or(name);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = digits.parse::<u32>() {
            return Ok(n);
        }
    }
    Err(Failure::Usage(format!(
        "-file {arg}: expected a data file name like thl.data.0000000001"
    )))
}

enum Mode {
    Full,
    Headers,
    HeadersJson { first: bool },
    Json,
    Sql(SqlScript),
}

/// Prints records as they come; remembers whether some could not be shown.
struct Printer<'a> {
    out: &'a mut dyn Write,
    mode: Mode,
    problems: u64,
}

impl Printer<'_> {
    fn start(&mut self) -> std::io::Result<()> {
        if let Mode::HeadersJson { .. } = self.mode {
            writeln!(self.out, "[")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Mode::HeadersJson { first } = self.mode {
            if !first {
                writeln!(self.out)?;
            }
            writeln!(self.out, "]")?;
        }
        Ok(())
    }

    fn record(&mut self, r: &RecordRef) -> std::io::Result<()> {
        let h = r.header();
        match &mut self.mode {
            Mode::Headers => return writeln!(self.out, "{}", display::header_line(h)),
            Mode::HeadersJson { first } => {
                let text = serde_json::to_string(&HeaderJson::new(h)).map_err(std::io::Error::other)?;
                if !*first {
                    writeln!(self.out, ",")?;
                }
                *first = false;
                return write!(self.out, "  {text}");
            }
            _ => {}
        }
        let ev = match r.decode_event() {
            Ok(ev) => ev,
            Err(e) => {
                self.problems += 1;
                return match &self.mode {
                    Mode::Full => write!(self.out, "{}", display::format_undecodable(h, &e.to_string())),
                    Mode::Sql(_) => writeln!(self.out, "-- {}\n-- ERROR: {e}", display::header_summary(h)),
                    _ => {
                        eprintln!("thl: {e}");
                        Ok(())
                    }
                };
            }
        };
        match &mut self.mode {
            Mode::Full => write!(self.out, "{}", display::format_event(&ev)),
            Mode::Json => {
                let line = display::event_json(&ev).map_err(std::io::Error::other)?;
                writeln!(self.out, "{line}")
            }
            Mode::Sql(script) => write!(self.out, "{}", script.event(&ev)),
            Mode::Headers | Mode::HeadersJson { .. } => Ok(()),
        }
    }
}

pub fn run(dir: &Path, a: &ListArgs, out: &mut dyn Write) -> CmdResult {
    let reader = Reader::open(dir)?;
    let (low, high) = match a.seqno {
        Some(s) => (Some(s), Some(s)),
        None => (a.low, a.high),
    };
    if let (Some(l), Some(h)) = (low, high) {
        if l > h {
            return Err(Failure::Usage(format!("-low {l} is above -high {h}")));
        }
    }
    let mode = match (a.headers, a.json, a.sql) {
        (_, _, true) => Mode::Sql(SqlScript::new()),
        (true, true, _) => Mode::HeadersJson { first: true },
        (true, false, _) => Mode::Headers,
        (false, true, _) => Mode::Json,
        (false, false, _) => Mode::Full,
    };
    let mut p = Printer { out, mode, problems: 0 };
    p.start()?;
    let res = match &a.file {
        Some(f) => list_file(&reader, file_number(f)?, low, high, &mut p),
        None => list_range(&reader, low, high, &mut p),
    };
    // Close the JSON array even after an error, so the output stays valid.
    p.finish()?;
    res?;
    if p.problems > 0 {
        return Err(Failure::Failed(format!("{} event(s) could not be decoded", p.problems)));
    }
    Ok(())
}

fn list_file(reader: &Reader, no: u32, low: Option<Seqno>, high: Option<Seqno>, p: &mut Printer<'_>) -> CmdResult {
    let records = reader.file_records(no).map_err(|e| match e {
        StoreError::Io { .. } => Failure::Failed(format!(
            "cannot read {} in {}: {e}",
            thl::store::data_file_name(no),
            reader.dir().display()
        )),
        e => e.into(),
    })?;
    for r in records {
        let r = r?;
        let h = r.header();
        if low.is_some_and(|l| h.seqno_end < l) || high.is_some_and(|x| h.seqno > x) {
            continue;
        }
        p.record(&r)?;
    }
    Ok(())
}

fn list_range(reader: &Reader, low: Option<Seqno>, high: Option<Seqno>, p: &mut Printer<'_>) -> CmdResult {
    let (Some(min), Some(max)) = (reader.min_seqno()?, reader.max_seqno()?) else {
        return match low {
            Some(s) => Err(StoreError::SeqnoNotFound {
                dir: reader.dir().to_path_buf(),
                seqno: s,
                min: None,
                max: None,
            }
            .into()),
            None => Ok(()), // empty log: nothing to print
        };
    };
    let low = low.unwrap_or(min);
    // A snapshot: a log being written does not make the listing endless.
    let high = high.unwrap_or(max);
    if low > max || high < min {
        return Err(StoreError::SeqnoNotFound {
            dir: reader.dir().to_path_buf(),
            seqno: if low > max { low } else { high },
            min: Some(min),
            max: Some(max),
        }
        .into());
    }
    let mut cursor = reader.cursor(low.max(min))?;
    while let Some(r) = cursor.next()? {
        if r.header().seqno > high {
            break;
        }
        p.record(&r)?;
    }
    Ok(())
}
