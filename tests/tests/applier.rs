use mysql_async::prelude::Queryable;
use mysql_async::Value;
use tests::sandbox::{localhost_specs, Sandbox};

async fn try_q(c: &mut mysql_async::Conn, sql: &str) {
    match c.query::<mysql_async::Row, _>(sql).await {
        Ok(rows) => println!("OK {sql}: {:?}", rows.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>()),
        Err(e) => println!("ERR {sql}: {e}"),
    }
}
async fn try_e(c: &mut mysql_async::Conn, sql: &str, p: Vec<Value>) {
    match c.exec_drop(sql, p).await {
        Ok(()) => println!("OK {sql} affected={} warnings={}", c.affected_rows(), c.get_warnings()),
        Err(e) => println!("ERR {sql}: {e}"),
    }
}

#[tokio::test]
async fn experiment() {
    let sb = Sandbox::start(localhost_specs(1).unwrap()).await.unwrap();
    let i = &sb.instances()[0];
    let mut c = mysql_async::Conn::new(i.opts()).await.unwrap();
    try_q(&mut c, "SET @@session.character_set_client=33,@@session.collation_connection=33,@@session.collation_server=8").await;
    try_q(&mut c, "SELECT @@character_set_client, @@collation_connection, @@collation_server").await;
    try_q(&mut c, "SET @@session.character_set_client=63").await;
    try_q(&mut c, "SELECT @@character_set_client, @@collation_connection").await;
    try_q(&mut c, "SET @@session.lc_time_names=0, @@session.sql_mode='NO_AUTO_CREATE_USER,IGNORE_BAD_TABLE_OPTIONS,POSTGRESQL,PAD_CHAR_TO_FULL_LENGTH,EMPTY_STRING_IS_NULL,SIMULTANEOUS_ASSIGNMENT,TIME_ROUND_FRACTIONAL'").await;
    try_q(&mut c, "SELECT @@sql_mode").await;
    try_q(&mut c, "SET @@session.sql_mode='NO_AUTO_VALUE_ON_ZERO', @@session.time_zone='+00:00', @@session.timestamp=1700000000.123456").await;
    try_q(&mut c, "SELECT NOW(6)").await;
    try_q(&mut c, "CREATE DATABASE x").await;
    try_q(&mut c, "CREATE TABLE x.t (id INT PRIMARY KEY, l VARCHAR(10) CHARACTER SET latin1, u VARCHAR(10) CHARACTER SET utf8mb4, g GEOMETRY, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, e ENUM('a','b'), b BIT(64), y YEAR, tm TIME(6))").await;
    let pt: Vec<u8> = { let mut v = vec![0,0,0,0, 1, 1,0,0,0]; v.extend(1.0f64.to_le_bytes()); v.extend(2.0f64.to_le_bytes()); v };
    try_e(&mut c, "INSERT INTO x.t (id,l,u,g,d,dt,ts,e,b,y,tm) VALUES (?,?,?,?,?,?,?,?,?,?,?)", vec![
        Value::Int(1), Value::Bytes(vec![0xe9, b'a']), Value::Bytes("é😀".as_bytes().to_vec()), Value::Bytes(pt.clone()),
        Value::Date(0,0,0,0,0,0,0), Value::Date(0,0,0,0,0,0,0), Value::Date(0,0,0,0,0,0,0), Value::UInt(0),
        Value::Bytes(vec![0xff;8]), Value::UInt(0), Value::Time(true, 34, 22, 59, 59, 999999)]).await;
    try_e(&mut c, "INSERT INTO x.t (id,d,dt,ts) VALUES (?,?,?,?)", vec![
        Value::Int(2), Value::Date(2020,0,0,0,0,0,0), Value::Date(2020,2,0,0,0,0,5), Value::Date(1970,1,1,0,0,1,0)]).await;
    try_q(&mut c, "SHOW WARNINGS").await;
    try_q(&mut c, "SELECT id, HEX(l), HEX(u), ST_AsText(g), ST_SRID(g), d, dt, ts, e+0, HEX(b), y, tm FROM x.t").await;
    try_e(&mut c, "UPDATE x.t SET l=? WHERE id=?", vec![Value::Bytes(vec![0xe9, b'a']), Value::Int(1)]).await;
    try_e(&mut c, "UPDATE x.t SET l=? WHERE u<=>? AND g<=>? AND e<=>?", vec![Value::Bytes(vec![0xe9, b'a']), Value::Bytes("é😀".as_bytes().to_vec()), Value::Bytes(pt), Value::UInt(0)]).await;
    try_q(&mut c, "SET @@session.character_set_client=45").await;
    try_e(&mut c, "INSERT INTO x.t (id,l) VALUES (?,?)", vec![Value::Int(3), Value::Bytes(vec![0xe9])]).await;
    try_q(&mut c, "SELECT HEX(l) FROM x.t WHERE id=3").await;
    try_q(&mut c, "SET sql_log_bin=0").await;
}
