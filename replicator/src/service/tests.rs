//! State-machine tests with a fake pipeline launcher whose pipelines the
//! test drives (progress reports, results).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thl::seqno::Seqno;
use tokio::sync::oneshot;

use super::launcher::{PipelineFailure, PipelineFuture, PipelineLauncher, ServiceContext};
use super::manager::{ErrorKind, Manager, Service};
use super::{OnlineRequest, RoleLauncher, State};
use crate::catalog::Catalog;
use crate::config::{Deployment, HostPlan, Role};

/// A launcher whose pipelines wait for `stop` or for a result the test sends.
#[derive(Debug, Default)]
pub(crate) struct FakeLauncher {
    pub contexts: Mutex<Vec<ServiceContext>>,
    results: Mutex<Vec<oneshot::Sender<Result<(), PipelineFailure>>>>,
    pub refuse: Mutex<Option<PipelineFailure>>,
}

impl FakeLauncher {
    /// Ends the latest pipeline with `r`.
    pub fn finish(&self, r: Result<(), PipelineFailure>) {
        if let Some(tx) = self.results.lock().expect("lock").pop() {
            let _ = tx.send(r);
        }
    }

    pub fn launches(&self) -> usize {
        self.contexts.lock().expect("lock").len()
    }
}

impl PipelineLauncher for FakeLauncher {
    fn launch(&self, ctx: ServiceContext) -> Result<PipelineFuture, PipelineFailure> {
        if let Some(f) = self.refuse.lock().expect("lock").clone() {
            return Err(f);
        }
        let (tx, rx) = oneshot::channel();
        self.results.lock().expect("lock").push(tx);
        let mut stop = ctx.stop.clone();
        self.contexts.lock().expect("lock").push(ctx);
        Ok(Box::pin(async move {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => Ok(()),
                r = rx => r.unwrap_or(Ok(())),
            }
        }))
    }
}

pub(crate) fn plan(dir: &std::path::Path) -> HostPlan {
    let ini = format!(
        "[defaults]\ninstall-directory={}\nreplication-password=secret\nrest-api-admin-user=admin\nrest-api-admin-password=pw\n\
         [alpha]\ntopology=clustered\nmaster=localhost\nmembers=localhost\n",
        dir.display()
    );
    Deployment::parse(&ini, "test.ini")
        .expect("ini")
        .service_plan("localhost")
        .expect("plan")
}

pub(crate) fn fixture() -> (tempfile::TempDir, Arc<FakeLauncher>, Arc<Manager>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let launcher = Arc::new(FakeLauncher::default());
    let manager = Manager::new(plan(dir.path()), launcher.clone());
    (dir, launcher, manager)
}

