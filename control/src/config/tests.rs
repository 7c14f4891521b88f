use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::model::ZeroRowPolicy;
use super::*;

const SEED: &str = "\
[defaults]
replication-user=tungsten
replication-password=secret
replication-port=13306
rest-api-admin-user=apiuser
rest-api-admin-password=secret
replicator-rest-api-address=0.0.0.0
[alpha]
topology=clustered
master=host1.alpha
members=host1.alpha,host2.alpha,host3.alpha
[beta]
topology=clustered
relay=host1.beta
members=host1.beta,host2.beta,host3.beta
relay-source=alpha
[gamma]
composite-datasources=alpha,beta
";

const NORTH: &str = "[north]\nrelay=db7\nmembers=db7,db8,db9\nrelay-source=beta\n";

const HOSTS: &str = "\
# sandbox loopbacks
127.0.1.1 host1.alpha
127.0.1.2 host2.alpha
127.0.1.3 host3.alpha
127.0.2.1 host1.beta
127.0.2.2 host2.beta
127.0.2.3 host3.beta
127.0.3.7 db7
127.0.3.8 db8
127.0.3.9 db9
";

fn deployment(text: &str) -> Result<Deployment, ConfigError> {
    let hosts = HostsFile::parse(HOSTS, "sandbox.hosts")?;
    Ok(Deployment::parse(text, "tungsten.ini")?.with_resolver(Resolver::new(Some(hosts)).with_system(false)))
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn one(plan: &HostPlan) -> Result<&ServicePlan, String> {
    match plan.services.as_slice() {
        [s] => Ok(s),
        other => Err(format!("expected one service, got {other:?}")),
    }
}

#[test]
fn seed_resolves_all_six_hosts() -> Result<(), Box<dyn std::error::Error>> {
    let d = deployment(SEED)?;
    d.validate()?;
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    let expect = [
        ("host1.alpha", "alpha", Role::Master, vec![], ip(127, 0, 1, 1)),
        (
            "host2.alpha",
            "alpha",
            Role::Slave,
            vec!["thl://host1.alpha:2112/"],
            ip(127, 0, 1, 2),
        ),
        (
            "host3.alpha",
            "alpha",
            Role::Slave,
            vec!["thl://host1.alpha:2112/"],
            ip(127, 0, 1, 3),
        ),
        (
            "host1.beta",
            "beta",
            Role::Relay,
            vec!["thl://host1.alpha:2112/"],
            ip(127, 0, 2, 1),
        ),
        (
            "host2.beta",
            "beta",
            Role::Slave,
            vec!["thl://host1.beta:2112/"],
            ip(127, 0, 2, 2),
        ),
        (
            "HOST3.beta",
            "beta",
            Role::Slave,
            vec!["thl://host1.beta:2112/"],
            ip(127, 0, 2, 3),
        ),
    ];
    for (host, service, role, upstream, addr) in expect {
        let plan = d.service_plan(host)?;
        let s = one(&plan)?;
        assert_eq!((s.service.as_str(), s.role), (service, role), "{host}");
        assert_eq!(s.upstream, upstream, "{host}");
        assert_eq!(plan.address, addr, "{host}");
        assert_eq!(s.thl_listen, SocketAddr::new(addr, 2112), "{host}");
        // 0.0.0.0 + hosts file: the host's own address.
        assert_eq!(plan.rest_listen, Some(SocketAddr::new(addr, 8097)), "{host}");
        assert_eq!(plan.rest_user.as_deref(), Some("apiuser"));
        let lc = host.to_ascii_lowercase();
        assert_eq!(s.thl_dir, PathBuf::from(format!("/opt/continuent/{lc}/thl/{service}")));
        assert_eq!(
            s.catalog_dir,
            PathBuf::from(format!("/opt/continuent/{lc}/catalog/{service}"))
        );
        assert_eq!(
            (s.db.address, s.db.port, s.db.user.as_str(), s.db.password.expose()),
            (addr, 13306, "tungsten", "secret")
        );
        // The passwords never print (logs, panics).
        let shown = format!("{plan:?}");
        assert!(!shown.contains("secret") && shown.contains("<redacted>"), "{shown}");
        assert_eq!(s.settings.block_commit_size, 10);
        assert_eq!(s.settings.block_commit_interval, Duration::from_secs(1));
        assert_eq!(s.settings.thl_log_retention, Duration::from_secs(7 * 86_400));
    }
    Ok(())
}

#[test]
fn without_hosts_file_rest_address_and_dirs_are_as_written() -> Result<(), Box<dyn std::error::Error>> {
    let text = SEED.replace("[alpha]", "install-directory=/srv/tr\n[alpha]");
    let d = Deployment::parse(&text, "tungsten.ini")?;
    let s = d
        .settings(d.dataservice("alpha").ok_or("alpha")?)
        .map_err(|p| format!("{p:?}"))?;
    assert_eq!(s.rest_api_address, "0.0.0.0");
    // host names given as literal addresses resolve without any resolver.
    let text = text.replace("host1.alpha", "127.0.0.1");
    let d = Deployment::parse(&text, "tungsten.ini")?.with_resolver(Resolver::new(None).with_system(false));
    let plan = d.service_plan("127.0.0.1")?;
    assert_eq!(plan.rest_listen, Some(SocketAddr::new(ip(0, 0, 0, 0), 8097)));
    assert_eq!(one(&plan)?.thl_dir, PathBuf::from("/srv/tr/thl/alpha"));
    Ok(())
}

#[test]
fn third_cluster_chains_from_the_relay() -> Result<(), Box<dyn std::error::Error>> {
    let d = deployment(&format!("{SEED}{NORTH}"))?;
    d.validate()?;
    let db7 = d.service_plan("db7")?;
    let s = one(&db7)?;
    assert_eq!((s.service.as_str(), s.role), ("north", Role::Relay));
    assert_eq!(s.upstream, vec!["thl://host1.beta:2112/"]);
    for h in ["db8", "db9"] {
        let p = d.service_plan(h)?;
        let s = one(&p)?;
        assert_eq!(
            (s.role, s.upstream.clone()),
            (Role::Slave, vec!["thl://db7:2112/".to_owned()])
        );
    }
    Ok(())
}

#[test]
fn section_values_override_defaults_and_sources_use_their_own_port() -> Result<(), Box<dyn std::error::Error>> {
    let text = SEED
        .replace(
            "topology=clustered\nmaster=host1.alpha",
            "topology=clustered\nrepl-thl-port=2114\nmaster=host1.alpha",
        )
        .replace(
            "relay-source=alpha",
            "relay-source=alpha\nthl-port=2115\nreplication-port=3307\nthl-log-retention=12h\nlog-slave-updates",
        );
    let d = deployment(&text)?;
    d.validate()?;
    let relay = d.service_plan("host1.beta")?;
    let s = one(&relay)?;
    assert_eq!(s.upstream, vec!["thl://host1.alpha:2114/"]);
    assert_eq!(s.thl_listen.port(), 2115);
    assert_eq!(s.db.port, 3307);
    assert_eq!(s.settings.thl_log_retention, Duration::from_secs(12 * 3600));
    assert!(s.settings.log_slave_updates);
    assert_eq!(
        one(&d.service_plan("host2.beta")?)?.upstream,
        vec!["thl://host1.beta:2115/"]
    );
    assert_eq!(one(&d.service_plan("host2.alpha")?)?.db.port, 13306);
    Ok(())
}

#[test]
fn primary_and_replica_spellings() -> Result<(), Box<dyn std::error::Error>> {
    let d = deployment("[alpha]\nprimary=host1.alpha\nreplicas=host2.alpha\n")?;
    d.validate()?;
    assert_eq!(one(&d.service_plan("host1.alpha")?)?.role, Role::Master);
    assert_eq!(one(&d.service_plan("host2.alpha")?)?.role, Role::Slave);
    assert_eq!("primary".parse::<Role>(), Ok(Role::Master));
    assert_eq!("Replica".parse::<Role>(), Ok(Role::Slave));
    assert_eq!("relay".parse::<Role>(), Ok(Role::Relay));
    assert!("boss".parse::<Role>().is_err());
    Ok(())
}

#[test]
fn unknown_key_is_a_warning_with_section_and_line() -> Result<(), Box<dyn std::error::Error>> {
    let d = deployment(&SEED.replace("[beta]\n", "[beta]\nthl-prot=2113\n"))?;
    d.validate()?;
    let w = d.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].key.as_str(), w[0].section.as_str(), w[0].line),
        ("thl-prot", "beta", 13)
    );
    Ok(())
}

