//! The options of `online` and `offline-deferred`, parsed and validated in
//! one place so that the REST API and `trepctl` reject the same mistakes.
//! `-skip-seqno` lists are the apply stage's [`SkipSeqnos`].

use serde::Serialize;
use thl::seqno::Seqno;

pub use crate::pipeline::skip::SkipSeqnos;
pub use control::requests::OnlineRequest;

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
    pub base_seqno: Option<Seqno>,
    /// Go offline once this seqno is applied (handled by the manager).
    pub until_seqno: Option<Seqno>,
    /// Skip the epoch/seqno handshake with the upstream.
    pub force: bool,
}

impl OnlineOptions {
    /// Checks every option of `req` (the REST body, `control::requests`);
    /// the message names the option and an example.
    pub fn from_request(req: &OnlineRequest) -> Result<OnlineOptions, String> {
        let skip_seqno = match &req.skip_seqno {
            Some(s) => s.parse()?,
            None => SkipSeqnos::default(),
        };
        if let Some(ev) = &req.from_event {
            if ev.trim().is_empty() {
                return Err("-from-event: empty event id (example: mysql-bin.000003:4)".into());
            }
        }
        if let Some(b) = req.base_seqno {
            if b < 0 {
                return Err(format!("-base-seqno {b}: must be >= 0"));
            }
            if req.from_event.is_none() {
                return Err("-base-seqno needs -from-event (the binlog position the seqno base applies to)".into());
            }
        }
        if let Some(u) = req.until_seqno {
            if u < 0 {
                return Err(format!("-until-seqno {u}: must be >= 0"));
            }
        }
        Ok(OnlineOptions {
            skip_seqno,
            from_event: req.from_event.as_ref().map(|s| s.trim().to_owned()),
            base_seqno: req.base_seqno.map(Seqno),
            until_seqno: req.until_seqno.map(Seqno),
            force: req.force,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_seqno_needs_from_event() {
        let r = OnlineRequest {
            base_seqno: Some(5),
            ..Default::default()
        };
        assert!(OnlineOptions::from_request(&r)
            .expect_err("refused")
            .contains("-from-event"));
        let r = OnlineRequest {
            base_seqno: Some(5),
            from_event: Some("mysql-bin.000001:4".into()),
            ..Default::default()
        };
        assert_eq!(
            OnlineOptions::from_request(&r).expect("valid").base_seqno,
            Some(Seqno(5))
        );
        let r = OnlineRequest {
            until_seqno: Some(-1),
            ..Default::default()
        };
        assert!(OnlineOptions::from_request(&r).is_err());
    }
}
