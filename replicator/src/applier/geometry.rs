//! A geometry-typed user variable as SQL: the expression that gives the
//! variable the value *and the data type* it had on the source.
//!
//! MariaDB logs such a variable (`SET @p = POINT(1,1)`) as its internal
//! bytes (SRID `u32` little-endian, then WKB) and the type's name (`point`,
//! `linestring`, ..., `geometry`). A hex literal would make the variable a
//! string, and `CREATE TABLE t AS SELECT @p` would then make a `longblob`
//! column; `ST_GeomFromWKB` gives the value but the type `geometry`. Only
//! the constructors (`Point(x, y)`, `LineString(...)`, ...) give the
//! specific types, so a variable of a specific type with SRID 0 is rebuilt
//! from its WKB with them; `geometry`, and any variable with another SRID
//! (which the constructors cannot carry), use `ST_GeomFromWKB(wkb, srid)`.
//!
//! Invariants: doubles are written in their shortest form with an exponent,
//! which the server reads as the same DOUBLE; every count is checked
//! against the bytes left before anything is built from it; nesting is
//! bounded ([`MAX_DEPTH`]); malformed bytes give `ST_GeomFromWKB`, whose
//! error the server reports.

use super::session::hex;

/// Collections nested deeper than this are left to `ST_GeomFromWKB`.
const MAX_DEPTH: usize = 32;

/// The SQL expression for a user variable of MariaDB data type `data_type`
/// holding `value` (internal geometry bytes); `None` when `data_type` is
/// not a geometry type.
pub fn user_var_expression(data_type: &str, value: &[u8]) -> Option<String> {
    const SPECIFIC: [&str; 7] = [
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    ];
    let data_type = data_type.to_ascii_lowercase();
    if data_type != "geometry" && !SPECIFIC.contains(&data_type.as_str()) {
        return None;
    }
    let generic = || {
        let (srid, wkb) = match value.split_first_chunk::<4>() {
            Some((srid, wkb)) => (u32::from_le_bytes(*srid), wkb),
            None => (0, value),
        };
        format!("ST_GeomFromWKB({}, {srid})", hex(wkb))
    };
    let Some((srid, wkb)) = value.split_first_chunk::<4>() else {
        return Some(generic());
    };
    if data_type == "geometry" || u32::from_le_bytes(*srid) != 0 {
        return Some(generic());
    }
    let mut r = Wkb { bytes: wkb, pos: 0 };
    match r.geometry(0) {
        Some(sql) if r.pos == wkb.len() => Some(sql),
        _ => Some(generic()),
    }
}

/// A reader of WKB; every method returns `None` on malformed input.
struct Wkb<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Wkb<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.bytes.get(self.pos..self.pos.checked_add(N)?)?;
        self.pos += N;
        b.try_into().ok()
    }

    fn u32(&mut self, little: bool) -> Option<u32> {
        let b = self.take::<4>()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool) -> Option<f64> {
        let b = self.take::<8>()?;
        let v = if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        };
        v.is_finite().then_some(v)
    }

    /// A count of items of at least `min_len` bytes each, checked against
    /// the bytes left.
    fn count(&mut self, little: bool, min_len: usize) -> Option<usize> {
        let n = usize::try_from(self.u32(little)?).ok()?;
        (n.checked_mul(min_len)? <= self.bytes.len() - self.pos).then_some(n)
    }

    fn point(&mut self, little: bool) -> Option<String> {
        let (x, y) = (self.f64(little)?, self.f64(little)?);
        Some(format!("Point({x:e}, {y:e})"))
    }

    fn points(&mut self, little: bool, ctor: &str) -> Option<String> {
        let n = self.count(little, 16)?;
        let pts = (0..n).map(|_| self.point(little)).collect::<Option<Vec<_>>>()?;
        Some(format!("{ctor}({})", pts.join(", ")))
    }

    /// A whole geometry: byte order, type, body.
    fn geometry(&mut self, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let little = match self.take::<1>()? {
            [1] => true,
            [0] => false,
            _ => return None,
        };
        match self.u32(little)? {
            1 => self.point(little),
            2 => self.points(little, "LineString"),
            3 => {
                let n = self.count(little, 4)?;
                let rings = (0..n)
                    .map(|_| self.points(little, "LineString"))
                    .collect::<Option<Vec<_>>>()?;
                Some(format!("Polygon({})", rings.join(", ")))
            }
            t @ 4..=7 => {
                let ctor = ["MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"][t as usize - 4];
                let n = self.count(little, 5)?;
                let parts = (0..n).map(|_| self.geometry(depth + 1)).collect::<Option<Vec<_>>>()?;
                Some(format!("{ctor}({})", parts.join(", ")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(srid: u32, wkb: &[u8]) -> Vec<u8> {
        let mut v = srid.to_le_bytes().to_vec();
        v.extend_from_slice(wkb);
        v
    }

    fn point_wkb(x: f64, y: f64) -> Vec<u8> {
        let mut v = vec![1, 1, 0, 0, 0];
        v.extend_from_slice(&x.to_le_bytes());
        v.extend_from_slice(&y.to_le_bytes());
        v
    }

    #[test]
    fn specific_types_with_srid_0_are_rebuilt_with_constructors() {
        let p = internal(0, &point_wkb(1.0, 0.1));
        assert_eq!(user_var_expression("point", &p).as_deref(), Some("Point(1e0, 1e-1)"));
        let mut ls = vec![1, 2, 0, 0, 0, 2, 0, 0, 0];
        for v in [1.0f64, 1.0, 2.0, 2.0] {
            ls.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(
            user_var_expression("linestring", &internal(0, &ls)).as_deref(),
            Some("LineString(Point(1e0, 1e0), Point(2e0, 2e0))")
        );
        let mut mp = vec![1, 4, 0, 0, 0, 2, 0, 0, 0];
        mp.extend(point_wkb(1.0, 2.0));
        mp.extend(point_wkb(-3.5, 4.0));
        assert_eq!(
            user_var_expression("MULTIPOINT", &internal(0, &mp)).as_deref(),
            Some("MultiPoint(Point(1e0, 2e0), Point(-3.5e0, 4e0))")
        );
    }

    #[test]
    fn geometry_other_srids_and_malformed_bytes_use_st_geomfromwkb() {
        let wkb = point_wkb(1.0, 1.0);
        let hexed = hex(&wkb);
        assert_eq!(
            user_var_expression("geometry", &internal(0, &wkb)),
            Some(format!("ST_GeomFromWKB({hexed}, 0)"))
        );
        assert_eq!(
            user_var_expression("point", &internal(4326, &wkb)),
            Some(format!("ST_GeomFromWKB({hexed}, 4326)"))
        );
        // A count far beyond the bytes: never allocated, left to the server.
        let huge = internal(0, &[1, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(
            user_var_expression("linestring", &huge),
            Some("ST_GeomFromWKB(X'0102000000FFFFFF7F', 0)".to_owned())
        );
        // Trailing bytes, and not a geometry type at all.
        let mut trailing = internal(0, &wkb);
        trailing.push(0);
        assert!(user_var_expression("point", &trailing).is_some_and(|s| s.starts_with("ST_GeomFromWKB")));
        assert_eq!(user_var_expression("inet6", &[0; 16]), None);
    }
}
