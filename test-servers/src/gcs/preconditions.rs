//! `ifGenerationMatch`, `ifGenerationNotMatch`, `ifMetagenerationMatch` and
//! `ifMetagenerationNotMatch` (and their `ifSource*` forms for copy/rewrite sources).
//!
//! Rules (`docs/gcs.md#preconditions`):
//! * `ifGenerationMatch=0` means "must not exist"; any other `*Match` on a missing object fails.
//! * `*NotMatch` on a missing object fails, so `ifGenerationNotMatch=0` means "must exist".
//! * A failed `*Match` is 412 `conditionNotMet`.
//! * A failed `*NotMatch` is 304 (empty body) on reads. On writes and deletes this fake answers
//!   412 `conditionNotMet` instead: GCS documents 304 only for reads, and a 304 on a mutation
//!   would be read by most HTTP stacks as a success with no body. The testbench's 304 on
//!   inserts is a testbench quirk; clients should treat both as "condition not met" anyway.
//! * When several conditions fail, the `*Match` ones are reported first.
//! * Reads, deletes and patches of a missing object are 404 before any condition is looked
//!   at; only creating writes (uploads, copy/rewrite destinations) evaluate conditions
//!   against "no live object".
//! * On mutations the rate limit (429) is checked before the conditions (412).

use super::errors::GcsError;
use super::request::Query;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Preconditions {
    generation_match: Option<i64>,
    generation_not_match: Option<i64>,
    metageneration_match: Option<i64>,
    metageneration_not_match: Option<i64>,
}

impl Preconditions {
    /// Reads the destination conditions (`ifGenerationMatch`, ...).
    pub fn from_query(query: &Query) -> Result<Preconditions, GcsError> {
        Self::with_infix(query, "")
    }

    /// Reads the copy/rewrite source conditions (`ifSourceGenerationMatch`, ...).
    pub fn source_from_query(query: &Query) -> Result<Preconditions, GcsError> {
        Self::with_infix(query, "Source")
    }

    fn with_infix(query: &Query, infix: &str) -> Result<Preconditions, GcsError> {
        Ok(Preconditions {
            generation_match: query.int(&format!("if{infix}GenerationMatch"))?,
            generation_not_match: query.int(&format!("if{infix}GenerationNotMatch"))?,
            metageneration_match: query.int(&format!("if{infix}MetagenerationMatch"))?,
            metageneration_not_match: query.int(&format!("if{infix}MetagenerationNotMatch"))?,
        })
    }

    /// Checks the conditions against the live object, given as `(generation, metageneration)`.
    pub fn check(&self, live: Option<(i64, i64)>, access: Access) -> Result<(), GcsError> {
        let generation = live.map(|(g, _)| g);
        let metageneration = live.map(|(_, m)| m);

        let generation_ok = match self.generation_match {
            None => true,
            Some(0) => live.is_none(),
            Some(want) => generation == Some(want),
        };
        let metageneration_ok = self
            .metageneration_match
            .is_none_or(|want| metageneration == Some(want));
        if !generation_ok || !metageneration_ok {
            return Err(GcsError::precondition_failed());
        }

        let differs = |value: Option<i64>, unwanted: Option<i64>| match unwanted {
            None => true,
            Some(unwanted) => value.is_some_and(|v| v != unwanted),
        };
        if differs(generation, self.generation_not_match)
            && differs(metageneration, self.metageneration_not_match)
        {
            return Ok(());
        }
        Err(match access {
            Access::Read => GcsError::not_modified(),
            Access::Write => GcsError::precondition_failed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(raw: &str) -> Preconditions {
        Preconditions::from_query(&Query::parse(raw).expect("query")).expect("preconditions")
    }

    fn status(p: Preconditions, live: Option<(i64, i64)>, access: Access) -> u16 {
        p.check(live, access)
            .map_or_else(|e| e.status.as_u16(), |()| 200)
    }

    #[test]
    fn generation_match_zero_means_absent() {
        assert_eq!(status(pre("ifGenerationMatch=0"), None, Access::Write), 200);
        assert_eq!(
            status(pre("ifGenerationMatch=0"), Some((5, 1)), Access::Write),
            412
        );
    }

    #[test]
    fn nonzero_match_needs_that_generation() {
        assert_eq!(
            status(pre("ifGenerationMatch=5"), Some((5, 1)), Access::Write),
            200
        );
        assert_eq!(
            status(pre("ifGenerationMatch=4"), Some((5, 1)), Access::Write),
            412
        );
        assert_eq!(status(pre("ifGenerationMatch=5"), None, Access::Write), 412);
        assert_eq!(
            status(pre("ifMetagenerationMatch=1"), None, Access::Write),
            412
        );
        assert_eq!(
            status(pre("ifMetagenerationMatch=2"), Some((5, 1)), Access::Read),
            412
        );
    }

    #[test]
    fn not_match_is_304_on_read_and_412_on_write() {
        let p = pre("ifGenerationNotMatch=5");
        assert_eq!(status(p, Some((5, 1)), Access::Read), 304);
        assert_eq!(status(p, Some((5, 1)), Access::Write), 412);
        assert_eq!(status(p, Some((6, 1)), Access::Read), 200);
        assert_eq!(status(p, None, Access::Read), 304);
        let m = pre("ifMetagenerationNotMatch=3");
        assert_eq!(status(m, Some((5, 3)), Access::Read), 304);
        assert_eq!(status(m, Some((5, 4)), Access::Write), 200);
    }

    #[test]
    fn match_failure_wins_over_not_match() {
        let p = pre("ifGenerationMatch=1&ifGenerationNotMatch=5");
        assert_eq!(status(p, Some((5, 1)), Access::Read), 412);
    }

    #[test]
    fn source_conditions_use_their_own_names() {
        let q = Query::parse("ifSourceGenerationMatch=7&ifGenerationMatch=0").expect("query");
        let src = Preconditions::source_from_query(&q).expect("source");
        assert_eq!(status(src, Some((7, 1)), Access::Write), 200);
        assert_eq!(status(src, Some((8, 1)), Access::Write), 412);
    }

    #[test]
    fn non_numeric_value_is_400() {
        let q = Query::parse("ifGenerationMatch=abc").expect("query");
        assert_eq!(
            Preconditions::from_query(&q).map_err(|e| e.status.as_u16()),
            Err(400)
        );
    }
}
