//! Object generations: the version number GCS gives every write of an object, and the
//! three things the crate does with one (pure, no I/O).
//!
//! * **Fingerprint**: the sidecar records the index's generation after a verified sync;
//!   a later metadata GET that returns the same generation proves nothing changed. Only
//!   a real generation counts: an empty one (the server did not say) or `"0"` (the
//!   create-only marker) would match things that are not the same object.
//! * **Write condition**: a write over an object we read carries `ifGenerationMatch` of
//!   the generation read, `"0"` when the object was absent (create only); when the server
//!   sent no generation there is nothing to be conditional on, and the write is
//!   unconditional, as the TypeScript client's always is.
//! * **Match**: a remote generation equals a recorded fingerprint.

use std::fmt;

/// A generation as GCS reported it: decimal digits, or empty when a reply carried none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Generation(String);

/// `ifGenerationMatch` for creating an object only if it does not exist.
pub const CREATE_ONLY: &str = "0";

impl Generation {
    /// A generation from a reply (or from the sidecar).
    pub fn new(g: impl Into<String>) -> Self {
        Generation(g.into())
    }

    /// The decimal string (possibly empty).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the server said which generation it is (a reply may omit it).
    pub fn is_known(&self) -> bool {
        !self.0.is_empty()
    }

    /// The generation when it can serve as a fingerprint: known and not `"0"`.
    pub fn fingerprint(&self) -> Option<&str> {
        fingerprint_of(&self.0)
    }

    /// Whether this remote generation proves the object is the one `fingerprint` was
    /// recorded from. Unknown generations and `"0"` never match.
    pub fn matches(&self, fingerprint: Option<&str>) -> bool {
        self.fingerprint().is_some() && self.fingerprint() == fingerprint
    }

    /// Into the decimal string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for Generation {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// `g` when it can serve as a fingerprint: not empty and not `"0"`.
pub fn fingerprint_of(g: &str) -> Option<&str> {
    (!g.is_empty() && g != CREATE_ONLY).then_some(g)
}

/// `ifGenerationMatch` for a write over an object as read: its generation; create-only
/// when it was absent (`None`); unconditional (`None`) when the read carried no
/// generation.
pub fn write_condition(read: Option<&Generation>) -> Option<&str> {
    match read {
        None => Some(CREATE_ONLY),
        Some(g) if g.0.is_empty() => None,
        Some(g) => Some(&g.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_table() {
        // (reported, fingerprint, write condition over it)
        let rows: &[(&str, Option<&str>, Option<&str>)] = &[
            (
                "1712345678901234",
                Some("1712345678901234"),
                Some("1712345678901234"),
            ),
            ("", None, None),
            ("0", None, Some("0")),
        ];
        for (g, fp, cond) in rows {
            let g = Generation::new(*g);
            assert_eq!(g.fingerprint(), *fp, "{g:?}");
            assert_eq!(write_condition(Some(&g)), *cond, "{g:?}");
        }
        assert_eq!(write_condition(None), Some(CREATE_ONLY));
    }

    #[test]
    fn only_real_generations_match() {
        assert!(Generation::new("7").matches(Some("7")));
        assert!(!Generation::new("7").matches(Some("8")));
        assert!(!Generation::new("7").matches(None));
        assert!(!Generation::new("0").matches(Some("0")));
        assert!(!Generation::new("").matches(Some("")));
    }
}
