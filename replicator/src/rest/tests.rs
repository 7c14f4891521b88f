//! The router in memory (tower `oneshot`): auth, every route, errors,
//! metrics.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use serde_json::Value;
use tower::ServiceExt as _;

use super::{router, Credentials};
use crate::service::tests::{fixture, until_state};
use crate::service::{Manager, State};

fn creds() -> Credentials {
    Credentials {
        user: "admin".into(),
        password: "pw".into(),
    }
}

fn basic(user: &str, pw: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

async fn call(m: &Arc<Manager>, method: &str, path: &str, body: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let readonly = Credentials {
        user: "watcher".into(),
        password: "ro".into(),
    };
    let resp = super::router_full(m.clone(), Some(creds()), Some(readonly), None)
        .oneshot(req.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn ok(m: &Arc<Manager>, method: &str, path: &str, body: &str) -> Value {
    let (code, text) = call(m, method, path, body, Some(&basic("admin", "pw"))).await;
    assert_eq!(code, StatusCode::OK, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

async fn err(m: &Arc<Manager>, method: &str, path: &str, body: &str, want: StatusCode) -> String {
    let (code, text) = call(m, method, path, body, Some(&basic("admin", "pw"))).await;
    assert_eq!(code, want, "{method} {path}: {text}");
    let v: Value = serde_json::from_str(&text).expect("JSON error");
    assert_eq!(v["status"], want.as_u16());
    v["error"].as_str().expect("message").to_owned()
}

const SVC: &str = "/api/v2/replicator/service/alpha";

fn state(m: &Arc<Manager>) -> State {
    m.service("alpha").expect("service").state()
}

#[tokio::test]
async fn unauthorised_requests_get_401_and_change_nothing() {
    let (_d, fake, m) = fixture();
    for auth in [
        None,
        Some(basic("admin", "wrong")),
        Some(basic("root", "pw")),
        Some("Bearer x".to_owned()),
        Some("Basic !!!".to_owned()),
    ] {
        for (method, path) in [
            ("POST", format!("{SVC}/online")),
            ("GET", "/api/v2/replicator/services".into()),
            ("GET", "/metrics".into()),
        ] {
            let before = state(&m);
            let (code, text) = call(&m, method, &path, "", auth.as_deref()).await;
            assert_eq!(code, StatusCode::UNAUTHORIZED, "{auth:?} {path}: {text}");
            assert!(text.contains("\"error\""), "{text}");
            assert_eq!(state(&m), before);
        }
    }
    assert_eq!(fake.launches(), 0, "no pipeline was started");
    // Online with credentials, then an unauthorised offline changes nothing.
    ok(&m, "POST", &format!("{SVC}/online"), "").await;
    m.service("alpha").expect("service").progress().streaming("db");
    until_state(m.service("alpha").expect("service"), State::Online).await;
    let (code, _) = call(&m, "POST", &format!("{SVC}/offline"), "", Some(&basic("admin", "nope"))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(state(&m), State::Online);
}

#[tokio::test]
async fn services_status_version_clients_and_status_names() {
    let (_d, _fake, m) = fixture();
    let list = ok(&m, "GET", "/api/v2/replicator/services", "").await;
    assert_eq!(list[0]["serviceName"], "alpha");
    assert_eq!(list[0]["state"], "OFFLINE:NORMAL");
    assert_eq!(list[0]["role"], "master");
    let st = ok(&m, "GET", &format!("{SVC}/status"), "").await;
    for key in [
        "appliedLastSeqno",
        "appliedLastEventId",
        "appliedLatency",
        "relativeLatency",
        "state",
        "role",
        "serviceName",
        "serviceType",
        "masterConnectUri",
        "masterListenUri",
        "pipelineSource",
        "minimumStoredSeqNo",
        "maximumStoredSeqNo",
        "latestEpochNumber",
        "pendingError",
        "pendingErrorCode",
        "pendingErrorEventId",
        "pendingErrorSeqno",
        "pendingExceptionMessage",
        "timeInStateSeconds",
        "uptimeSeconds",
        "currentEventId",
        "currentTimeMillis",
        "dataServerHost",
        "extensions",
        "host",
        "offlineRequests",
        "seqnoType",
        "simpleServiceName",
        "siteName",
        "sourceId",
        "channels",
        "clusterName",
        "resourcePrecedence",
        "rmiPort",
        "transitioningTo",
        "version",
    ] {
        assert!(st.get(key).is_some(), "status lacks {key}: {st}");
    }
    assert_eq!(st["appliedLastSeqno"], "-1");
    assert_eq!(st["seqnoType"], "java.lang.Long");
    assert!(st["masterListenUri"]
        .as_str()
        .is_some_and(|u| u.starts_with("thl://") && u.ends_with(":2112/")));
    let all = ok(&m, "GET", "/api/v2/replicator/status", "").await;
    assert_eq!(all["alpha"]["serviceName"], "alpha");
    assert!(ok(&m, "GET", "/api/v2/replicator/version", "").await["version"]
        .as_str()
        .is_some_and(|v| v.contains("Tungsten")));
    assert_eq!(
        ok(&m, "GET", &format!("{SVC}/clients"), "").await,
        serde_json::json!([])
    );
    assert_eq!(
        ok(&m, "GET", &format!("{SVC}/status?name=tasks"), "").await[0]["stage"],
        "binlog-to-thl"
    );
    assert_eq!(
        ok(&m, "GET", &format!("{SVC}/status?name=stores"), "").await[0]["name"],
        "thl"
    );
    assert_eq!(
        ok(&m, "GET", &format!("{SVC}/status?name=shards"), "").await,
        serde_json::json!([])
    );
    let service = m.service("alpha").expect("service").clone();
    service
        .progress()
        .shards_committed(["shop", "crm", "shop"].iter().zip(1..).map(|(shard, n)| {
            crate::pipeline::progress::ShardTxn {
                shard: (*shard).to_owned(),
                seqno: thl::seqno::Seqno(n),
                event_id: format!("mysql-bin.000001:{n:016};1"),
                source_tstamp_ms: crate::clock::now_ms(),
            }
        }));
    let shards = ok(&m, "GET", &format!("{SVC}/status?name=shards"), "").await;
    assert_eq!(
        (
            &shards[1]["shardId"],
            &shards[1]["eventCount"],
            &shards[1]["appliedLastSeqno"],
            &shards[1]["stage"]
        ),
        (
            &serde_json::json!("shop"),
            &serde_json::json!("2"),
            &serde_json::json!("3"),
            &serde_json::json!("binlog-to-thl")
        ),
        "{shards}"
    );
    assert!(err(
        &m,
        "GET",
        &format!("{SVC}/status?name=bogus"),
        "",
        StatusCode::BAD_REQUEST
    )
    .await
    .contains("tasks"));
    let e = err(
        &m,
        "GET",
        "/api/v2/replicator/service/nope/status",
        "",
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(e.contains("alpha"), "{e}");
    err(&m, "GET", "/api/v2/replicator/nothing", "", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn online_offline_and_their_errors() {
    let (_d, fake, m) = fixture();
    assert!(
        err(&m, "POST", &format!("{SVC}/online"), "{nope", StatusCode::BAD_REQUEST)
            .await
            .contains("JSON")
    );
    assert!(err(
        &m,
        "POST",
        &format!("{SVC}/online"),
        r#"{"skip":1}"#,
        StatusCode::BAD_REQUEST
    )
    .await
    .contains("unknown field"));
    assert!(err(
        &m,
        "POST",
        &format!("{SVC}/online"),
        r#"{"skipSeqno":"9-3"}"#,
        StatusCode::BAD_REQUEST
    )
    .await
    .contains("-skip-seqno"));
    assert_eq!(fake.launches(), 0);
    let v = ok(
        &m,
        "POST",
        &format!("{SVC}/online"),
        r#"{"skipSeqno":"3,5-7","untilSeqno":100}"#,
    )
    .await;
    assert_eq!(v["state"], "GOING-ONLINE:SYNCHRONIZING");
    let opts = fake.contexts.lock().expect("lock")[0].options.clone();
    assert_eq!(
        (opts.skip_seqno.to_string(), opts.until_seqno),
        ("3,5-7".to_owned(), Some(thl::seqno::Seqno(100)))
    );
    assert!(err(&m, "POST", &format!("{SVC}/online"), "", StatusCode::CONFLICT)
        .await
        .contains("offline"));
    assert!(err(
        &m,
        "POST",
        &format!("{SVC}/setrole"),
        r#"{"role":"slave","uri":"thl://x:2112/"}"#,
        StatusCode::CONFLICT
    )
    .await
    .contains("OFFLINE:NORMAL"));
    assert!(err(
        &m,
        "POST",
        &format!("{SVC}/reset"),
        r#"{"thl":true}"#,
        StatusCode::CONFLICT
    )
    .await
    .contains("offline"));
    ok(&m, "POST", &format!("{SVC}/offline-deferred"), r#"{"atSeqno":50}"#).await;
    assert_eq!(
        ok(&m, "GET", &format!("{SVC}/status"), "").await["offlineRequests"],
        "Offline at sequence number: 50"
    );
    let v = ok(&m, "POST", &format!("{SVC}/offline"), "").await;
    assert_eq!(v["state"], "OFFLINE:NORMAL");
    err(
        &m,
        "POST",
        &format!("{SVC}/offline-deferred"),
        r#"{"atSeqno":5}"#,
        StatusCode::CONFLICT,
    )
    .await;
    err(
        &m,
        "POST",
        &format!("{SVC}/offline-deferred"),
        "",
        StatusCode::BAD_REQUEST,
    )
    .await;
    ok(&m, "POST", &format!("{SVC}/offline"), r#"{"immediate":true}"#).await;
}

#[tokio::test]
async fn setrole_reset_heartbeat_flush_wait() {
    let (_d, _fake, m) = fixture();
    assert!(err(
        &m,
        "POST",
        &format!("{SVC}/setrole"),
        r#"{"role":"boss"}"#,
        StatusCode::BAD_REQUEST
    )
    .await
    .contains("master"));
    err(&m, "POST", &format!("{SVC}/setrole"), "", StatusCode::BAD_REQUEST).await;
    let v = ok(
        &m,
        "POST",
        &format!("{SVC}/setrole"),
        r#"{"role":"replica","uri":"thl://up:2112/"}"#,
    )
    .await;
    assert_eq!(v["role"], "slave");
    assert_eq!(ok(&m, "GET", &format!("{SVC}/status"), "").await["role"], "slave");
    let v = ok(&m, "POST", &format!("{SVC}/setrole"), r#"{"role":"primary"}"#).await;
    assert_eq!(v["role"], "master");
    let thl = m.service("alpha").expect("service").plan().thl_dir.clone();
    std::fs::create_dir_all(&thl).expect("thl dir");
    let v = ok(&m, "POST", &format!("{SVC}/reset"), r#"{"thl":true}"#).await;
    assert!(v["removed"][0].as_str().is_some_and(|r| r.contains("THL")), "{v}");
    assert!(!thl.exists());
    err(
        &m,
        "POST",
        &format!("{SVC}/reset"),
        r#"{"everything":true}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // heartbeat and flush need the master ONLINE.
    assert!(err(&m, "POST", &format!("{SVC}/heartbeat"), "", StatusCode::CONFLICT)
        .await
        .contains("ONLINE"));
    err(
        &m,
        "POST",
        &format!("{SVC}/flush"),
        r#"{"limit":1}"#,
        StatusCode::CONFLICT,
    )
    .await;
    // wait
    let v = ok(&m, "POST", &format!("{SVC}/wait"), r#"{"state":"OFFLINE","limit":1}"#).await;
    assert_eq!(v["reached"], true);
    let v = ok(&m, "POST", &format!("{SVC}/wait"), r#"{"applied":3,"limit":0}"#).await;
    assert_eq!(
        (v["reached"].clone(), v["appliedLastSeqno"].clone()),
        (Value::Bool(false), Value::from(-1))
    );
    err(
        &m,
        "POST",
        &format!("{SVC}/wait"),
        r#"{"applied":3,"state":"ONLINE"}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(err(
        &m,
        "POST",
        &format!("{SVC}/wait"),
        r#"{"state":"SLEEPING"}"#,
        StatusCode::BAD_REQUEST
    )
    .await
    .contains("unknown state"));
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_state_labelled() {
    let (_d, _fake, m) = fixture();
    ok(&m, "POST", &format!("{SVC}/online"), "").await;
    let s = m.service("alpha").expect("service").clone();
    s.progress().streaming("db");
    s.progress().applied(
        thl::seqno::Seqno(4),
        "mysql-bin.000001:0000000000000400;1",
        crate::clock::now_ms() - 1500,
        0,
    );
    until_state(&s, State::Online).await;
    let text = match ok(&m, "GET", "/metrics", "").await {
        Value::String(t) => t,
        other => panic!("metrics are text: {other}"),
    };
    assert!(text.contains("# TYPE replicator_state gauge"), "{text}");
    assert!(
        text.contains("replicator_state{service=\"alpha\",state=\"ONLINE\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("replicator_state{service=\"alpha\",state=\"OFFLINE:NORMAL\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("replicator_applied_last_seqno{service=\"alpha\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains("replicator_applied_latency_seconds{service=\"alpha\"} 1.5"),
        "{text}"
    );
    assert!(
        text.contains("replicator_relative_latency_seconds{service=\"alpha\"}"),
        "{text}"
    );
    assert!(
        text.contains("replicator_events_per_second{service=\"alpha\"}"),
        "{text}"
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').expect("name value");
        value.parse::<f64>().unwrap_or_else(|_| panic!("bad sample {line}"));
    }
}

#[tokio::test]
async fn without_credentials_the_api_is_open() {
    let (_d, _fake, m) = fixture();
    let resp = router(m.clone(), None)
        .oneshot(
            Request::get("/api/v2/replicator/services")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_credentials_no_copy_provision_or_reload() {
    let (_d, _fake, m) = fixture();
    for (method, path) in [
        ("POST", "/api/v2/replicator/provision/backup"),
        ("POST", "/api/v2/replicator/service/alpha/provision"),
        ("GET", "/api/v2/replicator/service/alpha/provision"),
        ("POST", "/api/v2/replicator/reload"),
    ] {
        let resp = router(m.clone(), None)
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::from(r#"{"source":"db2"}"#))
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
}

#[tokio::test]
async fn the_read_only_user_reads_and_changes_nothing() {
    let (_d, _fake, m) = fixture();
    let watcher = basic("watcher", "ro");
    for path in ["/api/v2/replicator/services", "/metrics", &format!("{SVC}/status")] {
        let (code, text) = call(&m, "GET", path, "", Some(&watcher)).await;
        assert_eq!(code, StatusCode::OK, "{path}: {text}");
    }
    let before = state(&m);
    for what in ["online", "offline", "setrole", "read-only", "reset"] {
        let (code, text) = call(&m, "POST", &format!("{SVC}/{what}"), "", Some(&watcher)).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{what}: {text}");
        assert!(text.contains("read-only user"), "{text}");
    }
    assert_eq!(state(&m), before);
    // Its password does not open the admin's routes, nor the admin's its.
    let (code, _) = call(&m, "GET", "/metrics", "", Some(&basic("watcher", "pw"))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn limits_and_bodies_are_bounded() {
    let (_d, _fake, m) = fixture();
    let huge = u64::MAX.to_string();
    for (what, body) in [
        ("wait", format!(r#"{{"applied": 1, "limit": {huge}}}"#)),
        ("flush", format!(r#"{{"limit": {huge}}}"#)),
        ("wait", r#"{"state": "ONLINE", "limit": 604801}"#.to_owned()),
    ] {
        let e = err(&m, "POST", &format!("{SVC}/{what}"), &body, StatusCode::BAD_REQUEST).await;
        assert!(e.contains("at most 604800 seconds"), "{e}");
    }
    let e = err(
        &m,
        "POST",
        &format!("{SVC}/provision"),
        r#"{"source": "h2", "threads": 100000}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(e.contains("threads 100000"), "{e}");
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(super::MAX_BODY_BYTES));
    let (code, _) = call(
        &m,
        "POST",
        &format!("{SVC}/heartbeat"),
        &big,
        Some(&basic("admin", "pw")),
    )
    .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn without_credentials_the_daemon_starts_only_on_loopback_when_allowed() {
    let ini = |extra: &str| format!("[defaults]\n{extra}[alpha]\nmaster=127.0.0.5\nmembers=127.0.0.5\n");
    let plan = |text: &str| {
        crate::config::Deployment::parse(text, "t.ini")
            .expect("ini")
            .with_resolver(crate::config::Resolver::new(None).with_system(false))
            .service_plan("127.0.0.5")
    };
    let any: std::net::SocketAddr = "0.0.0.0:8097".parse().expect("addr");
    let lo: std::net::SocketAddr = "127.0.0.1:8097".parse().expect("addr");
    let open = plan(&ini("")).expect("plan");
    let e = super::admin_credentials(&open, lo).expect_err("no credentials");
    assert!(
        e.contains("rest-api-admin-user") && e.contains("rest-api-allow-anonymous"),
        "{e}"
    );
    let allowed = plan(&ini("rest-api-allow-anonymous=true\n")).expect("plan");
    assert_eq!(super::admin_credentials(&allowed, lo), Ok(None));
    assert!(
        super::admin_credentials(&allowed, any).is_err(),
        "never beyond loopback"
    );
    let set = plan(&ini("rest-api-admin-user=a\nrest-api-admin-password=p\n")).expect("plan");
    assert_eq!(
        super::admin_credentials(&set, any),
        Ok(Some(Credentials {
            user: "a".into(),
            password: "p".into()
        }))
    );
}

#[tokio::test]
async fn history_answers_the_samples_of_a_known_service() {
    let (_d, _fake, m) = fixture();
    // Manager::new's sampler takes the first sample at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let h = loop {
        let h = ok(&m, "GET", &format!("{SVC}/history"), "").await;
        if h["samples"].as_array().is_some_and(|s| !s.is_empty()) {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "no sample: {h}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(h["serviceName"], "alpha");
    assert_eq!(h["intervalSeconds"], 10);
    let first = &h["samples"][0];
    assert_eq!(first["state"], "OFFLINE:NORMAL");
    assert_eq!(first["appliedLastSeqno"], -1);
    assert!(first["appliedLatency"].is_null() && first["rate"].is_null(), "{first}");
    let typed: control::responses::HistoryResponse = serde_json::from_value(h).expect("typed");
    assert_eq!(typed.service_name, "alpha");
    let e = err(
        &m,
        "GET",
        "/api/v2/replicator/service/nope/history",
        "",
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(e.contains("no service \"nope\""), "{e}");
    let (code, _) = call(&m, "GET", &format!("{SVC}/history"), "", Some(&basic("watcher", "ro"))).await;
    assert_eq!(code, StatusCode::OK, "the read-only user reads it");
}

#[tokio::test]
async fn the_status_page_needs_auth_is_get_only_and_shows_this_host() {
    let (_d, _fake, m) = fixture();
    let (code, _) = call(&m, "GET", "/", "", None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = call(&m, "POST", "/", "", Some(&basic("watcher", "ro"))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = call(&m, "POST", "/", "", Some(&basic("admin", "pw"))).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    let resp = super::router_full(
        m.clone(),
        Some(creds()),
        Some(Credentials {
            user: "watcher".into(),
            password: "ro".into(),
        }),
        None,
    )
    .oneshot(
        Request::builder()
            .uri("/")
            .header("authorization", basic("watcher", "ro"))
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(h["content-security-policy"]
        .to_str()
        .expect("ascii")
        .contains("default-src 'none'"));
    let page = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body")
            .to_vec(),
    )
    .expect("UTF-8");
    // Without its ini the page says so and shows this host's services.
    assert!(page.contains("started without its ini"), "{page}");
    assert!(
        page.contains(
            "<tr class=\"host\" data-host=\"localhost\" data-service=\"alpha\" data-role=\"master\" \
             data-state=\"OFFLINE:NORMAL\">"
        ),
        "{page}"
    );
}

/// A deployment of this host (`localhost`), a host whose port refuses and
/// one that accepts connections and never answers.
#[tokio::test]
async fn the_status_page_says_why_a_host_did_not_answer_and_does_not_wait_for_it() {
    let (d, _fake, m) = fixture();
    let refused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused_port = refused.local_addr().expect("addr").port();
    drop(refused);
    // Bound and listening, never accepted: the connection is made, the
    // request never answered.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let ini = d.path().join("tungsten.ini");
    std::fs::write(
        &ini,
        format!(
            "[defaults]\ninstall-directory={}\nreplication-password=secret\nrest-api-admin-user=admin\n\
             rest-api-admin-password=pw\nreplicator-rest-api-port={refused_port}\n\
             [alpha]\ntopology=clustered\nmaster=localhost\nmembers=localhost,deadhost\n\
             [beta]\ntopology=clustered\nrelay=silenthost\nmembers=silenthost\nrelay-source=alpha\n\
             replicator-rest-api-port={silent_port}\n[gamma]\ncomposite-datasources=alpha,beta\n",
            d.path().display()
        ),
    )
    .expect("ini");
    let hosts = d.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost deadhost silenthost\n").expect("hosts");
    let source = crate::service::reload::IniSource {
        ini,
        hosts_file: Some(hosts),
        install_directory: None,
    };
    let started = std::time::Instant::now();
    let snap = super::page::snapshot(&m, Some(&source), Ok(None)).await;
    let took = started.elapsed();
    assert!(
        took < super::page::PER_HOST + std::time::Duration::from_secs(1),
        "the silent host held the page for {took:?}"
    );
    assert_eq!(snap.notice, None);
    let page = super::page::html::render(&snap);
    assert!(
        page.contains("data-host=\"localhost\" data-service=\"alpha\" data-role=\"master\""),
        "{page}"
    );
    assert!(
        page.contains("data-host=\"deadhost\" data-service=\"alpha\" data-role=\"slave\" data-state=\"UNREACHABLE\""),
        "{page}"
    );
    assert!(
        page.contains("did not answer: cannot connect to the replicator at 127.0.0.1:"),
        "{page}"
    );
    assert!(
        page.contains("data-host=\"silenthost\" data-service=\"beta\" data-role=\"relay\" data-state=\"UNREACHABLE\""),
        "{page}"
    );
    assert!(page.contains("did not answer: no answer within 2 s"), "{page}");
    assert!(page.contains("data-composite=\"gamma\""), "{page}");
    drop(silent);
}