#[test]
fn unknown_host_and_unresolved_host() -> Result<(), Box<dyn std::error::Error>> {
    let d = deployment(SEED)?;
    assert!(matches!(
        d.service_plan("host9.alpha"),
        Err(ConfigError::UnknownHost { .. })
    ));
    let d = deployment(&SEED.replace("host3.alpha", "host3.nowhere"))?;
    let e = d
        .service_plan("host3.nowhere")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("sandbox.hosts"), "{e}");
    Ok(())
}

#[test]
fn a_host_is_named_by_its_ini_name_or_by_its_address() -> Result<(), Box<dyn std::error::Error>> {
    let d = deployment(SEED)?;
    assert_eq!(d.host_named("HOST1.beta")?, "host1.beta");
    assert_eq!(d.host_named("127.0.2.1")?, "host1.beta");
    assert_eq!(d.host_named(" 127.0.1.3 ")?, "host3.alpha");
    let plan = d.service_plan("127.0.1.1")?;
    assert_eq!((plan.host.as_str(), plan.address), ("host1.alpha", ip(127, 0, 1, 1)));
    let e = d
        .host_named("127.0.9.9")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("by name or by address") && e.contains("host1.alpha"), "{e}");
    // Two hosts of the ini on one address: the address names neither.
    let hosts = HostsFile::parse(
        &HOSTS.replace("127.0.1.2 host2.alpha", "127.0.1.1 host2.alpha"),
        "sandbox.hosts",
    )?;
    let d = Deployment::parse(SEED, "tungsten.ini")?.with_resolver(Resolver::new(Some(hosts)).with_system(false));
    assert!(matches!(
        d.host_named("127.0.1.1"),
        Err(ConfigError::AmbiguousAddress { hosts, .. }) if hosts == ["host1.alpha", "host2.alpha"]
    ));
    assert_eq!(d.host_named("host2.alpha")?, "host2.alpha", "a name is never ambiguous");
    Ok(())
}

