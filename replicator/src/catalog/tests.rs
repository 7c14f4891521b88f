use thl::event::ColumnSpec;
use thl::seqno::{Epoch, Seqno};

use super::*;
use crate::config::Role;

fn col(index: u16, name: &str, key: bool) -> ColumnSpec {
    ColumnSpec {
        index,
        name: name.to_owned(),
        type_code: 3,
        type_meta: 0,
        unsigned: false,
        nullable: !key,
        key,
        collation: None,
        type_desc: "int".to_owned(),
    }
}

fn def(names: &[&str]) -> TableDef {
    TableDef {
        columns: names
            .iter()
            .enumerate()
            .map(|(i, n)| col(i as u16, n, i == 0))
            .collect(),
        primary_key: vec![0],
    }
}

fn epoch(e: i64, src: &str) -> EpochRecord {
    EpochRecord {
        start: None,
        epoch: Epoch(e),
        first_seqno: Seqno(e),
        source_id: src.to_owned(),
        time_ms: 1000 + e,
    }
}

#[test]
fn reopen_keeps_data() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    {
        let c = Catalog::open(dir.path())?;
        c.record_epoch(&epoch(0, "host1.alpha"))?;
        c.record_table("shop", "orders", Seqno(5), &def(&["id", "qty"]))?;
        c.set_role(&RoleRecord {
            role: Role::Slave,
            upstream: vec!["thl://host1.alpha:2112/".into()],
            time_ms: 7,
        })?;
        c.acknowledge("host2.alpha", Seqno(41), 9)?;
        c.set_extractor_position(&ExtractorPosition {
            seqno: Seqno(3),
            event_id: "mysql-bin.000001:120;0".into(),
            time_ms: 1,
        })?;
    }
    let c = Catalog::open(dir.path())?;
    assert_eq!(c.epochs()?, vec![epoch(0, "host1.alpha")]);
    assert_eq!(c.table_at("shop", "orders", Seqno(5))?, Some(def(&["id", "qty"])));
    let role = c.role()?.map(|r| (r.role, r.upstream));
    assert_eq!(role, Some((Role::Slave, vec!["thl://host1.alpha:2112/".to_owned()])));
    assert_eq!(c.min_acknowledged()?, Some(Seqno(41)));
    assert_eq!(c.extractor_position()?.map(|p| p.seqno), Some(Seqno(3)));
    Ok(())
}

#[test]
fn second_opener_fails_with_lock_error() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    let _first = Catalog::open(dir.path())?;
    match Catalog::open(dir.path()) {
        Err(e @ CatalogError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("already open"), "{msg}");
            assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    Ok(())
}

#[test]
fn table_at_follows_alters_and_drop_recreate() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    let c = Catalog::open(dir.path())?;
    let v1 = def(&["id"]);
    let v2 = def(&["id", "a"]);
    let v3 = def(&["id", "a", "b"]);
    let v4 = def(&["k"]);
    c.record_table("db", "t", Seqno(10), &v1)?;
    c.record_table("db", "t", Seqno(20), &v2)?; // ALTER
    c.record_table("db", "t", Seqno(30), &v3)?; // ALTER
    c.record_drop("db", "t", Seqno(40))?;
    c.record_table("db", "t", Seqno(50), &v4)?; // re-created
                                                // Neighbours that must not leak into db.t.
    c.record_table("db", "t2", Seqno(15), &v4)?;
    c.record_table("db", "s", Seqno(25), &v4)?;
    c.record_table("d", "bt", Seqno(5), &v4)?;

    assert_eq!(c.table_at("db", "t", Seqno(9))?, None);
    assert_eq!(c.table_at("db", "t", Seqno(10))?, Some(v1.clone()));
    assert_eq!(c.table_at("db", "t", Seqno(19))?, Some(v1));
    assert_eq!(c.table_at("db", "t", Seqno(20))?, Some(v2.clone()));
    assert_eq!(c.table_at("db", "t", Seqno(29))?, Some(v2));
    assert_eq!(c.table_at("db", "t", Seqno(39))?, Some(v3));
    assert_eq!(c.table_at("db", "t", Seqno(40))?, None);
    assert_eq!(c.table_at("db", "t", Seqno(49))?, None);
    assert_eq!(c.table_at("db", "t", Seqno(50))?, Some(v4.clone()));
    assert_eq!(c.table_at("db", "t", Seqno(i64::MAX))?, Some(v4.clone()));
    assert_eq!(c.table_at("db", "nope", Seqno(100))?, None);
    assert_eq!(c.table_at("db", "t2", Seqno(14))?, None);
    assert_eq!(c.table_at("db", "t2", Seqno(15))?, Some(v4));
    assert_eq!(c.table_history("db", "t")?.len(), 5);
    Ok(())
}

