//! The files of `LOAD DATA` statements logged with their content
//! (`binlog::load_data`), collected block by block until the statement that
//! reads them.
//!
//! Invariants: a file is held from its first block (BEGIN_LOAD_QUERY) to
//! its statement (EXECUTE_LOAD_QUERY) or its DELETE_FILE; a block of an
//! unknown file, a statement whose file is missing, and a file larger than
//! [`MAX_FILE_BYTES`] are errors, never a guess (memory stays bounded).

use std::collections::HashMap;

use crate::binlog::load_data::LoadBlock;

/// The largest file held (it travels in one THL record with its
/// statement). Larger loads must be logged as rows (`binlog_format=ROW`).
pub const MAX_FILE_BYTES: usize = 256 << 20;

#[derive(Debug, Default)]
pub struct LoadFiles {
    files: HashMap<u32, Vec<u8>>,
}

impl LoadFiles {
    /// Adds a block; the error says why it cannot be kept.
    pub fn add(&mut self, block: LoadBlock) -> Result<(), String> {
        if block.first {
            self.files.insert(block.file_id, Vec::new());
        }
        let Some(file) = self.files.get_mut(&block.file_id) else {
            return Err(format!(
                "a LOAD DATA block of file {} before the file's first block",
                block.file_id
            ));
        };
        if file.len() + block.data.len() > MAX_FILE_BYTES {
            let size = file.len() + block.data.len();
            self.files.remove(&block.file_id);
            return Err(format!(
                "a LOAD DATA file logged as a statement exceeds {MAX_FILE_BYTES} bytes ({size} so far): log such \
                 loads as rows (binlog_format=ROW)"
            ));
        }
        file.extend_from_slice(&block.data);
        Ok(())
    }

    /// The whole file for its statement.
    pub fn take(&mut self, file_id: u32) -> Option<Vec<u8>> {
        self.files.remove(&file_id)
    }

    /// DELETE_FILE: the statement failed on the source.
    pub fn delete(&mut self, file_id: u32) {
        self.files.remove(&file_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(file_id: u32, first: bool, data: &[u8]) -> LoadBlock {
        LoadBlock {
            file_id,
            first,
            data: data.to_vec(),
        }
    }

    #[test]
    fn blocks_make_a_file_until_its_statement() {
        let mut f = LoadFiles::default();
        f.add(block(1, true, b"1\tab\n")).expect("first");
        f.add(block(1, false, b"2\tcd\n")).expect("append");
        assert_eq!(f.take(1).as_deref(), Some(&b"1\tab\n2\tcd\n"[..]));
        assert_eq!(f.take(1), None);
        assert!(f.add(block(2, false, b"x")).is_err(), "no first block");
        f.add(block(3, true, b"x")).expect("first");
        f.delete(3);
        assert_eq!(f.take(3), None);
        let big = vec![0u8; MAX_FILE_BYTES];
        f.add(block(4, true, &big)).expect("at the cap");
        let e = f.add(block(4, false, b"x")).expect_err("over the cap");
        assert!(e.contains("binlog_format=ROW"), "{e}");
        assert_eq!(f.take(4), None, "dropped");
    }
}