pub(crate) async fn until_state(s: &Service, want: State) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.state() != want {
        assert!(Instant::now() < deadline, "state stayed {} (wanted {want})", s.state());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn connecting_then_streaming_then_error_ends_in_offline_error() {
    let (_d, fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    assert_eq!(s.state(), State::OfflineNormal);
    assert_eq!(
        s.online(&OnlineRequest::default()).expect("online"),
        State::Synchronizing
    );
    s.progress().connecting("db:3306", None);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(s.state(), State::Synchronizing);
    s.progress().streaming("db:3306");
    until_state(&s, State::Online).await;
    s.progress().connecting("db:3306", Some("lost".into()));
    until_state(&s, State::Synchronizing).await;
    s.progress().streaming("db:3306");
    until_state(&s, State::Online).await;
    s.progress()
        .applied(Seqno(6), "mysql-bin.000001:0000000000000900;3", 1, 2);
    fake.finish(Err(PipelineFailure {
        message: "cannot extract seqno 7: boom\nsecond line".into(),
        code: Some("DECODE".into()),
        seqno: Some(Seqno(7)),
        event_id: Some("mysql-bin.000001:0000000000001000".into()),
        transient: false,
    }));
    until_state(&s, State::OfflineError).await;
    let st = super::status::status(&m, &s);
    assert_eq!(st["state"], "OFFLINE:ERROR");
    assert_eq!(st["pendingError"], "cannot extract seqno 7: boom");
    assert_eq!(st["pendingErrorCode"], "DECODE");
    assert_eq!(st["pendingErrorSeqno"], "7");
    assert_eq!(st["pendingErrorEventId"], "mysql-bin.000001:0000000000001000");
    assert!(st["pendingExceptionMessage"].contains("second line"));
    // offline clears the error; online works again.
    assert_eq!(s.offline(false).await.expect("offline"), State::OfflineNormal);
    assert_eq!(super::status::status(&m, &s)["pendingError"], "NONE");
    s.online(&OnlineRequest::default()).expect("online again");
    assert_eq!(fake.launches(), 2);
}

#[tokio::test]
async fn offline_stops_the_pipeline_at_a_boundary() {
    let (_d, fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    s.online(&OnlineRequest::default()).expect("online");
    s.progress().streaming("db:3306");
    until_state(&s, State::Online).await;
    let again = s.online(&OnlineRequest::default()).expect_err("already online");
    assert_eq!(again.kind, ErrorKind::Conflict);
    assert_eq!(s.offline(false).await.expect("offline"), State::OfflineNormal);
    let ctx = fake.contexts.lock().expect("lock")[0].stop.clone();
    assert!(*ctx.borrow(), "the pipeline was asked to stop");
    // offline when offline is a no-op.
    assert_eq!(s.offline(true).await.expect("offline"), State::OfflineNormal);
}

#[tokio::test]
async fn offline_immediate_aborts_a_pipeline_that_ignores_stop() {
    #[derive(Debug)]
    struct Stubborn;
    impl PipelineLauncher for Stubborn {
        fn launch(&self, _ctx: ServiceContext) -> Result<PipelineFuture, PipelineFailure> {
            Ok(Box::pin(std::future::pending()))
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Manager::new(plan(dir.path()), Arc::new(Stubborn));
    let s = m.service("alpha").expect("service").clone();
    s.online(&OnlineRequest::default()).expect("online");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.offline(true).await.expect("offline"), State::OfflineNormal);
}

#[tokio::test]
async fn setrole_only_when_offline_and_persists_in_the_catalog() {
    let (d, fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    s.online(&OnlineRequest::default()).expect("online");
    let e = s
        .set_role(Role::Slave, vec!["thl://up:2112/".into()])
        .await
        .expect_err("online");
    assert_eq!(e.kind, ErrorKind::Conflict);
    s.offline(false).await.expect("offline");
    let e = s
        .set_role(Role::Slave, vec![])
        .await
        .expect_err("no upstream in the ini");
    assert_eq!(e.kind, ErrorKind::BadRequest);
    let e = s
        .set_role(Role::Master, vec!["thl://up:2112/".into()])
        .await
        .expect_err("master has no uri");
    assert_eq!(e.kind, ErrorKind::BadRequest);
    let e = s
        .set_role(Role::Slave, vec!["http://up/".into()])
        .await
        .expect_err("bad uri");
    assert_eq!(e.kind, ErrorKind::BadRequest);
    s.set_role(Role::Slave, vec!["thl://up:2112/".into()])
        .await
        .expect("setrole");
    assert_eq!(super::status::status(&m, &s)["role"], "slave");
    assert_eq!(super::status::status(&m, &s)["masterConnectUri"], "thl://up:2112/");
    // A slave's apply task counts the apply stage's retries and deadlocks.
    s.progress().apply_retried(true);
    s.progress().apply_retried(false);
    let tasks = super::status::tasks(&s);
    let apply = tasks.last().expect("the apply task");
    assert_eq!(
        (
            apply["stage"].as_str(),
            apply["retries"].as_str(),
            apply["deadlocksResolved"].as_str()
        ),
        ("thl-to-dbms", "2", "1")
    );
    assert!(!tasks[0].contains_key("retries"), "{tasks:?}");
    s.online(&OnlineRequest::default()).expect("online");
    let last = fake
        .contexts
        .lock()
        .expect("lock")
        .last()
        .map(|c| (c.role, c.upstream.clone()));
    assert_eq!(last, Some((Role::Slave, vec!["thl://up:2112/".to_owned()])));
    s.offline(false).await.expect("offline");
    // A new manager (a restart) reads the role back.
    let catalog_dir = s.plan().catalog_dir.clone();
    drop(m);
    let rec = Catalog::open(&catalog_dir).expect("catalog").role().expect("role");
    assert_eq!(rec.map(|r| r.role), Some(Role::Slave));
    let m2 = Manager::new(plan(d.path()), fake);
    assert_eq!(m2.service("alpha").expect("service").view().role, Role::Slave);
}

#[tokio::test]
async fn wait_applied_and_until_seqno() {
    let (_d, _fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    s.online(&OnlineRequest {
        until_seqno: Some(5),
        ..Default::default()
    })
    .expect("online");
    s.progress().streaming("db:3306");
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move { s.wait_applied(3, Duration::from_secs(5)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.progress()
        .applied(Seqno(3), "mysql-bin.000001:0000000000000400;1", 1, 1);
    let out = waiter.await.expect("join");
    assert!(out.reached);
    assert_eq!(out.applied_last_seqno, 3);
    let out = s.wait_applied(10, Duration::from_millis(100)).await;
    assert!(!out.reached);
    s.progress()
        .applied(Seqno(5), "mysql-bin.000001:0000000000000500;1", 1, 1);
    until_state(&s, State::OfflineNormal).await;
    let out = s.wait_state("OFFLINE", Duration::from_secs(1)).await;
    assert!(out.reached);
}

#[tokio::test]
async fn offline_deferred_stops_at_the_seqno() {
    let (_d, _fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    assert_eq!(s.offline_deferred(3).expect_err("offline").kind, ErrorKind::Conflict);
    s.online(&OnlineRequest::default()).expect("online");
    s.progress().streaming("db:3306");
    s.offline_deferred(3).expect("deferred");
    assert_eq!(
        super::status::status(&m, &s)["offlineRequests"],
        "Offline at sequence number: 3"
    );
    s.progress()
        .applied(Seqno(2), "mysql-bin.000001:0000000000000400;1", 1, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(s.state(), State::Online);
    s.progress()
        .applied(Seqno(3), "mysql-bin.000001:0000000000000500;1", 1, 1);
    until_state(&s, State::OfflineNormal).await;
}

#[tokio::test]
async fn transient_failures_relaunch_in_synchronizing() {
    let (_d, fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    s.online(&OnlineRequest::default()).expect("online");
    s.progress().streaming("db:3306");
    until_state(&s, State::Online).await;
    fake.finish(Err(PipelineFailure {
        transient: true,
        ..PipelineFailure::definite("SOURCE", "connection lost")
    }));
    until_state(&s, State::Synchronizing).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.launches() < 2 {
        assert!(Instant::now() < deadline, "relaunched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.offline(false).await.expect("offline");
}

#[tokio::test]
async fn refused_options_leave_the_state_alone_and_missing_roles_error() {
    let (_d, fake, m) = fixture();
    let s = m.service("alpha").expect("service").clone();
    let e = s
        .online(&OnlineRequest {
            skip_seqno: Some("5-1".into()),
            ..Default::default()
        })
        .expect_err("bad list");
    assert_eq!((e.kind, s.state()), (ErrorKind::BadRequest, State::OfflineNormal));
    *fake.refuse.lock().expect("lock") = Some(PipelineFailure::definite("BAD_OPTION", "-force: no"));
    let e = s
        .online(&OnlineRequest {
            force: true,
            ..Default::default()
        })
        .expect_err("refused");
    assert_eq!((e.kind, s.state()), (ErrorKind::BadRequest, State::OfflineNormal));
    *fake.refuse.lock().expect("lock") = Some(PipelineFailure::definite("ROLE_NOT_AVAILABLE", "no slave"));
    let e = s.online(&OnlineRequest::default()).expect_err("no pipeline");
    assert_eq!((e.kind, s.state()), (ErrorKind::Failed, State::OfflineError));
}

#[tokio::test]
async fn the_role_launcher_refuses_options_a_pipeline_cannot_honour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Manager::new(plan(dir.path()), Arc::new(RoleLauncher::default()));
    let s = m.service("alpha").expect("service").clone();
    for (req, word) in [
        (
            OnlineRequest {
                skip_seqno: Some("3".into()),
                ..Default::default()
            },
            "-skip-seqno",
        ),
        (
            OnlineRequest {
                force: true,
                ..Default::default()
            },
            "-force",
        ),
        (
            OnlineRequest {
                from_event: Some("nonsense".into()),
                ..Default::default()
            },
            "-from-event",
        ),
    ] {
        let e = s.online(&req).expect_err(word);
        assert!(
            e.message.contains(word) && e.kind == ErrorKind::BadRequest,
            "{word}: {e}"
        );
        assert_eq!(s.state(), State::OfflineNormal);
    }
    s.set_role(Role::Slave, vec!["thl://up:2112/".into()])
        .await
        .expect("setrole");
    for (req, word) in [
        (
            OnlineRequest {
                from_event: Some("mysql-bin.000001:4".into()),
                ..Default::default()
            },
            "-from-event",
        ),
        (
            OnlineRequest {
                force: true,
                ..Default::default()
            },
            "-force",
        ),
    ] {
        let e = s.online(&req).expect_err(word);
        assert!(
            e.message.contains(word) && e.kind == ErrorKind::BadRequest,
            "{word}: {e}"
        );
        assert_eq!(s.state(), State::OfflineNormal);
    }
}

#[test]
fn state_names_and_prefixes() {
    assert_eq!(State::Synchronizing.to_string(), "GOING-ONLINE:SYNCHRONIZING");
    assert!(State::OfflineError.matches("offline"));
    assert!(State::Synchronizing.matches("GOING-ONLINE"));
    assert!(!State::Online.matches("ONLINE:X"));
    assert!(!State::GoingOffline.matches("GOING"));
    assert!(super::state::check_state_pattern("BOGUS").is_err());
    assert_eq!("online".parse::<State>(), Ok(State::Online));
}
