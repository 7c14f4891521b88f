//! The two numbers that place a transaction in a replication history.
//!
//! * [`Seqno`]: the transaction's number, dense from 0 across the whole
//!   history of a service (every host of a chain stores the same seqno for
//!   the same transaction).
//! * [`Epoch`]: the seqno at which the master session that extracted the
//!   transaction started. Two hosts whose THLs hold the same seqno with the
//!   same epoch hold the same transaction.
//!
//! Both are signed 64-bit on disk and on the wire (`thl/FORMAT.md`,
//! `replicator/PROTOCOL.md`). "None yet" is `Option<Seqno>` in the code;
//! where a format or Tungsten's status output writes it as `-1`, the
//! conversion happens at that edge ([`Seqno::or_minus_one`],
//! [`Seqno::from_wire`] and the same on [`Epoch`]) and nowhere else.

use std::fmt;
use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// A transaction's number in the THL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seqno(pub i64);

impl Seqno {
    /// The first transaction of a history.
    pub const FIRST: Seqno = Seqno(0);
    /// Past every transaction (an open upper bound).
    pub const MAX: Seqno = Seqno(i64::MAX);

    /// The seqno `n` after this one, saturating at [`Seqno::MAX`].
    pub fn saturating_add(self, n: i64) -> Seqno {
        Seqno(self.0.saturating_add(n))
    }

    /// The seqno after this one.
    pub fn next(self) -> Seqno {
        Seqno(self.0 + 1)
    }

    /// The seqno before this one; `None` before the first.
    pub fn prev(self) -> Option<Seqno> {
        (self.0 > 0).then(|| Seqno(self.0 - 1))
    }

    /// A seqno read from a format that writes "none" as a negative number.
    pub fn from_wire(n: i64) -> Option<Seqno> {
        (n >= 0).then_some(Seqno(n))
    }

    /// Tungsten's text for an optional seqno: the number, or `-1`.
    pub fn or_minus_one(seqno: Option<Seqno>) -> i64 {
        seqno.map_or(-1, |s| s.0)
    }
}

impl From<Seqno> for i64 {
    fn from(s: Seqno) -> i64 {
        s.0
    }
}

impl From<Epoch> for i64 {
    fn from(e: Epoch) -> i64 {
        e.0
    }
}

/// A seqno `n` transactions later.
impl Add<i64> for Seqno {
    type Output = Seqno;

    fn add(self, n: i64) -> Seqno {
        Seqno(self.0 + n)
    }
}

/// A seqno `n` transactions earlier.
impl Sub<i64> for Seqno {
    type Output = Seqno;

    fn sub(self, n: i64) -> Seqno {
        Seqno(self.0 - n)
    }
}

/// How many transactions apart two seqnos are.
impl Sub for Seqno {
    type Output = i64;

    fn sub(self, earlier: Seqno) -> i64 {
        self.0 - earlier.0
    }
}

/// A seqno as typed on a command line: a whole number from 0.
impl std::str::FromStr for Seqno {
    type Err = String;

    fn from_str(text: &str) -> Result<Seqno, String> {
        match text.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Seqno(n)),
            _ => Err(format!("{text:?} is not a seqno (a whole number from 0)")),
        }
    }
}

impl fmt::Display for Seqno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The seqno at which a master session started extracting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(pub i64);

impl Epoch {
    /// The epoch of a session whose first transaction is `first`.
    pub fn starting_at(first: Seqno) -> Epoch {
        Epoch(first.0)
    }

    /// An epoch read from a format that writes "none" as a negative number.
    pub fn from_wire(n: i64) -> Option<Epoch> {
        (n >= 0).then_some(Epoch(n))
    }

    /// Tungsten's text for an optional epoch: the number, or `-1`.
    pub fn or_minus_one(epoch: Option<Epoch>) -> i64 {
        epoch.map_or(-1, |e| e.0)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_minus_one_only_at_the_edge() {
        assert_eq!(Seqno::from_wire(-1), None);
        assert_eq!(Seqno::from_wire(0), Some(Seqno::FIRST));
        assert_eq!(Seqno::or_minus_one(None), -1);
        assert_eq!(Seqno::or_minus_one(Some(Seqno(7))), 7);
        assert_eq!(Epoch::from_wire(-1), None);
        assert_eq!(Seqno::FIRST.prev(), None);
        assert_eq!(Seqno(3).prev(), Some(Seqno(2)));
        assert_eq!(Seqno(3).next(), Seqno(4));
        assert_eq!(serde_json::to_string(&Seqno(12)).ok().as_deref(), Some("12"));
        assert_eq!("12".parse::<Seqno>(), Ok(Seqno(12)));
        assert!("-1".parse::<Seqno>().is_err());
        assert!("x".parse::<Seqno>().is_err());
    }
}
