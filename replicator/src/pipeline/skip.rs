//! `trepctl online -skip-seqno 10,12-14`: the transactions the apply stage
//! does not apply (their position moves on; their changes are dropped).
//!
//! Invariants: a [`SkipSeqnos`] is a sorted list of disjoint, non-adjacent
//! inclusive ranges of non-negative seqnos; parsing never accepts an empty
//! list, a reversed range or a negative number.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thl::seqno::Seqno;

/// `-skip-seqno 10`, `10-20`, `10,12-14,16`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SkipSeqnos(Vec<(i64, i64)>);

impl SkipSeqnos {
    /// Whether `seqno` is to be skipped.
    pub fn contains(&self, seqno: Seqno) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&seqno.0))
    }

    /// The inclusive ranges, sorted and merged.
    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for SkipSeqnos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for SkipSeqnos {
    type Err = String;

    fn from_str(text: &str) -> Result<SkipSeqnos, String> {
        let num = |s: &str| {
            s.trim().parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                format!("-skip-seqno {text:?}: {s:?} is not a seqno (a non-negative integer); examples: 10, 10-20, 10,12-14,16")
            })
        };
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "-skip-seqno {text:?}: empty item; examples: 10, 10-20, 10,12-14,16"
                ));
            }
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(part)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(format!(
                    "-skip-seqno {text:?}: range {part} runs backwards (write {hi}-{lo})"
                ));
            }
            ranges.push((lo, hi));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Ok(SkipSeqnos(merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lists_parse_sort_and_merge() {
        let s: SkipSeqnos = "16,10,12-14,11".parse().expect("valid");
        assert_eq!(s.ranges(), &[(10, 14), (16, 16)]);
        assert_eq!(s.to_string(), "10-14,16");
        assert!(s.contains(Seqno(13)) && s.contains(Seqno(16)) && !s.contains(Seqno(15)));
    }

    #[test]
    fn bad_skip_lists_are_refused_with_the_item() {
        for bad in ["", "a", "10-", "-5", "20-10", "1,,2", "1.5"] {
            let e = bad.parse::<SkipSeqnos>().expect_err(bad);
            assert!(e.contains("-skip-seqno"), "{bad}: {e}");
        }
    }
}
