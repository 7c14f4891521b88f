//! A password or other secret read from the ini: its `Debug` prints
//! `<redacted>`, so a plan, a settings struct or an error that holds one
//! never shows it in a log or a panic message.
//!
//! Invariant: the only way to the text is [`Secret::expose`], called where
//! the secret is sent (a database login, an HTTP `Authorization`, a
//! mariadb-backup option file written 0600). It has no `Display`, so a
//! `format!` cannot put `<redacted>` where the password was meant.

/// A secret string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, to send where it is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_text() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
    }
}
