//! The resume rules (`replicator/PROTOCOL.md` §4, the checks Tungsten's THL
//! server makes to detect a diverged history, plus the event id check of
//! protocol version 2) as a pure function, and the record order both ends
//! check while streaming (PROTOCOL.md §5).
//!
//! Invariants:
//!
//! * A client is served only from a point where its history and the
//!   server's agree: the server holds the client's last seqno with the same
//!   epoch, or (that record purged) holds the next seqno. Anything else is a
//!   refusal whose text names the seqnos and what the operator must do.
//! * The start seqno is always the client's next needed seqno: `last + 1`,
//!   or `last` itself (from fragment 0) when the client's last record does
//!   not end its transaction. So the stream has no gap; the client skips
//!   the fragments it already stored, so it has no duplicate.

use super::error::NokCode;
use thl::seqno::{Epoch, Seqno};

/// The client's position, from its RESUME message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPos {
    /// Last stored seqno (seqno_end), `None` without a position.
    pub last_seqno: Option<Seqno>,
    /// Epoch of that record (`None` without a position).
    pub last_epoch: Option<Epoch>,
    /// Whether that record ends its transaction.
    pub last_frag: bool,
    /// With a position: the event id of the client's last seqno (empty:
    /// unknown). Without: a native event id to start after (unsupported).
    pub event_id: String,
}

/// What the server knows of its own log at handshake time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLog {
    /// Lowest stored seqno.
    pub min: Option<Seqno>,
    /// Highest served seqno (the durable watermark).
    pub max: Option<Seqno>,
    /// Epoch of the server's record holding the client's last seqno, when
    /// [`ServerLog::holds`] that seqno (`None` if it could not be read).
    pub epoch_at_last: Option<Epoch>,
    /// The event id of that record.
    pub event_id_at_last: Option<String>,
}

impl ServerLog {
    /// True when the log holds `seqno` (seqnos are dense from min to max).
    pub fn holds(&self, seqno: Seqno) -> bool {
        matches!((self.min, self.max), (Some(a), Some(b)) if a <= seqno && seqno <= b)
    }
}

/// Server-side options of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// A client without a position must start at exactly seqno 0 (the
    /// server refuses if seqno 0 was purged) instead of at the server's min.
    pub require_seqno_zero: bool,
}

/// Where the stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this seqno, fragment 0. The server checks that the first record it
    /// sends has exactly this seqno (it may not be stored yet).
    At(Seqno),
    /// At the first record the server will store (no position, empty log).
    First,
}

impl Start {
    /// The seqno for the OK message.
    pub fn seqno(self) -> Option<Seqno> {
        match self {
            Start::At(s) => Some(s),
            Start::First => None,
        }
    }
}

/// The outcome of a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept(Start),
    Reject { code: NokCode, text: String },
}

fn range(log: &ServerLog) -> String {
    match (log.min, log.max) {
        (Some(a), Some(b)) => format!("min stored seqno {a}, max stored seqno {b}"),
        _ => "no stored seqno".to_string(),
    }
}

/// The last seqno two histories can share when one holds epoch `a` and
/// the other epoch `b` at the same seqno: an epoch's number is its first
/// seqno, so they differ from the later epoch's start on.
fn diverged_after(a: Option<Epoch>, b: Epoch) -> i64 {
    a.map_or(b.0, |a| a.0.max(b.0)) - 1
}

