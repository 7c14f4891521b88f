//! Folding INTVAR, RAND and USER_VAR events into the session variables of
//! the statement that follows them.
//!
//! Invariant: the server writes these events immediately before the QUERY
//! (or EXECUTE_LOAD_QUERY) they belong to; [`PendingVars::apply_to`] moves
//! them into that statement's [`SessionVars`] and leaves the pending set
//! empty.

use thl::event::{SessionVars, UserVar};

use super::decoder::BinlogEvent;
use super::events::INTVAR_LAST_INSERT_ID;

/// INTVAR/RAND/USER_VAR values waiting for their statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingVars {
    pub insert_id: Option<u64>,
    pub last_insert_id: Option<u64>,
    pub rand_seeds: Option<(u64, u64)>,
    pub user_vars: Vec<UserVar>,
}

impl PendingVars {
    /// Absorbs `ev` if it is an INTVAR, RAND or USER_VAR event; returns
    /// true when it did.
    pub fn observe(&mut self, ev: &BinlogEvent) -> bool {
        match ev {
            BinlogEvent::IntVar { kind, value } => {
                if *kind == INTVAR_LAST_INSERT_ID {
                    self.last_insert_id = Some(*value);
                } else {
                    self.insert_id = Some(*value);
                }
                true
            }
            BinlogEvent::Rand { seed1, seed2 } => {
                self.rand_seeds = Some((*seed1, *seed2));
                true
            }
            BinlogEvent::UserVar(u) => {
                self.user_vars.push(u.clone());
                true
            }
            _ => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.insert_id.is_none()
            && self.last_insert_id.is_none()
            && self.rand_seeds.is_none()
            && self.user_vars.is_empty()
    }

    /// Moves the pending values into `s` (values already set in `s` are
    /// overwritten) and clears `self`.
    pub fn apply_to(&mut self, s: &mut SessionVars) {
        if let Some(v) = self.insert_id.take() {
            s.insert_id = Some(v);
        }
        if let Some(v) = self.last_insert_id.take() {
            s.last_insert_id = Some(v);
        }
        if let Some(v) = self.rand_seeds.take() {
            s.rand_seeds = Some(v);
        }
        s.user_vars.append(&mut self.user_vars);
    }

    /// Drops pending values (e.g. at a transaction boundary).
    pub fn clear(&mut self) {
        *self = PendingVars::default();
    }
}