fn problems_of(text: &str) -> Result<Vec<Problem>, ConfigError> {
    Ok(deployment(text)?.problems())
}

fn assert_one(problems: &[Problem], needle: &str, line: Option<usize>) {
    let hits: Vec<&Problem> = problems.iter().filter(|p| p.message.contains(needle)).collect();
    assert_eq!(hits.len(), 1, "{needle:?} in {problems:#?}");
    assert_eq!(hits[0].line, line, "{needle:?}: {:?}", hits[0]);
    assert!(!hits[0].fix.is_empty());
}

#[test]
fn validate_unknown_relay_source() -> Result<(), ConfigError> {
    let p = problems_of(&SEED.replace("relay-source=alpha", "relay-source=alfa"))?;
    assert_one(&p, "unknown dataservice \"alfa\"", Some(16));
    assert_eq!(p.len(), 1, "{p:#?}");
    Ok(())
}

#[test]
fn validate_host_in_two_dataservices() -> Result<(), ConfigError> {
    let p = problems_of(&SEED.replace("host1.beta,host2.beta,host3.beta", "host1.beta,host2.beta,host3.alpha"))?;
    assert_one(&p, "host host3.alpha is in several dataservices: alpha, beta", Some(12));
    Ok(())
}

#[test]
fn validate_dataservice_without_master_or_relay() -> Result<(), ConfigError> {
    let p = problems_of(&SEED.replace("master=host1.alpha\n", ""))?;
    assert_one(&p, "dataservice alpha has no master and no relay", Some(8));
    Ok(())
}

#[test]
fn validate_master_not_in_members() -> Result<(), ConfigError> {
    let p = problems_of(&SEED.replace("members=host1.alpha,", "members="))?;
    assert_one(&p, "master host1.alpha is not in members", Some(11));
    let p = problems_of(&SEED.replace("members=host1.beta,", "members="))?;
    assert_one(&p, "relay host1.beta is not in members", Some(15));
    Ok(())
}