/// Applies the resume rules (see the module doc and `PROTOCOL.md` §4).
pub fn decide(client: &ClientPos, log: &ServerLog, rules: Rules) -> Decision {
    if client.last_seqno.is_none() && !client.event_id.is_empty() {
        return Decision::Reject {
            code: NokCode::Unsupported,
            text: "positioning by event id is not supported by this THL server: start the client from a seqno".into(),
        };
    }
    let Some(last) = client.last_seqno else {
        return match (rules.require_seqno_zero, log.min) {
            (false, Some(m)) => Decision::Accept(Start::At(m)),
            (false, None) => Decision::Accept(Start::First),
            (true, None | Some(Seqno::FIRST)) => Decision::Accept(Start::At(Seqno::FIRST)),
            (true, Some(_)) => Decision::Reject {
                code: NokCode::SeqnoPurged,
                text: format!(
                    "the client has no position (an empty THL and no committed position in its database) and must start \
                     at seqno 0, but this server no longer has it ({}): starting later would leave out every transaction \
                     before. Provision the client from a backup of a host of this service (its database's committed \
                     position then says where to start), or restore the server's THL from a backup",
                    range(log)
                ),
            },
        };
    };
    let need = if client.last_frag { last + 1 } else { last };
    let (Some(min), Some(max)) = (log.min, log.max) else {
        // Empty log: nothing to check the client's history against. Serving
        // from `need` would append whatever history the server writes next
        // (after a `reset -thl`, another one) to the client's: wait.
        return Decision::Reject {
            code: NokCode::ServerBehind,
            text: format!(
                "the server's THL is empty: the client resumes after seqno {last} (epoch {}), which the server must \
                 hold (or the seqno after it) to check the client's history: retrying",
                Epoch::or_minus_one(client.last_epoch)
            ),
        };
    };
    if log.holds(last) {
        return match log.epoch_at_last {
            Some(e) if Some(e) == client.last_epoch => match &log.event_id_at_last {
                // Epochs alone do not tell two histories that both started
                // at seqno 0 apart (a THL reset and extracted again).
                Some(id) if !client.event_id.is_empty() && *id != client.event_id => Decision::Reject {
                    code: NokCode::EpochMismatch,
                    text: format!(
                        "history mismatch at seqno {last}: the client's record is event id {}, the server's is event \
                         id {id} (both epoch {e}); the client's history diverged from this server's: reprovision the \
                         client's host from a replica of this history (tprovision -s HOST), or point it at the right \
                         master",
                        client.event_id
                    ),
                },
                _ => Decision::Accept(Start::At(need)),
            },
            Some(e) => Decision::Reject {
                code: NokCode::EpochMismatch,
                text: format!(
                    "epoch mismatch at seqno {last}: the histories diverged after seqno {} at the latest (epoch {} \
                     on the client, {e} on this server): reprovision the client's host from a replica of this \
                     history (tprovision -s HOST), or point it at the right master",
                    diverged_after(client.last_epoch, e),
                    Epoch::or_minus_one(client.last_epoch)
                ),
            },
            None => Decision::Reject {
                code: NokCode::ServerError,
                text: format!("the server could not read its own record at seqno {last}"),
            },
        };
    }
    if client.last_frag && log.holds(last + 1) {
        // The server purged the client's last record but has the next one.
        return Decision::Accept(Start::At(last + 1));
    }
    if last > max {
        if !client.last_frag && last == max + 1 {
            return Decision::Reject {
                code: NokCode::ServerBehind,
                text: format!(
                    "the client holds the first fragments of seqno {last}, which this server does not have yet (max stored seqno {max}): retrying"
                ),
            };
        }
        return Decision::Reject {
            code: NokCode::ClientAhead,
            text: format!(
                "the client is ahead of the server: the client has seqno {last}, the server's {}; the client has \
                 transactions this server never had: point it at the right master, or rebuild the client (trepctl reset)",
                range(log)
            ),
        };
    }
    Decision::Reject {
        code: NokCode::SeqnoPurged,
        text: format!(
            "the server no longer has seqno {need} that the client needs ({}; client's last seqno {last}): the THL was purged \
             before this client read it: restore the server's THL from a backup, or re-provision the client (trepctl reset) \
             and start it from the server's min seqno {min}",
            range(log)
        ),
    }
}

/// The order records must follow on a stream (server and client both
/// check it): fragment 0 first, fragments contiguous, the next transaction
/// at seqno_end + 1 of the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequence {
    /// The next transaction's seqno, `None`: any (first record, no position).
    next: Option<Seqno>,
    /// The open transaction and its last fragno.
    open: Option<(Seqno, u16)>,
}

impl Sequence {
    /// A stream whose first record must be fragment 0 of `first` (any seqno
    /// when `None`).
    pub fn new(first: Option<Seqno>) -> Sequence {
        Sequence {
            next: first,
            open: None,
        }
    }

