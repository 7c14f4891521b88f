//! The options of `online` and `offline-deferred`, parsed and validated in
//! one place so that the REST API and `trepctl` reject the same mistakes.
//!
//! Invariants: a [`SkipSeqnos`] is a sorted list of disjoint, non-adjacent
//! inclusive ranges of non-negative seqnos; parsing never accepts an empty
//! list, a reversed range or a negative number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `-skip-seqno 10`, `10-20`, `10,12-14,16`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SkipSeqnos(Vec<(i64, i64)>);

impl SkipSeqnos {
    /// Whether `seqno` is to be skipped.
    pub fn contains(&self, seqno: i64) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= seqno && seqno <= hi)
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

/// What the REST API receives for `online` (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnlineRequest {
    pub skip_seqno: Option<String>,
    pub from_event: Option<String>,
    pub base_seqno: Option<i64>,
    pub until_seqno: Option<i64>,
    #[serde(default)]
    pub force: bool,
}

/// Validated `online` options, handed to the pipeline in its
/// [`ServiceContext`](super::ServiceContext).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OnlineOptions {
    /// Transactions the applier must skip.
    pub skip_seqno: SkipSeqnos,
    /// Start extracting at this native event id (`mysql-bin.000003:4`).
    pub from_event: Option<String>,
    /// With `from_event`: the first extracted transaction gets seqno
    /// `base_seqno + 1` (Tungsten's meaning).
    pub base_seqno: Option<i64>,
    /// Go offline once this seqno is applied (handled by the manager).
    pub until_seqno: Option<i64>,
    /// Skip the epoch/seqno handshake with the upstream.
    pub force: bool,
}

impl OnlineRequest {
    /// Checks every option; the message names the option and an example.
    pub fn validate(&self) -> Result<OnlineOptions, String> {
        let skip_seqno = match &self.skip_seqno {
            Some(s) => s.parse()?,
            None => SkipSeqnos::default(),
        };
        if let Some(ev) = &self.from_event {
            if ev.trim().is_empty() {
                return Err("-from-event: empty event id (example: mysql-bin.000003:4)".into());
            }
        }
        if let Some(b) = self.base_seqno {
            if b < 0 {
                return Err(format!("-base-seqno {b}: must be >= 0"));
            }
            if self.from_event.is_none() {
                return Err("-base-seqno needs -from-event (the binlog position the seqno base applies to)".into());
            }
        }
        if let Some(u) = self.until_seqno {
            if u < 0 {
                return Err(format!("-until-seqno {u}: must be >= 0"));
            }
        }
        Ok(OnlineOptions {
            skip_seqno,
            from_event: self.from_event.as_ref().map(|s| s.trim().to_owned()),
            base_seqno: self.base_seqno,
            until_seqno: self.until_seqno,
            force: self.force,
        })
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
        assert!(s.contains(13) && s.contains(16) && !s.contains(15));
    }

    #[test]
    fn bad_skip_lists_are_refused_with_the_item() {
        for bad in ["", "a", "10-", "-5", "20-10", "1,,2", "1.5"] {
            let e = bad.parse::<SkipSeqnos>().expect_err(bad);
            assert!(e.contains("-skip-seqno"), "{bad}: {e}");
        }
    }

    #[test]
    fn base_seqno_needs_from_event() {
        let r = OnlineRequest {
            base_seqno: Some(5),
            ..Default::default()
        };
        assert!(r.validate().expect_err("refused").contains("-from-event"));
        let r = OnlineRequest {
            base_seqno: Some(5),
            from_event: Some("mysql-bin.000001:4".into()),
            ..Default::default()
        };
        assert_eq!(r.validate().expect("valid").base_seqno, Some(5));
        let r = OnlineRequest {
            until_seqno: Some(-1),
            ..Default::default()
        };
        assert!(r.validate().is_err());
    }
}