#[test]
fn rename_is_drop_and_create_in_one_batch() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    let c = Catalog::open(dir.path())?;
    let d = def(&["id"]);
    c.record_table("db", "old", Seqno(1), &d)?;
    c.apply_schema_changes(
        Seqno(7),
        &[
            SchemaChange::Drop {
                schema: "db".into(),
                table: "old".into(),
            },
            SchemaChange::Define {
                schema: "db".into(),
                table: "new".into(),
                def: d.clone(),
            },
        ],
    )?;
    assert_eq!(c.table_at("db", "old", Seqno(6))?, Some(d.clone()));
    assert_eq!(c.table_at("db", "old", Seqno(7))?, None);
    assert_eq!(c.table_at("db", "new", Seqno(6))?, None);
    assert_eq!(c.table_at("db", "new", Seqno(7))?, Some(d));
    assert!(matches!(
        c.table_at("a\0b", "t", Seqno(1)),
        Err(CatalogError::InvalidName { .. })
    ));
    Ok(())
}

#[test]
fn epochs_in_order() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    let c = Catalog::open(dir.path())?;
    assert_eq!(c.last_epoch()?, None);
    c.record_epoch(&epoch(0, "host1.alpha"))?;
    c.record_epoch(&epoch(120, "host1.alpha"))?;
    c.record_epoch(&epoch(120, "host1.alpha"))?; // repeated after a restart: no-op
    c.record_epoch(&epoch(4500, "host2.alpha"))?;
    let got: Vec<i64> = c.epochs()?.iter().map(|e| e.epoch.0).collect();
    assert_eq!(got, vec![0, 120, 4500]);
    assert_eq!(c.last_epoch()?.map(|e| e.epoch), Some(Epoch(4500)));
    assert_eq!(c.epoch_at(Seqno(119))?.map(|e| e.epoch), Some(Epoch(0)));
    assert_eq!(c.epoch_at(Seqno(120))?.map(|e| e.epoch), Some(Epoch(120)));
    assert_eq!(
        c.epoch_at(Seqno(9999))?.map(|e| e.source_id),
        Some("host2.alpha".to_owned())
    );
    assert!(matches!(
        c.record_epoch(&epoch(100, "x")),
        Err(CatalogError::EpochOrder { .. })
    ));
    assert!(matches!(
        c.record_epoch(&epoch(120, "other")),
        Err(CatalogError::EpochOrder { .. })
    ));

    c.record_table("db", "t", Seqno(4600), &def(&["id"]))?;
    c.truncate_from(Seqno(4500))?;
    assert_eq!(c.last_epoch()?.map(|e| e.epoch), Some(Epoch(120)));
    assert_eq!(c.table_at("db", "t", Seqno(5000))?, None);
    Ok(())
}

#[test]
fn acks_and_min() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    let c = Catalog::open(dir.path())?;
    assert_eq!(c.min_acknowledged()?, None);
    c.acknowledge("host2.alpha", Seqno(100), 1)?;
    c.acknowledge("host3.alpha", Seqno(80), 2)?;
    c.acknowledge("host1.beta", Seqno(95), 3)?;
    assert_eq!(c.min_acknowledged()?, Some(Seqno(80)));
    c.acknowledge("host3.alpha", Seqno(120), 4)?; // moves on
    assert_eq!(c.min_acknowledged()?, Some(Seqno(95)));
    c.forget_client("host1.beta")?;
    assert_eq!(c.min_acknowledged()?, Some(Seqno(100)));
    let clients: Vec<String> = c.acknowledged()?.into_iter().map(|a| a.client).collect();
    assert_eq!(clients, vec!["host2.alpha".to_owned(), "host3.alpha".to_owned()]);
    Ok(())
}

#[test]
fn newer_value_version_is_a_typed_error() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|source| CatalogError::CreateDir {
        path: "tmp".into(),
        source,
    })?;
    let c = Catalog::open(dir.path())?;
    c.db.put_cf(c.cf(CF_META), KEY_ROLE, b"\x02{}")
        .map_err(|source| c.db_err("write", CF_META, KEY_ROLE, source))?;
    match c.role() {
        Err(e @ CatalogError::UnsupportedVersion { version: 2, .. }) => {
            assert!(e.to_string().contains("meta/role"))
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    Ok(())
}

#[test]
fn a_new_catalog_directory_is_private() -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("catalog").join("alpha");
    drop(Catalog::open(&dir)?);
    let mode = std::fs::metadata(&dir).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    Ok(())
}
