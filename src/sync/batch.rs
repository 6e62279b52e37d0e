//! Running many transfers with a bounded number in flight, and reporting the ones that
//! failed as one error.
//!
//! Upstream ran transfers in sequential batches (the whole batch awaited before the next
//! starts), so one slow file stalled 49 others. Here a sliding window keeps exactly
//! `limit` requests in flight until the queue drains (`buffer_unordered`), with no
//! threads: the futures interleave on the single-threaded guest executor.

use std::future::Future;

use futures_util::stream::{self, StreamExt};

use crate::error::{Error, Result};

/// How many failures a batch error names with their messages.
const NAMED_FAILURES: usize = 3;

/// Run `work` over `items` with at most `limit` in flight; results come back in the
/// order of `items` (so index entries are inserted deterministically).
pub(super) async fn run_bounded<'a, T, R, F, Fut>(
    items: &'a [T],
    limit: u32,
    work: F,
) -> Vec<(&'a T, R)>
where
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = R> + 'a,
{
    let work = &work;
    let mut done: Vec<(usize, R)> = stream::iter(items.iter().enumerate())
        .map(|(i, item)| async move { (i, work(item).await) })
        .buffer_unordered(limit.max(1) as usize)
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter()
        .filter_map(|(i, r)| Some((items.get(i)?, r)))
        .collect()
}

/// One error for a batch with failures: `"{op}: failed to {verb} N of M file(s): <first
/// error>; <second>; <third>; and K more"` — one line; each failure's message already
/// names its file and operation (`push data/a.json: GCS upload … failed: …`). The kind,
/// retryability and GCS details are the first failure's, so callers can still map it
/// (e.g. to a permission or timeout error).
pub(super) fn batch_error(op: &str, verb: &str, total: usize, failures: Vec<Error>) -> Error {
    let count = failures.len();
    let mut parts: Vec<String> = failures
        .iter()
        .take(NAMED_FAILURES)
        .map(|e| e.message().clone())
        .collect();
    if count > NAMED_FAILURES {
        parts.push(format!("and {} more", count - NAMED_FAILURES));
    }
    let message = format!(
        "{op}: failed to {verb} {count} of {total} file(s): {}",
        parts.join("; ")
    );
    match failures.into_iter().next() {
        Some(first) => first.reworded(message),
        None => Error::other(message),
    }
}

/// Split results into successes and failures (both in input order).
pub(super) fn split_results<T, V>(results: Vec<(&T, Result<V>)>) -> (Vec<V>, Vec<Error>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (_, result) in results {
        match result {
            Ok(v) => ok.push(v),
            Err(e) => failed.push(e),
        }
    }
    (ok, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn batch_error_names_the_first_three() {
        let failures: Vec<Error> = (0..5)
            .map(|i| Error::new(ErrorKind::Remote, format!("push data/{i}: HTTP 503")))
            .collect();
        let e = batch_error("push", "upload", 9, failures);
        assert_eq!(
            e.message(),
            "push: failed to upload 5 of 9 file(s): push data/0: HTTP 503; push data/1: HTTP 503; push data/2: HTTP 503; and 2 more"
        );
        assert_eq!(e.kind(), ErrorKind::Remote);
    }

    #[test]
    fn bounded_run_keeps_input_order() {
        let items = [3u32, 1, 2];
        let out = crate::test_doubles::run(run_bounded(&items, 2, |x| async move { x * 10 }));
        let values: Vec<u32> = out.into_iter().map(|(_, v)| v).collect();
        assert_eq!(values, [30, 10, 20]);
    }
}
