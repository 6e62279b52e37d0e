//! Lock fixtures: a server and a host, datastores that carry a holder identity (the guest
//! reads `USER`, `HOSTNAME` and `SWAMP_GCS_HOST_PID`), lock options, and readers of the
//! stored lock object.

use crate::common::{Cache, Server, BUCKET};
use gcs_host::datastore::{LockInfo, LockOptions};
use gcs_host::traffic::RequestKind;
use gcs_host::{Datastore, Host};
use test_servers::gcs::FakeGcs;

/// The lock key most tests use (a namespaced global lock, as swamp core names it).
pub const KEY: &str = ".locks/ns.lock";

/// A holder identity.
#[derive(Debug, Clone, Copy)]
pub struct Who {
    pub user: &'static str,
    pub host: &'static str,
    pub pid: u32,
}

impl Who {
    /// `user@host`, as the guest writes it.
    pub fn holder(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
}

pub const ALICE: Who = Who {
    user: "alice",
    host: "host-a",
    pid: 4242,
};
pub const BOB: Who = Who {
    user: "bob",
    host: "host-b",
    pid: 5151,
};

/// A server, a host and the caches of the datastores opened on them.
pub struct Rig {
    pub server: Server,
    pub host: Host,
    caches: Vec<Cache>,
}

impl Rig {
    /// The in-process fake with bucket [`BUCKET`].
    pub async fn fake() -> Rig {
        Rig::on(Server::fake(BUCKET).await)
    }

    /// fake-gcs-server 1.54.0 with bucket [`BUCKET`].
    pub fn emulator() -> Rig {
        Rig::on(Server::emulator(BUCKET))
    }

    fn on(server: Server) -> Rig {
        Rig {
            server,
            host: Host::new().expect("load the component"),
            caches: Vec::new(),
        }
    }

    /// The fake GCS (panics for the emulator).
    pub fn gcs(&self) -> &FakeGcs {
        self.server.as_fake().expect("the in-process fake")
    }

    /// A datastore in its own store and cache, acting as `who`, with `extra` config fields.
    pub async fn open(&mut self, who: Who, extra: &str) -> Datastore {
        let cache = Cache::new();
        let opts = self
            .server
            .options(&cache)
            .env("USER", who.user)
            .env("HOSTNAME", who.host)
            .env("SWAMP_GCS_HOST_PID", &who.pid.to_string());
        let mut ds = self.host.open(&opts).await.expect("open datastore");
        ds.configure(&self.server.config(BUCKET, extra))
            .await
            .expect("configure");
        self.caches.push(cache);
        ds
    }

    /// Requests of `kind` the host has sent so far.
    pub fn count(&self, kind: RequestKind) -> u64 {
        self.host.traffic.snapshot().count(kind)
    }

    /// The stored lock object's bytes at `key`, if any (fake only).
    pub fn stored(&self, key: &str) -> Option<Vec<u8>> {
        self.gcs().get_object(BUCKET, key).map(|o| o.data)
    }

    /// The stored lock object's nonce at `key` (fake only).
    pub fn stored_nonce(&self, key: &str) -> Option<String> {
        let bytes = self.stored(key)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.get("nonce")?.as_str().map(String::from)
    }

    /// Make the object at `key` look last written `ago_ms` milliseconds ago (fake only).
    pub fn backdate(&self, key: &str, ago_ms: i64) {
        self.gcs().set_updated(BUCKET, key, now_ms() - ago_ms);
    }
}

/// Lock options on [`KEY`].
pub fn opts(ttl_ms: u32, retry_interval_ms: u32, max_wait_ms: u32) -> LockOptions {
    LockOptions {
        key: Some(KEY.to_string()),
        ttl_ms: Some(ttl_ms),
        retry_interval_ms: Some(retry_interval_ms),
        max_wait_ms: Some(max_wait_ms),
    }
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Whether `s` is a lowercase version-4 UUID (`crypto.randomUUID()` shape).
pub fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && s.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && parts[2].starts_with('4')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

/// Parse `acquiredAt` (`YYYY-MM-DDTHH:MM:SS.mmmZ`) into Unix milliseconds.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24
        || &s[4..5] != "-"
        || &s[10..11] != "T"
        || &s[19..20] != "."
        || !s.ends_with('Z')
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se, ms) = (n(11..13)?, n(14..16)?, n(17..19)?, n(20..23)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((((days * 24 + h) * 60 + mi) * 60 + se) * 1000 + ms)
}

/// Assert that `info` describes `who` holding with `ttl_ms`, written around now.
#[track_caller]
pub fn assert_info(info: &LockInfo, who: Who, ttl_ms: u32) {
    assert_eq!(info.holder, who.holder());
    assert_eq!(info.hostname, who.host);
    assert_eq!(info.pid, who.pid);
    assert_eq!(info.ttl_ms, ttl_ms);
    let at = parse_iso_ms(&info.acquired_at)
        .unwrap_or_else(|| panic!("acquiredAt {:?} is not ISO-8601 ms Z", info.acquired_at));
    assert!(
        (now_ms() - at).abs() < 60_000,
        "acquiredAt {} is not recent",
        info.acquired_at
    );
    let nonce = info.nonce.as_deref().expect("a nonce");
    assert!(is_uuid_v4(nonce), "nonce {nonce:?}");
}

#[test]
fn iso_parser_matches_known_instants() {
    assert_eq!(parse_iso_ms("1970-01-01T00:00:00.000Z"), Some(0));
    assert_eq!(
        parse_iso_ms("2026-08-01T10:00:00.000Z"),
        Some(1_785_578_400_000)
    );
    assert_eq!(parse_iso_ms("2026-08-01T10:00:00Z"), None);
    assert!(is_uuid_v4("a1b2c3d4-e5f6-4890-abcd-ef1234567890"));
    assert!(!is_uuid_v4("a1b2c3d4-e5f6-3890-abcd-ef1234567890"));
}

/// The fields of a lock info, comparable (the generated record has no `PartialEq`).
pub type Fields = (String, String, u32, String, u32, Option<String>);

/// [`Fields`] of `info`.
pub fn fields(info: &LockInfo) -> Fields {
    (
        info.holder.clone(),
        info.hostname.clone(),
        info.pid,
        info.acquired_at.clone(),
        info.ttl_ms,
        info.nonce.clone(),
    )
}

/// [`Fields`] of an optional info.
pub fn fields_of(info: &Option<LockInfo>) -> Option<Fields> {
    info.as_ref().map(fields)
}
