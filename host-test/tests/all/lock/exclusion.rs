//! Mutual exclusion: four component instances (separate stores, caches and lock handles,
//! one task each) contend for one key for 200 rounds in total. Each round reads a counter
//! object, adds one and writes it back unconditionally while holding the lock, so any
//! overlap would lose an increment. The final count must be exact, and the hold intervals
//! (host time from acquire's return to the release call) must never overlap.

use crate::common::BUCKET;
use crate::lock::support::*;
use rand::Rng as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: i64 = 200;
const COUNTER: &str = "counter";

/// One hold: who, when (host monotonic time), which acquisition, what it read.
#[derive(Debug, Clone)]
struct Hold {
    who: usize,
    from: Instant,
    to: Instant,
    nonce: String,
    read: u64,
}

const CONTENDERS: [Who; 4] = [
    ALICE,
    BOB,
    Who {
        user: "carol",
        host: "host-c",
        pid: 6161,
    },
    Who {
        user: "dave",
        host: "host-d",
        pid: 7171,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_200_rounds_exact_count_no_overlap() {
    let mut rig = Rig::fake().await;
    let remaining = Arc::new(AtomicI64::new(ROUNDS));
    let holds = Arc::new(Mutex::new(Vec::<Hold>::new()));
    let mut tasks = Vec::new();
    for (i, who) in CONTENDERS.into_iter().enumerate() {
        let mut ds = rig.open(who, "").await;
        let remaining = remaining.clone();
        let holds = holds.clone();
        tasks.push(tokio::spawn(async move {
            // Short TTL and retry interval; a generous max wait (starvation is not failure).
            let lock = ds.lock(&opts(3000, 20, 60_000)).await.unwrap();
            while remaining.fetch_sub(1, Ordering::SeqCst) > 0 {
                let info = ds.lock_acquire(lock).await.expect("acquire");
                let from = Instant::now();
                let read = match ds.get_bytes(COUNTER).await {
                    Ok((bytes, _)) => String::from_utf8(bytes).unwrap().parse::<u64>().unwrap(),
                    Err(e) if e.kind() == "not-found" => 0,
                    Err(e) => panic!("read the counter: {e}"),
                };
                ds.put_bytes(COUNTER, (read + 1).to_string().as_bytes(), None)
                    .await
                    .expect("write the counter");
                let to = Instant::now();
                let warning = ds.lock_release(lock).await.unwrap();
                assert_eq!(warning, None, "{} released cleanly", who.holder());
                holds.lock().unwrap().push(Hold {
                    who: i,
                    from,
                    to,
                    nonce: info.nonce.unwrap(),
                    read,
                });
                // Work outside the lock, so that others get their turn.
                let pause = rand::thread_rng().gen_range(0..25);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await.expect("contender task");
    }
    let took = started.elapsed();

    let stored = rig.gcs().get_object(BUCKET, COUNTER).unwrap().data;
    assert_eq!(String::from_utf8(stored).unwrap(), ROUNDS.to_string());
    assert!(rig.stored(KEY).is_none(), "the lock is free at the end");

    let mut holds = holds.lock().unwrap().clone();
    assert_eq!(holds.len() as i64, ROUNDS);
    holds.sort_by_key(|h| h.from);
    for pair in holds.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            b.from > a.to,
            "overlap: {} held {:?}..{:?}, {} acquired at {:?}",
            CONTENDERS[a.who].holder(),
            a.from - started,
            a.to - started,
            CONTENDERS[b.who].holder(),
            b.from - started
        );
    }
    // In time order every holder read exactly what the previous one wrote.
    let reads: Vec<u64> = holds.iter().map(|h| h.read).collect();
    assert_eq!(reads, (0..ROUNDS as u64).collect::<Vec<_>>());
    let nonces: BTreeSet<&str> = holds.iter().map(|h| h.nonce.as_str()).collect();
    assert_eq!(nonces.len() as i64, ROUNDS, "a fresh nonce per acquisition");

    // They did contend: every instance held the lock, and create-only writes lost races.
    let mut per: BTreeMap<usize, usize> = BTreeMap::new();
    for h in &holds {
        *per.entry(h.who).or_default() += 1;
    }
    assert_eq!(per.len(), 4, "every instance held the lock: {per:?}");
    let lost_races = rig
        .gcs()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/upload/") && r.status == 412)
        .count();
    assert!(lost_races > 0, "no contention at all");
    eprintln!("exclusion: {ROUNDS} rounds in {took:?}, holds per instance {per:?}, {lost_races} create-only writes lost a race");
}
