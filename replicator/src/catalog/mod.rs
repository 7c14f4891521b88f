//! The replicator's catalog: a small RocksDB database, one per replication
//! service directory, holding what is not the THL itself and must survive
//! restarts (who writes what: `ARCHITECTURE.md` §5).
//!
//! # Invariants
//!
//! * One opener per directory: RocksDB's `LOCK` file is held while a
//!   [`Catalog`] is open; a second [`Catalog::open`] of the same directory (in
//!   this process or another) fails with [`CatalogError::Locked`].
//! * Epochs are recorded in increasing epoch number with non-decreasing first
//!   seqno; re-recording an identical epoch is a no-op (a restart may repeat
//!   it), a conflicting one is [`CatalogError::EpochOrder`].
//! * The definition of a table at seqno `s` is the entry of that table with
//!   the greatest seqno `<= s`; a drop marker there means the table does not
//!   exist at `s`. `RENAME` is recorded by the caller as drop + define, in
//!   one [`Catalog::apply_schema_changes`] call (one write batch).
//! * Everything that must survive a crash (epochs, schema history, role,
//!   truncation) is written with a synced WAL write. Acknowledgements and the
//!   extractor position are written without fsync: losing the last one only
//!   makes retention more conservative or the restart position older, and the
//!   THL is the source of truth for positions.
//! * Writes that belong together use one `WriteBatch`.
//! * Compression is off in every column family, so a catalog written by the
//!   Debian `librocksdb` opens with the bundled build (no compression
//!   libraries) and the reverse.
//!
//! # Column families and layouts
//!
//! Integers in keys are 8 bytes big-endian with the sign bit flipped ("ord
//! i64"), so byte order is numeric order. Every value is one format version
//! byte (`0x01`) followed by a serde_json document of the record type named.
//!
//! | column family | key | value (version 1, JSON) |
//! |---|---|---|
//! | `meta` | `b"format"` | `1` (catalog layout version) |
//! | `meta` | `b"role"` | [`RoleRecord`] `{"role":"slave","upstream":["thl://h:2112/"],"time_ms":..}` |
//! | `meta` | `b"extractor_position"` | [`ExtractorPosition`] `{"seqno":..,"event_id":"..","time_ms":..}` |
//! | `epochs` | ord i64 epoch number | [`EpochRecord`] `{"epoch":..,"first_seqno":..,"source_id":"..","time_ms":..}` |
//! | `schema` | schema UTF-8, `0x00`, table UTF-8, `0x00`, ord i64 seqno | [`SchemaEntry`]: `{"defined":{"columns":[ColumnSpec..],"primary_key":[0]}}` or `"dropped"` |
//! | `acks` | client id UTF-8 | [`Ack`] `{"client":"..","seqno":..,"time_ms":..}` |
//!
//! Schema and table names must not contain NUL (MySQL identifiers cannot),
//! which makes the `schema` key prefix of one table unambiguous.
//!
//! # Building against RocksDB
//!
//! By default `librocksdb-sys` links Debian's `librocksdb` (7.8) because
//! `.cargo/config.toml` sets `ROCKSDB_LIB_DIR`. To build the bundled RocksDB
//! 8.1 from source instead (about 25 minutes on 2 cores), build with
//! `ROCKSDB_COMPILE=1 cargo build --features replicator/bundled-rocksdb`:
//! `librocksdb-sys`' build script compiles from source whenever
//! `ROCKSDB_COMPILE` is `1`/`true`, even with `ROCKSDB_LIB_DIR` set (an empty
//! `ROCKSDB_LIB_DIR` would not work: any set value means "link from there").
//! The feature itself only makes the build fail early when `ROCKSDB_COMPILE`
//! is missing, so the two are never out of step.

mod error;
mod keys;
mod records;

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use serde::{de::DeserializeOwned, Serialize};
use thl::seqno::Seqno;

pub use error::{CatalogError, Result};
pub use records::{
    Ack, EpochRecord, ExtractorPosition, RoleRecord, SchemaChange, SchemaEntry, TableDef, VALUE_VERSION,
};

#[cfg(feature = "bundled-rocksdb")]
const _: () = {
    if option_env!("ROCKSDB_COMPILE").is_none() && option_env!("ROCKSDB_LIB_DIR").is_some() {
        panic!(
            "feature bundled-rocksdb: set ROCKSDB_COMPILE=1 as well, otherwise librocksdb-sys \
             still links the system library named by ROCKSDB_LIB_DIR (.cargo/config.toml)"
        );
    }
};

pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_EPOCHS: &str = "epochs";
pub(crate) const CF_SCHEMA: &str = "schema";
pub(crate) const CF_ACKS: &str = "acks";
const ALL_CFS: [&str; 4] = [CF_META, CF_EPOCHS, CF_SCHEMA, CF_ACKS];

