//! Rewrites a mysqltest file so that it runs against the one primary of the
//! conformance deployment and checks the replicas as it goes.
//!
//! The file is cut into *units* the way mysqltest reads it (a `--command`
//! line, a `#` comment, a block line `if (...)`/`while (...)`/`{`/`}`, a
//! statement or command ended by the current delimiter, the body of a
//! `perl`/`write_file`/`append_file` block), then each unit is kept,
//! replaced or preceded by a checkpoint:
//!
//! * `SET [SESSION] sql_log_bin = ...` (in any form, also inside `--eval`
//!   and `SET STATEMENT ... FOR`) assigns a user variable instead, so every
//!   change the test commits reaches the binlog;
//! * the replica-control statements (`START/STOP/RESET SLAVE|REPLICA`,
//!   `CHANGE MASTER`, `MASTER_POS_WAIT`, `sql_slave_skip_counter`) are
//!   removed together with the `--error` expectation just before them (the
//!   primary has no replica channel; the replicators are the replicas), and
//!   so is `RESET MASTER` (it would delete the binlog the extractor reads);
//! * `sync_slave_with_master [conn]` and `sync_with_master` become a
//!   checkpoint followed by `connection slave` (or `conn`), since every
//!   connection of the test points at the primary;
//! * a checkpoint is inserted before each `DROP TABLE`, `DROP DATABASE`,
//!   `DROP SCHEMA` (not `DROP TEMPORARY TABLE`) of the test file, before the
//!   prefix commands (`--error`, `--replace_result` ...) that apply to it.
//!
//! * `INSTALL`/`UNINSTALL` `PLUGIN`/`SONAME` (in the test and its
//!   includes) is not binlogged, yet the replicas need the plugin (a test
//!   installs the `EXAMPLE` engine and creates tables with it): after the
//!   statement comes `--exec $CONFORMANCE_ON_REPLICAS $mysql_errno
//!   "<statement>"`, which runs it on every replica unless the primary
//!   refused it ([`super::on_replicas`]); an `UNINSTALL` is preceded by a
//!   checkpoint, so the replicas applied everything that used the plugin
//!   before it goes. (In mtr's rpl tests a slave that installs the plugin
//!   through `connection slave` installs it on the primary here; the
//!   primary's `$mysql_errno` then skips the replicas.)
//!
//! `source` targets written without variables are resolved as mysqltest does
//! (the including file's directory, the suite directory, the base directory)
//! and rewritten the same way (without DROP checkpoints) into the overlay
//! directory, at the first place mysqltest looks for them (the including
//! file's overlay directory joined with the target), so the rewritten copy
//! always wins; the test itself keeps its path relative to the base
//! directory inside the overlay, so relative targets (`../../x/y.inc`)
//! stay inside it. The includes of [`crate::conformance::includes`]
//! replace the replication framework's own includes (master-slave.inc,
//! rpl_end.inc, sync_slave_sql_with_master.inc ...).
//!
//! Invariants: a unit that is not rewritten is emitted byte for byte; the
//! output of [`rewrite_text`] has the same statements in the same order
//! except the removals listed above; include recursion is bounded
//! ([`MAX_DEPTH`]) and each overlay path is written once per test.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::includes;
use super::on_replicas::{is_plugin_statement, PluginStatement};

/// Deepest `source` nesting rewritten (mysqltest's own limit is 16).
pub const MAX_DEPTH: usize = 16;
/// The mysqltest variable naming the checkpoint command (set in the
/// environment of mysqltest).
pub const CHECKPOINT_VAR: &str = "$CONFORMANCE_CHECKPOINT";
/// The mysqltest variable naming the command that runs a plugin statement
/// on the replicas ([`super::on_replicas`]; set in the environment).
pub const ON_REPLICAS_VAR: &str = "$CONFORMANCE_ON_REPLICAS";

/// One piece of a mysqltest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// Lines passed through as they are (comments, blank lines, block
    /// lines, heredoc bodies).
    Raw(String),
    /// A `--command` line (without its newline).
    Dash { line: String, lineno: usize },
    /// A statement or command ended by `delim` (text without the delimiter;
    /// `tail` is what followed the delimiter on its line, newline included).
    Stmt { text: String, delim: String, lineno: usize },
}