    /// Accepts the record with this (seqno, seqno_end, fragno, last_frag),
    /// or says why it is out of order.
    pub fn accept(&mut self, seqno: Seqno, seqno_end: Seqno, fragno: u16, last_frag: bool) -> Result<(), String> {
        match (self.open, self.next) {
            (Some((s, f)), _) => {
                if seqno != s || u32::from(fragno) != u32::from(f) + 1 {
                    return Err(format!(
                        "got seqno {seqno} fragno {fragno}, expected seqno {s} fragno {}",
                        u32::from(f) + 1
                    ));
                }
            }
            (None, next) => {
                if fragno != 0 || next.is_some_and(|n| n != seqno) {
                    return Err(format!(
                        "got seqno {seqno} fragno {fragno}, expected seqno {} fragno 0",
                        next.map_or_else(|| "any".to_string(), |n| n.to_string())
                    ));
                }
            }
        }
        if last_frag {
            self.open = None;
            self.next = Some(seqno_end + 1);
        } else {
            self.open = Some((seqno, fragno));
            self.next = Some(seqno);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(last: Option<i64>, epoch: i64, last_frag: bool) -> ClientPos {
        ClientPos {
            last_seqno: last.map(Seqno),
            last_epoch: Epoch::from_wire(epoch),
            last_frag,
            event_id: String::new(),
        }
    }

    fn log(min: i64, max: i64, epoch_at_last: Option<i64>) -> ServerLog {
        let epoch_at_last = epoch_at_last.map(Epoch);
        ServerLog {
            min: Some(Seqno(min)),
            max: Some(Seqno(max)),
            epoch_at_last,
            event_id_at_last: epoch_at_last.map(|e| format!("mysql-bin.000001:{e:016};-1")),
        }
    }

    fn code(d: Decision) -> NokCode {
        match d {
            Decision::Reject { code, .. } => code,
            Decision::Accept(s) => panic!("accepted at {s:?}"),
        }
    }

    #[test]
    fn no_position_starts_at_min_or_requires_zero() {
        let strict = Rules {
            require_seqno_zero: true,
        };
        assert_eq!(
            decide(&pos(None, -1, true), &log(5, 9, None), Rules::default()),
            Decision::Accept(Start::At(Seqno(5)))
        );
        let empty = ServerLog {
            min: None,
            max: None,
            epoch_at_last: None,
            event_id_at_last: None,
        };
        assert_eq!(
            decide(&pos(None, -1, true), &empty, Rules::default()),
            Decision::Accept(Start::First)
        );
        assert_eq!(
            decide(&pos(None, -1, true), &log(0, 9, None), strict),
            Decision::Accept(Start::At(Seqno(0)))
        );
        assert_eq!(
            decide(&pos(None, -1, true), &empty, strict),
            Decision::Accept(Start::At(Seqno(0)))
        );
        assert_eq!(
            code(decide(&pos(None, -1, true), &log(5, 9, None), strict)),
            NokCode::SeqnoPurged
        );
    }

    #[test]
    fn same_epoch_resumes_after_or_at_fragment_zero() {
        assert_eq!(
            decide(&pos(Some(7), 3, true), &log(0, 9, Some(3)), Rules::default()),
            Decision::Accept(Start::At(Seqno(8)))
        );
        assert_eq!(
            decide(&pos(Some(7), 3, false), &log(0, 9, Some(3)), Rules::default()),
            Decision::Accept(Start::At(Seqno(7)))
        );
        // Tailing: the client has everything.
        assert_eq!(
            decide(&pos(Some(9), 3, true), &log(0, 9, Some(3)), Rules::default()),
            Decision::Accept(Start::At(Seqno(10)))
        );
    }

    #[test]
    fn epoch_mismatch_is_refused_with_guidance() {
        match decide(&pos(Some(7), 3, true), &log(0, 9, Some(5)), Rules::default()) {
            Decision::Reject { code, text } => {
                assert_eq!(code, NokCode::EpochMismatch);
                assert!(
                    text.starts_with(
                        "epoch mismatch at seqno 7: the histories diverged after seqno 4 at the latest (epoch 3 on \
                         the client, 5 on this server)"
                    ),
                    "{text}"
                );
                assert!(text.contains("tprovision -s HOST"));
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn purged_last_but_next_present_is_accepted_without_epoch_check() {
        assert_eq!(
            decide(&pos(Some(4), 1, true), &log(5, 9, None), Rules::default()),
            Decision::Accept(Start::At(Seqno(5)))
        );
        // ... but not mid-transaction: the client needs seqno 5 itself.
        assert_eq!(
            code(decide(&pos(Some(4), 1, false), &log(5, 9, None), Rules::default())),
            NokCode::SeqnoPurged
        );
    }

    #[test]
    fn purged_and_ahead_are_refused_naming_min_and_max() {
        match decide(&pos(Some(2), 1, true), &log(5, 9, None), Rules::default()) {
            Decision::Reject { code, text } => {
                assert_eq!(code, NokCode::SeqnoPurged);
                assert!(text.contains("min stored seqno 5, max stored seqno 9"), "{text}");
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(
            code(decide(&pos(Some(10), 1, true), &log(0, 9, None), Rules::default())),
            NokCode::ClientAhead
        );
        assert_eq!(
            code(decide(&pos(Some(30), 1, true), &log(0, 9, None), Rules::default())),
            NokCode::ClientAhead
        );
        assert_eq!(
            code(decide(&pos(Some(10), 1, false), &log(0, 9, None), Rules::default())),
            NokCode::ServerBehind
        );
    }

    #[test]
    fn an_empty_server_makes_a_client_with_a_position_wait() {
        let empty = ServerLog {
            min: None,
            max: None,
            epoch_at_last: None,
            event_id_at_last: None,
        };
        let d = decide(&pos(Some(4), 1, true), &empty, Rules::default());
        assert_eq!(code(d.clone()), NokCode::ServerBehind);
        assert!(NokCode::ServerBehind.is_transient());
        let Decision::Reject { text, .. } = d else {
            unreachable!()
        };
        assert!(text.contains("resumes after seqno 4 (epoch 1)"), "{text}");
    }

    #[test]
    fn same_epoch_and_another_event_id_is_another_history() {
        // Both histories began at seqno 0: epoch 3 at seqno 7 in each.
        let mut p = pos(Some(7), 3, true);
        p.event_id = "mysql-bin.000001:0000000000000003;-1".into();
        assert_eq!(
            decide(&p, &log(0, 9, Some(3)), Rules::default()),
            Decision::Accept(Start::At(Seqno(8))),
            "the same record"
        );
        p.event_id = "mysql-bin.000002:0000000000009999;-1".into();
        let d = decide(&p, &log(0, 9, Some(3)), Rules::default());
        assert_eq!(code(d.clone()), NokCode::EpochMismatch);
        let Decision::Reject { text, .. } = d else {
            unreachable!()
        };
        assert!(
            text.contains("history mismatch at seqno 7") && text.contains("mysql-bin.000002"),
            "{text}"
        );
        // A client that sends no event id is checked by epoch only.
        p.event_id.clear();
        assert_eq!(
            decide(&p, &log(0, 9, Some(3)), Rules::default()),
            Decision::Accept(Start::At(Seqno(8)))
        );
    }

    #[test]
    fn event_id_positioning_is_refused() {
        let mut p = pos(None, -1, true);
        p.event_id = "mysql-bin.000001:0000000000000004;-1".into();
        assert_eq!(
            code(decide(&p, &log(0, 9, None), Rules::default())),
            NokCode::Unsupported
        );
    }

    #[test]
    fn sequence_checks_fragments_and_density() {
        let mut s = Sequence::new(Some(Seqno(3)));
        assert!(s.accept(Seqno(4), Seqno(4), 0, true).is_err());
        let mut s = Sequence::new(Some(Seqno(3)));
        s.accept(Seqno(3), Seqno(3), 0, false).expect("frag 0");
        assert!(s.clone().accept(Seqno(3), Seqno(3), 2, true).is_err());
        assert!(s.clone().accept(Seqno(4), Seqno(4), 0, true).is_err());
        s.accept(Seqno(3), Seqno(3), 1, true).expect("frag 1");
        s.accept(Seqno(4), Seqno(8), 0, true).expect("filtered range");
        assert!(s.clone().accept(Seqno(8), Seqno(8), 0, true).is_err());
        s.accept(Seqno(9), Seqno(9), 0, true).expect("after range");
        let mut any = Sequence::new(None);
        any.accept(Seqno(42), Seqno(42), 0, true).expect("any first");
    }
}