const KEY_FORMAT: &[u8] = b"format";
const KEY_ROLE: &[u8] = b"role";
const KEY_EXTRACTOR: &[u8] = b"extractor_position";
/// The catalog layout version (the set of column families and key layouts).
pub const LAYOUT_VERSION: u32 = 1;

/// An open catalog. Cheap reads; every method takes `&self` (RocksDB is
/// thread-safe), so one `Catalog` can be shared behind an `Arc`.
pub struct Catalog {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn cf_options() -> Options {
    let mut o = Options::default();
    o.set_compression_type(rocksdb::DBCompressionType::None);
    o
}

/// Creates `dir` (and missing parents) mode 0700; nothing when it exists.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

impl Catalog {
    /// Opens the catalog in `dir`, creating the directory and the database
    /// when missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<Catalog> {
        let path = dir.as_ref().to_path_buf();
        // The catalog's files are RocksDB's (created with the umask): a
        // 0700 directory keeps them the replicator's user's alone.
        create_private_dir(&path).map_err(|source| CatalogError::CreateDir {
            path: path.clone(),
            source,
        })?;
        let mut opts = cf_options();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        opts.set_max_log_file_size(4 << 20);
        let cfs = ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, cf_options()));
        let db = DB::open_cf_descriptors(&opts, &path, cfs).map_err(|source| {
            if source.kind() == rocksdb::ErrorKind::IOError && source.to_string().to_ascii_lowercase().contains("lock")
            {
                CatalogError::Locked {
                    path: path.clone(),
                    source,
                }
            } else {
                CatalogError::Open {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let cat = Catalog { db, path };
        match cat.get::<u32>(CF_META, KEY_FORMAT)? {
            None => cat.put(CF_META, KEY_FORMAT, &LAYOUT_VERSION, true)?,
            Some(v) if v <= LAYOUT_VERSION => {}
            Some(v) => {
                return Err(CatalogError::Corrupt {
                    path: cat.path.clone(),
                    key: keys::render(CF_META, KEY_FORMAT),
                    reason: format!("layout version {v} is newer than this build's {LAYOUT_VERSION}"),
                })
            }
        }
        Ok(cat)
    }

    /// The catalog directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // ---- epochs -------------------------------------------------------

    /// Records the start of a master session. Synced.
    pub fn record_epoch(&self, rec: &EpochRecord) -> Result<()> {
        let order_err = |reason: String| CatalogError::EpochOrder {
            path: self.path.clone(),
            epoch: rec.epoch,
            reason,
        };
        if let Some(existing) = self.get::<EpochRecord>(CF_EPOCHS, &keys::ord_i64(rec.epoch.0))? {
            if existing == *rec {
                return Ok(());
            }
            return Err(order_err(format!("already recorded as {existing:?}")));
        }
        if let Some(last) = self.last_epoch()? {
            if last.epoch > rec.epoch {
                return Err(order_err(format!("older than the last recorded epoch {}", last.epoch)));
            }
            if last.first_seqno > rec.first_seqno {
                return Err(order_err(format!(
                    "first seqno {} is before the last epoch's first seqno {}",
                    rec.first_seqno, last.first_seqno
                )));
            }
        }
        self.put(CF_EPOCHS, &keys::ord_i64(rec.epoch.0), rec, true)
    }

    /// All epochs, in increasing epoch number.
    pub fn epochs(&self) -> Result<Vec<EpochRecord>> {
        self.scan(CF_EPOCHS, IteratorMode::Start, |_| true)
    }

    /// The most recent epoch.
    pub fn last_epoch(&self) -> Result<Option<EpochRecord>> {
        Ok(self.scan_first(CF_EPOCHS, IteratorMode::End)?.map(|(_, v)| v))
    }

    /// The epoch in force at `seqno`: the last one whose first seqno is
    /// `<= seqno`.
    pub fn epoch_at(&self, seqno: Seqno) -> Result<Option<EpochRecord>> {
        Ok(self.epochs()?.into_iter().rev().find(|e| e.first_seqno <= seqno))
    }

    // ---- schema history -----------------------------------------------

    /// Records a table definition in force from `seqno` on. Synced.
    pub fn record_table(&self, schema: &str, table: &str, seqno: Seqno, def: &TableDef) -> Result<()> {
        self.apply_schema_changes(
            seqno,
            &[SchemaChange::Define {
                schema: schema.to_owned(),
                table: table.to_owned(),
                def: def.clone(),
            }],
        )
    }

    /// Records that a table is dropped from `seqno` on. Synced.
    pub fn record_drop(&self, schema: &str, table: &str, seqno: Seqno) -> Result<()> {
        self.apply_schema_changes(
            seqno,
            &[SchemaChange::Drop {
                schema: schema.to_owned(),
                table: table.to_owned(),
            }],
        )
    }

    /// Records the schema changes of one transaction at `seqno`, in one
    /// synced write batch. A later change of the same table in the list
    /// wins.
    pub fn apply_schema_changes(&self, seqno: Seqno, changes: &[SchemaChange]) -> Result<()> {
        let cf = self.cf(CF_SCHEMA);
        let mut batch = WriteBatch::default();
        for ch in changes {
            let (schema, table, entry) = match ch {
                SchemaChange::Define { schema, table, def } => (schema, table, SchemaEntry::Defined(def.clone())),
                SchemaChange::Drop { schema, table } => (schema, table, SchemaEntry::Dropped),
            };
            self.check_name(schema)?;
            self.check_name(table)?;
            batch.put_cf(cf, keys::schema_key(schema, table, seqno), records::encode(&entry));
        }
        self.write(
            batch,
            true,
            CF_SCHEMA,
            format!("{} changes at seqno {seqno}", changes.len()),
        )
    }

    /// The definition of `schema.table` in force at `seqno`, or `None` when
    /// the table is unknown or dropped at that seqno.
    pub fn table_at(&self, schema: &str, table: &str, seqno: Seqno) -> Result<Option<TableDef>> {
        self.check_name(schema)?;
        self.check_name(table)?;
        let prefix = keys::table_prefix(schema, table);
        let key = keys::schema_key(schema, table, seqno);
        let found = self.scan_first::<SchemaEntry>(CF_SCHEMA, IteratorMode::From(&key, Direction::Reverse))?;
        Ok(match found {
            Some((k, SchemaEntry::Defined(def))) if k.starts_with(&prefix) && k.len() == prefix.len() + 8 => Some(def),
            _ => None,
        })
    }

    /// The whole history of one table, by seqno (`None` = drop marker).
    pub fn table_history(&self, schema: &str, table: &str) -> Result<Vec<(i64, Option<TableDef>)>> {
        self.check_name(schema)?;
        self.check_name(table)?;
        let prefix = keys::table_prefix(schema, table);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_SCHEMA), IteratorMode::From(&prefix, Direction::Forward))
        {
            let (k, v) = item.map_err(|source| self.db_err("iterate", CF_SCHEMA, &prefix, source))?;
            if !k.starts_with(&prefix) {
                break;
            }
            let seqno =
                keys::from_ord_i64(&k[prefix.len()..]).ok_or_else(|| self.corrupt(CF_SCHEMA, &k, "bad seqno"))?;
            let entry: SchemaEntry = self.decode(CF_SCHEMA, &k, &v)?;
            out.push((
                seqno,
                match entry {
                    SchemaEntry::Defined(d) => Some(d),
                    SchemaEntry::Dropped => None,
                },
            ));
        }
        Ok(out)
    }

    /// Forgets everything recorded at or after `seqno` (epochs starting
    /// there, schema entries there), in one synced batch: used when the THL
    /// is truncated (`trepctl reset`, diverged history).
    pub fn truncate_from(&self, seqno: Seqno) -> Result<()> {
        let mut batch = WriteBatch::default();
        for e in self.epochs()? {
            if e.first_seqno >= seqno {
                batch.delete_cf(self.cf(CF_EPOCHS), keys::ord_i64(e.epoch.0));
            }
        }
        for item in self.db.iterator_cf(self.cf(CF_SCHEMA), IteratorMode::Start) {
            let (k, _) = item.map_err(|source| self.db_err("iterate", CF_SCHEMA, b"", source))?;
            let (_, _, s) = keys::split_schema_key(&k).ok_or_else(|| self.corrupt(CF_SCHEMA, &k, "bad key"))?;
            if s >= seqno.0 {
                batch.delete_cf(self.cf(CF_SCHEMA), &k);
            }
        }
        self.write(batch, true, CF_SCHEMA, format!("truncate from seqno {seqno}"))
    }

    // ---- role -----------------------------------------------------------

    /// Stores the role and upstream set by `trepctl setrole`. Synced.
    pub fn set_role(&self, rec: &RoleRecord) -> Result<()> {
        self.put(CF_META, KEY_ROLE, rec, true)
    }

    /// The stored role, if `setrole` was ever used.
    pub fn role(&self) -> Result<Option<RoleRecord>> {
        self.get(CF_META, KEY_ROLE)
    }

    // ---- downstream acknowledgements ------------------------------------

    /// Records the position a downstream reader has acknowledged (not
    /// synced; see the module invariants).
    pub fn acknowledge(&self, client: &str, seqno: Seqno, time_ms: i64) -> Result<()> {
        let rec = Ack {
            client: client.to_owned(),
            seqno,
            time_ms,
        };
        self.put(CF_ACKS, client.as_bytes(), &rec, false)
    }

    /// Forgets a reader (it no longer holds back retention). Synced.
    pub fn forget_client(&self, client: &str) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_ACKS), client.as_bytes());
        self.write(batch, true, CF_ACKS, client.to_owned())
    }

    /// Every acknowledged position, by client id.
    pub fn acknowledged(&self) -> Result<Vec<Ack>> {
        self.scan(CF_ACKS, IteratorMode::Start, |_| true)
    }

    /// The smallest acknowledged seqno over all readers: THL files holding
    /// only seqnos above it must be retained. `None` when nobody acked.
    pub fn min_acknowledged(&self) -> Result<Option<Seqno>> {
        Ok(self.acknowledged()?.iter().map(|a| a.seqno).min())
    }

    // ---- extractor position ---------------------------------------------

    /// Stores the extractor's last extracted position (a hint, not synced).
    pub fn set_extractor_position(&self, pos: &ExtractorPosition) -> Result<()> {
        self.put(CF_META, KEY_EXTRACTOR, pos, false)
    }

    /// The stored extractor position.
    pub fn extractor_position(&self) -> Result<Option<ExtractorPosition>> {
        self.get(CF_META, KEY_EXTRACTOR)
    }

    // ---- helpers ----------------------------------------------------------

    fn cf(&self, name: &str) -> &ColumnFamily {
        // Every name in ALL_CFS is opened (or created) by `open`, so the
        // handle exists for the lifetime of the DB.
        self.db
            .cf_handle(name)
            .expect("catalog column family opened by Catalog::open")
    }

    fn check_name(&self, name: &str) -> Result<()> {
        if name.as_bytes().contains(&0) {
            return Err(CatalogError::InvalidName {
                path: self.path.clone(),
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    fn db_err(&self, op: &'static str, cf: &str, key: &[u8], source: rocksdb::Error) -> CatalogError {
        CatalogError::Db {
            path: self.path.clone(),
            op,
            key: keys::render(cf, key),
            source,
        }
    }

    fn corrupt(&self, cf: &str, key: &[u8], reason: &str) -> CatalogError {
        CatalogError::Corrupt {
            path: self.path.clone(),
            key: keys::render(cf, key),
            reason: reason.to_owned(),
        }
    }

    fn decode<T: DeserializeOwned>(&self, cf: &str, key: &[u8], bytes: &[u8]) -> Result<T> {
        records::decode(bytes).map_err(|e| match e {
            records::DecodeError::Version(version) => CatalogError::UnsupportedVersion {
                path: self.path.clone(),
                key: keys::render(cf, key),
                version,
                supported: VALUE_VERSION,
            },
            records::DecodeError::Empty => self.corrupt(cf, key, "empty value"),
            records::DecodeError::Json(j) => self.corrupt(cf, key, &j.to_string()),
        })
    }

    fn get<T: DeserializeOwned>(&self, cf: &str, key: &[u8]) -> Result<Option<T>> {
        match self.db.get_cf(self.cf(cf), key) {
            Ok(Some(v)) => self.decode(cf, key, &v).map(Some),
            Ok(None) => Ok(None),
            Err(source) => Err(self.db_err("read", cf, key, source)),
        }
    }

    fn put<T: Serialize>(&self, cf: &str, key: &[u8], value: &T, sync: bool) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(cf), key, records::encode(value));
        self.write(batch, sync, cf, keys::render(cf, key))
    }

    fn write(&self, batch: WriteBatch, sync: bool, cf: &str, what: String) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo).map_err(|source| CatalogError::Db {
            path: self.path.clone(),
            op: "write",
            key: format!("{cf}: {what}"),
            source,
        })
    }

    fn scan<T: DeserializeOwned>(
        &self,
        cf: &str,
        mode: IteratorMode<'_>,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf), mode) {
            let (k, v) = item.map_err(|source| self.db_err("iterate", cf, b"", source))?;
            if keep(&k) {
                out.push(self.decode(cf, &k, &v)?);
            }
        }
        Ok(out)
    }

    fn scan_first<T: DeserializeOwned>(&self, cf: &str, mode: IteratorMode<'_>) -> Result<Option<(Box<[u8]>, T)>> {
        match self.db.iterator_cf(self.cf(cf), mode).next() {
            None => Ok(None),
            Some(Err(source)) => Err(self.db_err("iterate", cf, b"", source)),
            Some(Ok((k, v))) => {
                let rec = self.decode(cf, &k, &v)?;
                Ok(Some((k, rec)))
            }
        }
    }
}

#[cfg(test)]
mod tests;