/// What [`rewrite_text`] changed, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub sql_log_bin: usize,
    pub slave_control_removed: usize,
    pub syncs: usize,
    pub checkpoints: usize,
    /// `INSTALL`/`UNINSTALL` `PLUGIN`/`SONAME` statements also run on the
    /// replicas.
    pub plugins: usize,
    /// `source` targets written without variables (resolved or not).
    pub sources: Vec<String>,
}

fn first_words(text: &str, n: usize) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Splits `src` into units. Never fails: whatever cannot be classified is
/// passed through raw (mysqltest will report it).
pub fn parse(src: &str) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut delim = ";".to_owned();
    let mut stmt = String::new();
    let mut stmt_line = 0;
    let mut heredoc: Option<String> = None;
    let lines: Vec<&str> = src.split_inclusive('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = i + 1;
        i += 1;
        if let Some(term) = &heredoc {
            let done = line.trim() == term;
            units.push(Unit::Raw(line.to_owned()));
            if done {
                heredoc = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        if stmt.is_empty() {
            let t = trimmed.trim_end();
            let lower = t.to_ascii_lowercase();
            if t.is_empty() || t.starts_with('#') {
                units.push(Unit::Raw(line.to_owned()));
                continue;
            }
            if let Some(cmd) = t.strip_prefix("--") {
                let words = first_words(cmd, 2);
                match words.first().map(String::as_str) {
                    Some("delimiter") => {
                        if let Some(d) = cmd.split_whitespace().nth(1) {
                            delim = d.to_owned();
                        }
                    }
                    Some("perl") => heredoc = Some(words.get(1).cloned().unwrap_or_else(|| "EOF".into())),
                    Some("write_file") | Some("append_file") => {
                        heredoc = Some(cmd.split_whitespace().nth(2).unwrap_or("EOF").to_owned())
                    }
                    _ => {}
                }
                units.push(Unit::Dash {
                    line: line.to_owned(),
                    lineno,
                });
                continue;
            }
            if t == "{"
                || t.starts_with('}')
                || lower.starts_with("else")
                || ((lower.starts_with("if") || lower.starts_with("while"))
                    && lower[if lower.starts_with("if") { 2 } else { 5 }..]
                        .trim_start()
                        .starts_with('('))
            {
                units.push(Unit::Raw(line.to_owned()));
                continue;
            }
            stmt_line = lineno;
        }
        // Accumulate until the delimiter, outside quotes.
        let mut rest = line;
        loop {
            match find_delim(&stmt, rest, &delim) {
                Some(pos) => {
                    stmt.push_str(&rest[..pos]);
                    let after = &rest[pos + delim.len()..];
                    let text = std::mem::take(&mut stmt);
                    let words = first_words(&text, 3);
                    let cmd = words.first().map(String::as_str);
                    let next_delim = match cmd {
                        Some("delimiter") => text.split_whitespace().nth(1).map(str::to_owned),
                        _ => None,
                    };
                    match cmd {
                        Some("perl") => heredoc = Some(words.get(1).cloned().unwrap_or_else(|| "EOF".into())),
                        Some("write_file") | Some("append_file") => {
                            heredoc = Some(text.split_whitespace().nth(2).unwrap_or("EOF").to_owned())
                        }
                        _ => {}
                    }
                    units.push(Unit::Stmt {
                        text,
                        delim: delim.clone(),
                        lineno: stmt_line,
                    });
                    if let Some(d) = next_delim {
                        delim = d;
                    }
                    if after.trim().is_empty() {
                        units.push(Unit::Raw(after.to_owned()));
                        break;
                    }
                    if after.trim_start().starts_with('#') || heredoc.is_some() {
                        units.push(Unit::Raw(after.to_owned()));
                        break;
                    }
                    rest = after;
                    stmt_line = lineno;
                }
                None => {
                    stmt.push_str(rest);
                    break;
                }
            }
        }
    }
    if !stmt.is_empty() {
        units.push(Unit::Raw(stmt));
    }
    units
}

/// The byte offset of `delim` in `rest` outside quotes, given the quote
/// state left by `before` (backslash escapes count inside quotes, in
/// `before` as in `rest`: `'\''` is one quoted quote).
fn find_delim(before: &str, rest: &str, delim: &str) -> Option<usize> {
    let mut quote = None;
    let mut prev_backslash = false;
    for c in before.chars() {
        (quote, prev_backslash) = step_char(quote, prev_backslash, c);
    }
    let mut idx = 0;
    while idx < rest.len() {
        let c = rest[idx..].chars().next()?;
        if quote.is_none() && rest[idx..].starts_with(delim) {
            return Some(idx);
        }
        (quote, prev_backslash) = step_char(quote, prev_backslash, c);
        idx += c.len_utf8();
    }
    None
}

/// The quote state and whether a backslash escapes the next character,
/// after `c`.
fn step_char(quote: Option<char>, prev_backslash: bool, c: char) -> (Option<char>, bool) {
    if quote.is_some() && c == '\\' && !prev_backslash {
        (quote, true)
    } else if prev_backslash {
        (quote, false)
    } else {
        (step_quote(quote, c), false)
    }
}

fn step_quote(quote: Option<char>, c: char) -> Option<char> {
    match (quote, c) {
        (None, '\'' | '"' | '`') => Some(c),
        (Some(q), c) if c == q => None,
        (q, _) => q,
    }
}

/// Commands that apply to the next statement only: a checkpoint inserted
/// before a statement goes before them.
fn is_prefix_command(words: &[String]) -> bool {
    matches!(
        words.first().map(String::as_str),
        Some(
            "error"
                | "replace_result"
                | "replace_regex"
                | "replace_column"
                | "sorted_result"
                | "partially_sorted_result"
                | "lowercase_result"
                | "result_format"
        )
    )
}

fn replace_sql_log_bin(text: &str) -> (String, usize) {
    // Case-insensitive scan for `sql_log_bin` followed by `=`/`:=`, with an
    // optional SESSION/LOCAL/@@session./@@local./@@ before it.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut n = 0;
    let mut last = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("sql_log_bin") {
        let at = search + found;
        let end = at + "sql_log_bin".len();
        search = end;
        let after = lower[end..].trim_start();
        if !(after.starts_with('=') || after.starts_with(":=")) {
            continue;
        }
        if lower[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut start = at;
        for prefix in ["@@session.", "@@local.", "@@"] {
            if lower[..at].ends_with(prefix) {
                start = at - prefix.len();
                break;
            }
        }
        if start == at {
            let before = lower[..at].trim_end();
            for kw in ["session", "local"] {
                if before.ends_with(kw)
                    && !before[..before.len() - kw.len()].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                {
                    start = before.len() - kw.len();
                    break;
                }
            }
        }
        out.push_str(&text[last..start]);
        out.push_str("@conformance_sql_log_bin");
        last = end;
        n += 1;
    }
    out.push_str(&text[last..]);
    (out, n)
}

/// Whether a statement controls a replica channel, or is `RESET MASTER`
/// (removed: it deletes the binlog the extractor reads; tests use it to
/// make `SHOW BINLOG EVENTS` output predictable, and the runner does not
/// compare output).
fn is_slave_control(words: &[String]) -> bool {
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match w(0) {
        "start" | "stop" => {
            matches!(w(1), "slave" | "replica" | "slaves" | "replicas")
                || (w(1) == "all" && matches!(w(2), "slaves" | "replicas"))
        }
        "reset" => matches!(w(1), "slave" | "replica"),
        "change" => w(1) == "master",
        "select" => w(1).starts_with("master_pos_wait") || w(1).starts_with("master_gtid_wait"),
        _ => false,
    }
}

fn is_slave_control_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let words = first_words(&lower, 3);
    is_slave_control(&words)
        || lower.contains("sql_slave_skip_counter")
        || (words.first().map(String::as_str) == Some("reset") && words.get(1).map(String::as_str) == Some("master"))
}

fn is_checkpointed_drop(text: &str) -> bool {
    let words = first_words(text, 3);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let (a, b) = if w(0) == "eval" { (w(1), w(2)) } else { (w(0), w(1)) };
    a == "drop" && matches!(b, "table" | "tables" | "database" | "schema")
}

/// The body of a `--command` line without its `--` and newline.
fn dash_body(line: &str) -> &str {
    line.trim_start().trim_start_matches("--").trim_end()
}

fn checkpoint_line(label: &str) -> String {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("--exec {CHECKPOINT_VAR} \"{label}\"\n")
}

/// The line that runs a plugin statement on the replicas too. mysqltest
/// expands its variables in an `--exec` line (so `$mysql_errno` is the
/// statement's error, and an `eval`'s variables expand as in the
/// statement), then a shell reads the double-quoted argument: `\`, `"` and
/// `` ` `` are escaped for both, and so is `$` of a statement mysqltest
/// did not evaluate.
fn on_replicas_line(sql: &str, evaluated: bool) -> String {
    let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut arg = String::with_capacity(sql.len());
    for c in sql.chars() {
        match c {
            '\\' | '"' | '`' => {
                arg.push('\\');
                arg.push(c);
            }
            '$' if !evaluated => arg.push_str("\\$"),
            c => arg.push(c),
        }
    }
    format!("--exec {ON_REPLICAS_VAR} $mysql_errno \"{arg}\"\n")
}

/// An `INSTALL`/`UNINSTALL` `PLUGIN`/`SONAME` statement of the test: its
/// text, and whether mysqltest expands variables in it (`eval`).
struct Plugin {
    op: PluginStatement,
    sql: String,
    evaluated: bool,
}

/// Pushes a rewritten command or statement, keeping track of the run of
/// prefix commands (`--error` ...) before the next one. Returns its index
/// in `out` and the start of the prefix commands that apply to it.
fn push_command(
    out: &mut Vec<String>,
    prefix_start: &mut Option<usize>,
    words: &[String],
    text: String,
) -> (usize, Option<usize>) {
    let pending_prefix = *prefix_start;
    if is_prefix_command(words) {
        prefix_start.get_or_insert(out.len());
    } else {
        *prefix_start = None;
    }
    out.push(text);
    (out.len() - 1, pending_prefix)
}

/// Emits a plugin statement (already in `out` from `stmt_at` on) with the
/// checkpoint before an `UNINSTALL` and the `--exec` after it.
fn emit_plugin(
    out: &mut Vec<String>,
    (stmt_at, prefix_start): (usize, Option<usize>),
    changes: &mut Changes,
    plugin: &Plugin,
    file: &str,
    lineno: usize,
) {
    changes.plugins += 1;
    if plugin.op == PluginStatement::Uninstall {
        changes.checkpoints += 1;
        let at = prefix_start.unwrap_or(stmt_at);
        let mut text = checkpoint_line(&format!("before UNINSTALL at {file}:{lineno}"));
        if at > 0 && !out[at - 1].ends_with('\n') {
            text.insert(0, '\n');
        }
        out.insert(at, text);
    }
    if out.last().is_some_and(|l| !l.ends_with('\n')) {
        out.push("\n".into());
    }
    out.push(on_replicas_line(&plugin.sql, plugin.evaluated));
}

/// Rewrites one file's text. `file` names it in checkpoint labels;
/// `drop_checkpoints` inserts checkpoints before DROPs (the test file only).
pub fn rewrite_text(src: &str, file: &str, drop_checkpoints: bool) -> (String, Changes) {
    let mut out: Vec<String> = Vec::new();
    let mut changes = Changes::default();
    // Index in `out` where the pending prefix commands start.
    let mut prefix_start: Option<usize> = None;
    for unit in parse(src) {
        match unit {
            Unit::Raw(text) => out.push(text),
            Unit::Dash { line, lineno } => {
                let body = dash_body(&line);
                let words = first_words(body, 3);
                let cmd = words.first().map(String::as_str).unwrap_or("");
                if cmd == "source" || cmd == "include" {
                    note_source(body, &mut changes);
                }
                match cmd {
                    "sync_slave_with_master" | "sync_with_master" => {
                        let conn = if cmd == "sync_slave_with_master" {
                            body.split_whitespace().nth(1).unwrap_or("slave").to_owned()
                        } else {
                            String::new()
                        };
                        emit_sync(&mut out, &mut changes, file, lineno, cmd, &conn);
                        prefix_start = None;
                        continue;
                    }
                    "save_master_pos" | "sync_slave_io_with_master" => {
                        out.push(format!("# conformance: removed: {body}\n"));
                        continue;
                    }
                    _ => {}
                }
                if cmd == "eval" || cmd == "query" || cmd == "send" {
                    let sql = body.split_once(char::is_whitespace).map_or("", |(_, s)| s);
                    if is_slave_control_text(sql) {
                        remove_with_prefix(&mut out, &mut prefix_start, &mut changes, body);
                        continue;
                    }
                }
                let (line, n) = replace_sql_log_bin(&line);
                changes.sql_log_bin += n;
                if drop_checkpoints && cmd == "eval" && is_checkpointed_drop(body) {
                    insert_checkpoint(&mut out, prefix_start, &mut changes, file, lineno);
                }
                let plugin = match cmd {
                    "eval" | "query" => {
                        let sql = body.split_once(char::is_whitespace).map_or("", |(_, s)| s);
                        is_plugin_statement(sql).map(|op| Plugin {
                            op,
                            sql: sql.to_owned(),
                            evaluated: cmd == "eval",
                        })
                    }
                    _ => None,
                };
                let pushed = push_command(&mut out, &mut prefix_start, &words, ensure_newline(line));
                if let Some(p) = plugin {
                    emit_plugin(&mut out, pushed, &mut changes, &p, file, lineno);
                }
            }
            Unit::Stmt { text, delim, lineno } => {
                let words = first_words(&text, 3);
                let cmd = words.first().map(String::as_str).unwrap_or("");
                if cmd == "source" || cmd == "include" {
                    note_source(text.trim(), &mut changes);
                }
                match cmd {
                    "sync_slave_with_master" | "sync_with_master" => {
                        let conn = if cmd == "sync_slave_with_master" {
                            text.split_whitespace().nth(1).unwrap_or("slave").to_owned()
                        } else {
                            String::new()
                        };
                        emit_sync(&mut out, &mut changes, file, lineno, cmd, &conn);
                        prefix_start = None;
                        continue;
                    }
                    "save_master_pos" | "sync_slave_io_with_master" => {
                        out.push(format!("# conformance: removed: {}\n", text.trim()));
                        continue;
                    }
                    _ => {}
                }
                let sql = if matches!(cmd, "eval" | "query" | "send") {
                    text.trim_start().split_once(char::is_whitespace).map_or("", |(_, s)| s)
                } else {
                    text.as_str()
                };
                if is_slave_control_text(sql) {
                    remove_with_prefix(&mut out, &mut prefix_start, &mut changes, text.trim());
                    continue;
                }
                let plugin = if cmd == "send" {
                    None
                } else {
                    is_plugin_statement(sql).map(|op| Plugin {
                        op,
                        sql: sql.to_owned(),
                        evaluated: cmd == "eval",
                    })
                };
                let (text, n) = replace_sql_log_bin(&text);
                changes.sql_log_bin += n;
                if drop_checkpoints && is_checkpointed_drop(&text) {
                    insert_checkpoint(&mut out, prefix_start, &mut changes, file, lineno);
                }
                let pushed = push_command(&mut out, &mut prefix_start, &words, format!("{text}{delim}"));
                if let Some(p) = plugin {
                    emit_plugin(&mut out, pushed, &mut changes, &p, file, lineno);
                }
            }
        }
    }
    (out.concat(), changes)
}

fn ensure_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn note_source(body: &str, changes: &mut Changes) {
    if let Some(target) = body.split_whitespace().nth(1) {
        let target = target.trim_end_matches(';').trim_matches('"').trim_matches('\'');
        changes.sources.push(target.to_owned());
    }
}

fn emit_sync(out: &mut Vec<String>, changes: &mut Changes, file: &str, lineno: usize, cmd: &str, conn: &str) {
    changes.syncs += 1;
    changes.checkpoints += 1;
    // A statement ending on the same line leaves the line's newline in the
    // next Raw unit; start on a fresh line.
    if out.last().is_some_and(|l| !l.ends_with('\n')) {
        out.push("\n".into());
    }
    out.push(checkpoint_line(&format!("{cmd} at {file}:{lineno}")));
    if !conn.is_empty() {
        out.push(format!("--connection {conn}\n"));
    }
}

fn insert_checkpoint(
    out: &mut Vec<String>,
    prefix_start: Option<usize>,
    changes: &mut Changes,
    file: &str,
    line: usize,
) {
    changes.checkpoints += 1;
    let at = prefix_start.unwrap_or(out.len());
    let mut text = checkpoint_line(&format!("before DROP at {file}:{line}"));
    if at > 0 && !out[at - 1].ends_with('\n') {
        text.insert(0, '\n');
    }
    out.insert(at, text);
}

fn remove_with_prefix(out: &mut Vec<String>, prefix_start: &mut Option<usize>, changes: &mut Changes, what: &str) {
    if let Some(at) = prefix_start.take() {
        out.truncate(at);
    }
    changes.slave_control_removed += 1;
    let first = what.lines().next().unwrap_or("");
    out.push(format!("\n# conformance: removed: {first}\n"));
}

/// Test files are in any encoding (many are latin1): each byte becomes the
/// char of the same value, so the rewrite (ASCII patterns, ASCII
/// insertions) gives back the original bytes with [`text_to_bytes`].
pub fn bytes_to_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The inverse of [`bytes_to_text`] (chars above U+00FF, which only a
/// caller could insert, become `?`).
pub fn text_to_bytes(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// Where the files of one test run live.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `/usr/share/mysql/mysql-test`.
    pub basedir: PathBuf,
    /// The test's suite directory (`basedir/main` or `basedir/suite/<s>`).
    pub suite_dir: PathBuf,
    /// The overlay directory (mysqltest `--overlay-dir`); the rewritten
    /// test is written at its path relative to `basedir`.
    pub overlay: PathBuf,
}

/// The outcome of preparing one test.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The rewritten test file (in the overlay).
    pub test_file: PathBuf,
    pub changes: Changes,
    /// Include files rewritten into the overlay.
    pub rewritten_includes: usize,
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Rewrites `test` and the includes it reaches into `layout.overlay`.
pub fn prepare(test: &Path, layout: &Layout) -> io::Result<Prepared> {
    fs::create_dir_all(&layout.overlay)?;
    includes::write_overrides(&layout.overlay, Path::new(""))?;
    let src = bytes_to_text(&fs::read(test)?);
    let name = test
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (text, changes) = rewrite_text(&src, &name, true);
    // The test keeps its place relative to the base directory, so that
    // relative sources (`../../innodb/include/x.inc`) land in the overlay.
    let rel = test
        .strip_prefix(&layout.basedir)
        .map(normalize)
        .unwrap_or_else(|_| PathBuf::from(&name));
    let test_file = layout.overlay.join(&rel);
    if let Some(parent) = test_file.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&test_file, text_to_bytes(&text))?;
    let test_dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut prepared = Prepared {
        test_file,
        changes: Changes::default(),
        rewritten_includes: 0,
    };
    let mut written = BTreeSet::new();
    let mut all = changes.clone();
    for s in &changes.sources {
        rewrite_include(test, &test_dir, s, layout, 1, &mut written, &mut all)?;
    }
    prepared.rewritten_includes = written.len();
    all.sources = changes.sources;
    prepared.changes = all;
    Ok(prepared)
}

/// Rewrites the include `target`, sourced by the original file `from`
/// whose rewritten copy lives at `overlay/from_dir`.
fn rewrite_include(
    from: &Path,
    from_dir: &Path,
    target: &str,
    layout: &Layout,
    depth: usize,
    written: &mut BTreeSet<PathBuf>,
    all: &mut Changes,
) -> io::Result<()> {
    if target.contains('$') || depth > MAX_DEPTH || target.is_empty() {
        return Ok(());
    }
    let rel = normalize(&from_dir.join(target));
    if written.contains(&rel) {
        return Ok(());
    }
    if let Some(name) = Path::new(target).file_name().and_then(|n| n.to_str()) {
        if includes::is_override(name) {
            // The framework include: write our version where mysqltest looks first.
            includes::write_override_at(&layout.overlay.join(&rel), name)?;
            written.insert(rel);
            return Ok(());
        }
    }
    let Some(original) = resolve(from, target, layout) else {
        return Ok(());
    };
    let src = match fs::read(&original) {
        Ok(s) => s,
        Err(_) => return Ok(()),
    };
    let src = bytes_to_text(&src);
    let name = original.display().to_string();
    let (text, changes) = rewrite_text(&src, &name, false);
    let dest = layout.overlay.join(&rel);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&dest, text_to_bytes(&text))?;
    written.insert(rel.clone());
    all.sql_log_bin += changes.sql_log_bin;
    all.slave_control_removed += changes.slave_control_removed;
    all.syncs += changes.syncs;
    all.checkpoints += changes.checkpoints;
    all.plugins += changes.plugins;
    let dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    for s in &changes.sources {
        rewrite_include(&original, &dir, s, layout, depth + 1, written, all)?;
    }
    Ok(())
}