#[test]
fn validate_composite_naming_missing_dataservice() -> Result<(), ConfigError> {
    let p = problems_of(&SEED.replace("composite-datasources=alpha,beta", "composite-datasources=alpha,delta"))?;
    assert_one(&p, "names dataservice \"delta\"", Some(18));
    Ok(())
}

#[test]
fn validate_relay_source_cycle() -> Result<(), ConfigError> {
    let text = format!(
        "{}{NORTH}",
        SEED.replace("master=host1.alpha", "relay=host1.alpha\nrelay-source=north")
    );
    let p = problems_of(&text)?;
    assert_one(&p, "relay-source cycle", Some(11));
    let cycle = p
        .iter()
        .find(|p| p.message.contains("cycle"))
        .map(|p| p.message.clone())
        .unwrap_or_default();
    assert!(cycle.contains("alpha -> north -> beta -> alpha"), "{cycle}");
    // A dataservice that is its own source.
    let p = problems_of(&SEED.replace("relay-source=alpha", "relay-source=beta"))?;
    assert_one(&p, "relay-source cycle: beta -> beta", Some(16));
    Ok(())
}

#[test]
fn validate_unresolvable_host() -> Result<(), ConfigError> {
    let p = problems_of(&SEED.replace("host3.beta", "host3.gone"))?;
    assert_one(&p, "host name host3.gone does not resolve", Some(12));
    assert!(p.iter().any(|p| p.fix.contains("sandbox.hosts")));
    Ok(())
}

#[test]
fn validate_bad_numbers_and_durations_name_key_and_line() -> Result<(), ConfigError> {
    let text = SEED
        .replace("replication-port=13306", "replication-port=13306x")
        .replace(
            "relay-source=alpha",
            "relay-source=alpha\nthl-log-retention=7days\nrepl-svc-applier-block-commit-size=-1\nthl-port",
        );
    let p = problems_of(&text)?;
    let got: Vec<(Option<&str>, Option<usize>)> = p.iter().map(|p| (p.key.as_deref(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            (Some("replication-port"), Some(4)),
            (Some("repl-svc-applier-block-commit-size"), Some(18)),
            (Some("thl-log-retention"), Some(17)),
            (Some("thl-port"), Some(19)),
        ],
        "{p:#?}"
    );
    // service_plan refuses the bad values too.
    let d = deployment(&text)?;
    assert!(matches!(d.service_plan("host2.beta"), Err(ConfigError::Invalid(_))));
    Ok(())
}

#[test]
fn validate_reports_every_problem_at_once() -> Result<(), ConfigError> {
    let text = SEED
        .replace("relay-source=alpha", "relay-source=alfa")
        .replace("master=host1.alpha\n", "")
        .replace("alpha,beta", "alpha,beta,omega")
        .replace("replication-port=13306", "replication-port=0");
    let d = deployment(&text)?;
    let err = d.validate().err().map(|e| e.to_string()).unwrap_or_default();
    for needle in [
        "replication-port",
        "no master and no relay",
        "\"alfa\"",
        "\"omega\"",
        "4 problem(s)",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
    Ok(())
}

#[test]
fn load_reads_ini_and_hosts_file() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let ini = dir.path().join("tungsten.ini");
    let hosts = dir.path().join("hosts");
    std::fs::write(&ini, SEED)?;
    std::fs::write(&hosts, HOSTS)?;
    let d = Deployment::load(&ini, Some(&hosts))?;
    assert_eq!(d.service_plan("host2.beta")?.address, ip(127, 0, 2, 2));
    let e = Deployment::load(&dir.path().join("missing.ini"), None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("missing.ini"), "{e}");
    let e = Deployment::parse("[a\nx=1", "t.ini")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("line 1") && e.contains("line 2"), "{e}");
    Ok(())
}

