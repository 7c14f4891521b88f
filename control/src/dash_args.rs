//! Tungsten's single-dash long options.
//!
//! Operators type `thl list -low 10 -high 20` and `trepctl -service alpha
//! online -skip-seqno 10`. clap only knows `--low`. [`normalize`] rewrites
//! every `-name` (or `-name=value`) whose `name` is a long option known to the
//! clap command (or any of its subcommands) into `--name`, and leaves
//! everything else alone: short options (`-y`), negative numbers (`-1`), and
//! option values.

use std::collections::HashSet;
use std::ffi::OsString;

/// Rewrites Tungsten-style `-long` options into clap's `--long`.
pub fn normalize<I, T>(command: &clap::Command, args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut longs = HashSet::new();
    collect_long_names(command, &mut longs);
    args.into_iter()
        .map(Into::into)
        .map(|arg| rewrite(arg, &longs))
        .collect()
}

fn collect_long_names(command: &clap::Command, into: &mut HashSet<String>) {
    for arg in command.get_arguments() {
        if let Some(long) = arg.get_long() {
            into.insert(long.to_string());
        }
        for alias in arg.get_all_aliases().unwrap_or_default() {
            into.insert(alias.to_string());
        }
    }
    for sub in command.get_subcommands() {
        collect_long_names(sub, into);
    }
}

fn rewrite(arg: OsString, longs: &HashSet<String>) -> OsString {
    let Some(text) = arg.to_str() else {
        return arg;
    };
    let Some(rest) = text.strip_prefix('-') else {
        return arg;
    };
    if rest.starts_with('-') {
        return arg;
    }
    let name = rest.split('=').next().unwrap_or(rest);
    if name.chars().count() > 1 && longs.contains(name) {
        OsString::from(format!("-{text}"))
    } else {
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn command() -> Command {
        Command::new("t").arg(Arg::new("service").long("service")).subcommand(
            Command::new("list")
                .arg(Arg::new("low").long("low").allow_negative_numbers(true))
                .arg(Arg::new("yes").short('y').action(ArgAction::SetTrue)),
        )
    }

    fn strings(args: &[&str]) -> Vec<String> {
        normalize(&command(), args.iter().copied())
            .into_iter()
            .map(|s| s.into_string().unwrap_or_default())
            .collect()
    }

    #[test]
    fn single_dash_long_options_become_double_dash() {
        assert_eq!(
            strings(&["t", "-service", "alpha", "list", "-low=-1", "-y", "--low", "-1"]),
            ["t", "--service", "alpha", "list", "--low=-1", "-y", "--low", "-1"]
        );
    }

    #[test]
    fn unknown_words_and_values_are_left_alone() {
        assert_eq!(
            strings(&["t", "list", "-nope", "-5", "low"]),
            ["t", "list", "-nope", "-5", "low"]
        );
    }
}