/// Where mysqltest would find `target` sourced from the original `from`.
fn resolve(from: &Path, target: &str, layout: &Layout) -> Option<PathBuf> {
    let t = Path::new(target);
    if t.is_absolute() {
        return t.is_file().then(|| t.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(dir) = from.parent() {
        candidates.push(dir.join(t));
    }
    candidates.push(layout.suite_dir.join(t));
    candidates.push(layout.basedir.join(t));
    candidates.into_iter().map(|p| normalize(&p)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_quote_on_an_earlier_line_of_a_statement_closes_nothing() {
        let text = "SELECT * FROM t1 WHERE\n  c64 = REPEAT('\\'',261) AND\n  crn = 3;\nRESET MASTER;\n";
        let (out, _) = rewrite_text(text, "x.inc", false);
        assert!(!out.contains("\nRESET MASTER;"), "{out}");
    }

    #[test]
    fn sql_log_bin_assignments_become_user_variables() {
        let (t, n) = replace_sql_log_bin("SET SESSION sql_log_bin=0");
        assert_eq!((t.as_str(), n), ("SET @conformance_sql_log_bin=0", 1));
        let (t, n) = replace_sql_log_bin("set @@session.sql_log_bin = 0, foreign_key_checks=0");
        assert_eq!(
            (t.as_str(), n),
            ("set @conformance_sql_log_bin = 0, foreign_key_checks=0", 1)
        );
        let (t, n) = replace_sql_log_bin("SET STATEMENT sql_log_bin=0 FOR call mtr.add_suppression('x')");
        assert_eq!(n, 1);
        assert!(t.contains("@conformance_sql_log_bin=0 FOR"), "{t}");
        let (t, n) = replace_sql_log_bin("SELECT @@sql_log_bin");
        assert_eq!((t.as_str(), n), ("SELECT @@sql_log_bin", 0));
    }

    #[test]
    fn slave_control_is_removed_with_its_error_expectation() {
        let src = "CREATE TABLE t1 (a INT);\n--error ER_BAD_SLAVE\nSTOP SLAVE;\nstart slave\n  sql_thread;\nINSERT INTO t1 VALUES (1);\n";
        let (out, ch) = rewrite_text(src, "t.test", true);
        assert_eq!(ch.slave_control_removed, 2, "{out}");
        assert!(!out.to_lowercase().contains("stop slave;"), "{out}");
        assert!(!out.contains("--error"), "{out}");
        assert!(out.contains("CREATE TABLE t1 (a INT);"));
        assert!(out.contains("INSERT INTO t1 VALUES (1);"));
    }

    #[test]
    fn sync_becomes_a_checkpoint_and_a_connection_switch() {
        let src = "insert into t1 values (1);\nsync_slave_with_master;\n--sync_slave_with_master slave2\nconnection master;\n";
        let (out, ch) = rewrite_text(src, "t.test", true);
        assert_eq!(ch.syncs, 2);
        assert!(
            out.contains("--exec $CONFORMANCE_CHECKPOINT \"sync_slave_with_master at t.test:2\"\n--connection slave\n"),
            "{out}"
        );
        assert!(out.contains("--connection slave2\n"), "{out}");
        assert!(!out.contains("sync_slave_with_master;"), "{out}");
    }

    #[test]
    fn drops_get_a_checkpoint_before_their_prefix_commands() {
        let src = "create table t1 (a int);\n--disable_warnings\n--error 0,ER_BAD_TABLE_ERROR\nDROP TABLE t1;\ndrop temporary table t2;\ndelimiter |;\ndrop database d|\ndelimiter ;|\n";
        let (out, ch) = rewrite_text(src, "t.test", true);
        assert_eq!(ch.checkpoints, 2, "{out}");
        let cp = out.find("before DROP at t.test:4").expect("checkpoint");
        let err = out.find("--error").expect("error");
        let dis = out.find("--disable_warnings").expect("disable");
        assert!(dis < cp && cp < err, "{out}");
        assert!(out.contains("before DROP at t.test:7"), "{out}");
        assert!(out.contains("drop database d|"), "{out}");
    }

    #[test]
    fn delimiters_inside_quotes_and_heredocs_are_kept() {
        let src = "select 'a;b';\n--perl\nprint \"drop table x;\\n\";\nEOF\nDROP TABLE t1;\n";
        let units = parse(src);
        let stmts: Vec<_> = units.iter().filter(|u| matches!(u, Unit::Stmt { .. })).collect();
        assert_eq!(stmts.len(), 2, "{units:?}");
        let (out, ch) = rewrite_text(src, "t.test", true);
        assert_eq!(ch.checkpoints, 1, "{out}");
        assert!(out.contains("print \"drop table x;\\n\";"));
    }

    #[test]
    fn non_utf8_bytes_survive_the_rewrite() {
        let insert: &[u8] = b"INSERT INTO t1 VALUES ('\xe4');";
        let src = [insert, b"\nDROP TABLE t1;\n"].concat();
        let (out, ch) = rewrite_text(&bytes_to_text(&src), "t.test", true);
        let out = text_to_bytes(&out);
        assert_eq!(ch.checkpoints, 1);
        assert!(out.windows(insert.len()).any(|w| w == insert), "{out:?}");
    }

    #[test]
    fn plugin_statements_also_run_on_the_replicas() {
        let src = "--replace_regex /\\.dll/.so/\neval install plugin example soname '$HA_EXAMPLE_SO';\n\
                   create table t1 (a int) engine=example;\nINSTALL SONAME \"ha_$x\"; # c\n\
                   --error 0,ER_SP_DOES_NOT_EXIST\nUNINSTALL PLUGIN example;\n--send uninstall plugin x\n";
        let (out, ch) = rewrite_text(src, "t.test", false);
        assert_eq!(ch.plugins, 3, "{out}");
        // After the statement, with mysqltest expanding the eval's variable.
        assert!(
            out.contains(
                "eval install plugin example soname '$HA_EXAMPLE_SO';\n\
                 --exec $CONFORMANCE_ON_REPLICAS $mysql_errno \"install plugin example soname '$HA_EXAMPLE_SO'\"\n"
            ),
            "{out}"
        );
        // Not evaluated: `$` and `\"` escaped for mysqltest and the shell.
        assert!(
            out.contains("--exec $CONFORMANCE_ON_REPLICAS $mysql_errno \"INSTALL SONAME \\\"ha_\\$x\\\"\"\n"),
            "{out}"
        );
        // UNINSTALL: a checkpoint first (before its --error), even in an include.
        let cp = out.find("before UNINSTALL at t.test:6").expect("checkpoint");
        let err = out.find("--error 0,ER_SP").expect("error");
        let un = out
            .find("UNINSTALL PLUGIN example;\n--exec $CONFORMANCE_ON_REPLICAS")
            .expect("exec");
        assert!(cp < err && err < un, "{out}");
        assert!(!out.contains("\"uninstall plugin x\""), "send is not mirrored: {out}");
    }

    #[test]
    fn reset_master_is_removed() {
        let (out, ch) = rewrite_text("--error 0\nRESET MASTER;\ncreate table t (a int);\n", "t.test", true);
        assert_eq!(ch.slave_control_removed, 1);
        assert!(!out.contains("RESET MASTER;") && !out.contains("--error"), "{out}");
    }
}