#[test]
fn apply_channels_default_to_four_by_key_and_stay_in_range() -> Result<(), Box<dyn std::error::Error>> {
    let channels = |extra: &str| -> Result<u32, Box<dyn std::error::Error>> {
        let d = deployment(&SEED.replace("relay-source=alpha", &format!("relay-source=alpha\n{extra}")))?;
        d.validate()?;
        Ok(one(&d.service_plan("host2.beta")?)?.settings.apply_channels)
    };
    assert_eq!(channels("")?, 4, "by key, 4 channels by default");
    assert_eq!(channels("channels=8")?, 8);
    assert_eq!(channels("svc-parallelization-type=key\nchannels=1")?, 1);
    assert_eq!(
        channels("svc-parallelization-type=none\nchannels=4")?,
        1,
        "none: one channel, as Tungsten"
    );
    assert_eq!(
        channels("svc-parallelization-type=disk")?,
        1,
        "by shard: 1 unless set, as Tungsten"
    );
    assert_eq!(channels("svc-parallelization-type=disk\nchannels=4")?, 4);
    assert_eq!(channels("svc-parallelization-type=memory\nchannels=2")?, 2);
    assert_eq!(channels("svc-parallelization-type=none\nchannels=8")?, 1);
    for bad in [
        "svc-parallelization-type=disk\nchannels=0",
        "svc-parallelization-type=disk\nchannels=65",
    ] {
        let d = deployment(&SEED.replace("relay-source=alpha", &format!("relay-source=alpha\n{bad}")))?;
        let e = d
            .validate()
            .err()
            .map(|e| e.to_string())
            .or_else(|| d.service_plan("host2.beta").err().map(|e| e.to_string()))
            .unwrap_or_default();
        assert!(e.contains("channels="), "{bad}: {e}");
    }
    let d = deployment(&SEED.replace(
        "relay-source=alpha",
        "relay-source=alpha\nsvc-parallelization-type=sideways",
    ))?;
    assert!(d.validate().is_err());
    Ok(())
}

#[test]
fn auto_enable_and_zero_row_policy_per_dataservice() -> Result<(), Box<dyn std::error::Error>> {
    let text = SEED.replace(
        "relay-source=alpha",
        "relay-source=alpha\nrepl-auto-enable=false\nsvc-fail-on-zero-row-update=stop",
    );
    let d = deployment(&text)?;
    d.validate()?;
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    let beta = one(&d.service_plan("host2.beta")?)?.settings.clone();
    assert!(!beta.auto_enable);
    assert_eq!(beta.zero_row_update, ZeroRowPolicy::Stop);
    let alpha = one(&d.service_plan("host2.alpha")?)?.settings.clone();
    assert!(alpha.auto_enable);
    assert_eq!(alpha.zero_row_update, ZeroRowPolicy::Warn);
    let bad = deployment(&SEED.replace(
        "relay-source=alpha",
        "relay-source=alpha\nsvc-fail-on-zero-row-update=sometimes",
    ))?;
    let refused = bad.validate().expect_err("an unknown policy is refused").to_string();
    assert!(
        refused.contains("[beta] svc-fail-on-zero-row-update: sometimes: use stop, warn, ignore"),
        "{refused}"
    );
    Ok(())
}

/// An address of this machine other than loopback, if it has a route out
/// (a connected UDP socket sends nothing).
fn a_local_non_loopback_address() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    Some(s.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

#[test]
fn this_host_is_the_given_one_else_the_one_with_an_address_of_this_machine() -> Result<(), ConfigError> {
    let d = deployment(SEED)?;
    assert_eq!(d.this_host(Some("127.0.2.1"))?, "host1.beta");
    // On one machine every host is on loopback: the tool cannot tell which
    // it is, and says so (unless the system host name is an ini host).
    if locate::system_host_name().is_none_or(|n| d.host_named(&n).is_err()) {
        let e = d.this_host(None).expect_err("all hosts are on loopback");
        assert!(
            matches!(&e, ConfigError::NotThisMachine { local, .. } if local.is_empty()),
            "{e}"
        );
        assert!(e.to_string().contains("pass --host NAME"), "{e}");
    }
    match a_local_non_loopback_address() {
        Some(addr) => {
            let hosts = HostsFile::parse(
                &HOSTS.replace("127.0.1.2 host2.alpha", &format!("{addr} host2.alpha")),
                "h",
            )?;
            let d =
                Deployment::parse(SEED, "tungsten.ini")?.with_resolver(Resolver::new(Some(hosts)).with_system(false));
            assert_eq!(d.this_host(None)?, "host2.alpha");
        }
        None => eprintln!("this machine has no route out: the address case is not exercised"),
    }
    Ok(())
}
