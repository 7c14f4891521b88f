//! A small parser for `tungsten.ini` as operators write it.
//!
//! * Lines starting (after blanks) with `#` or `;` are comments; blank lines
//!   are ignored. There are no inline comments: `#` and `;` inside a value
//!   are part of it (passwords contain them).
//! * `[name]` starts a section; a section named twice continues the first
//!   one (later keys override earlier ones).
//! * `key=value` splits at the first `=`; key and value are trimmed, and a
//!   value wrapped in matching `"` or `'` loses the quotes. A line without
//!   `=` is a bare flag (`log-slave-updates`), stored with no value.
//! * Keys are lower-cased and a leading `--` (tpm's command-line spelling) is
//!   dropped; values keep their case.
//!
//! Syntax errors (an unterminated `[`, an empty key, an entry before the
//! first section) are all collected and returned together.

/// One `key=value` or bare-flag line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// `None` for a bare flag.
    pub value: Option<String>,
    /// 1-based line number.
    pub line: usize,
}

/// One `[section]` and its entries, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// Line of the (first) header.
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    /// The last entry for `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }
}

/// A parsed ini file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    pub sections: Vec<Section>,
}

impl Ini {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// A syntax error at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Parses the text of an ini file.
pub fn parse(text: &str) -> Result<Ini, Vec<SyntaxError>> {
    let mut ini = Ini::default();
    let mut errors = Vec::new();
    let mut current: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(rest) = l.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                errors.push(SyntaxError {
                    line,
                    message: format!("section header {l:?} has no closing `]`"),
                });
                current = None;
                continue;
            };
            let name = name.trim();
            if name.is_empty() {
                errors.push(SyntaxError {
                    line,
                    message: "empty section name `[]`".into(),
                });
                current = None;
                continue;
            }
            current = match ini.sections.iter().position(|s| s.name == name) {
                Some(idx) => Some(idx),
                None => {
                    ini.sections.push(Section {
                        name: name.to_owned(),
                        line,
                        entries: Vec::new(),
                    });
                    Some(ini.sections.len() - 1)
                }
            };
            continue;
        }
        let (key, value) = match l.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(v.trim()).to_owned())),
            None => (l, None),
        };
        let key = key.trim_start_matches("--").to_ascii_lowercase();
        if key.is_empty() {
            errors.push(SyntaxError {
                line,
                message: format!("entry {l:?} has no key before `=`"),
            });
            continue;
        }
        match current {
            Some(idx) => ini.sections[idx].entries.push(Entry { key, value, line }),
            None => errors.push(SyntaxError {
                line,
                message: format!("entry `{key}` is outside any section; put it under [defaults] or a dataservice"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(ini)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_flags_quotes_and_repeated_sections() -> Result<(), Vec<SyntaxError>> {
        let ini = parse(
            "# comment\n; other\n[defaults]\nreplication-password=se#cr;et\n  log-slave-updates  \n\
             --Thl-Port = \"2113\"\n[alpha]\nmaster=h1\n[defaults]\nreplication-user=t\n",
        )?;
        let d = ini.section("defaults").ok_or_else(Vec::new)?;
        assert_eq!(
            d.get("replication-password").and_then(|e| e.value.as_deref()),
            Some("se#cr;et")
        );
        assert_eq!(
            d.get("log-slave-updates").map(|e| (e.value.clone(), e.line)),
            Some((None, 5))
        );
        assert_eq!(d.get("thl-port").and_then(|e| e.value.as_deref()), Some("2113"));
        assert_eq!(d.get("replication-user").map(|e| e.line), Some(10));
        assert_eq!(ini.sections.len(), 2);
        Ok(())
    }

    #[test]
    fn syntax_errors_are_all_reported() {
        let errs = parse("orphan=1\n[bad\n[ok]\n=v\n[]\n").err().unwrap_or_default();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 2, 4, 5]);
    }
}
