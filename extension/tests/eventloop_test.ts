// swamp's event loop keeps running while the component works: timers tick during a long
// push, an AbortSignal stops a push promptly and a rerun completes it, and the lock's
// heartbeat (timers on the lock's own instance) keeps the lock through a push longer than
// its ttl.

import { assert, assertEquals, rejects } from "./assert.ts";
import {
  type Any,
  bucketName,
  FakeGcs,
  loadDatastore,
  modelFiles,
  readTree,
  tempDir,
  writeTree,
} from "./support.ts";

/** Ticks of a 10 ms interval while `work` runs: how many, and the longest gap between two. */
async function ticking<T>(
  work: () => Promise<T>,
): Promise<{ value: T; ticks: number; longestGapMs: number; tookMs: number }> {
  let ticks = 0;
  let last = performance.now();
  let longest = 0;
  const id = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    ticks++;
  }, 10);
  const start = performance.now();
  try {
    const value = await work();
    const end = performance.now();
    longest = Math.max(longest, end - last);
    return { value, ticks, longestGapMs: longest, tookMs: end - start };
  } finally {
    clearInterval(id);
  }
}

async function setup(
  tag: string,
): Promise<{ gcs: FakeGcs; p: Any; bucket: string }> {
  const gcs = await FakeGcs.start();
  const bucket = bucketName(tag);
  await gcs.createBucket(bucket);
  const ds = await loadDatastore();
  return {
    gcs,
    p: ds.createProvider({ bucket, apiEndpoint: gcs.endpoint }),
    bucket,
  };
}

Deno.test("a 10 ms interval keeps ticking during a 1000-file push and pull", async () => {
  const { gcs, p } = await setup("ticks");
  try {
    const a = tempDir();
    writeTree(a, modelFiles(1000));
    const sa = p.createSyncService("/repo", a);
    const push = await ticking(() => sa.pushChanged());
    assertEquals(push.value, 1000);
    console.log(
      `push: ${push.tookMs.toFixed(0)} ms, ${push.ticks} ticks, longest gap ${
        push.longestGapMs.toFixed(1)
      } ms`,
    );
    const b = tempDir();
    const sb = p.createSyncService("/repo", b);
    const pull = await ticking(() => sb.pullChanged());
    assertEquals(pull.value, 1000);
    console.log(
      `pull: ${pull.tookMs.toFixed(0)} ms, ${pull.ticks} ticks, longest gap ${
        pull.longestGapMs.toFixed(1)
      } ms`,
    );
    for (const r of [push, pull]) {
      // A host that blocked the loop would show one gap as long as the whole call.
      assert(r.ticks >= 5, `the interval ticked during the call (${r.ticks})`);
      assert(
        r.longestGapMs < r.tookMs / 2,
        `no gap near the whole call (${r.longestGapMs} of ${r.tookMs} ms)`,
      );
    }
  } finally {
    await gcs.stop();
  }
});

Deno.test("an abort mid-push rejects with an AbortError promptly, and a rerun completes", async () => {
  const { gcs, p, bucket } = await setup("abort");
  try {
    const a = tempDir();
    const files = modelFiles(1000);
    writeTree(a, files);
    const sa = p.createSyncService("/repo", a);
    const ctrl = new AbortController();
    const started = performance.now();
    const push = sa.pushChanged({ signal: ctrl.signal });
    // Abort once uploads are under way.
    while (
      (await gcs.list(bucket)).length < 50 &&
      performance.now() - started < 20_000
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const abortedAt = performance.now();
    ctrl.abort();
    const err: Any = await rejects(push);
    const tookMs = performance.now() - abortedAt;
    console.log(`the push settled ${tookMs.toFixed(0)} ms after the abort`);
    assert(err, "the aborted push rejected");
    assertEquals(err.name, "AbortError");
    assert(tookMs < 5_000, `settled promptly (${tookMs} ms)`);
    // The same service reruns on a fresh instance and completes; nothing is lost.
    const n = await sa.pushChanged();
    assert(n > 0 && n <= 1000, `the rerun uploaded the rest (${n})`);
    const names = await gcs.list(bucket);
    for (const k of Object.keys(files)) {
      assert(names.includes(k), `uploaded: ${k}`);
    }
    const b = tempDir();
    assertEquals(await p.createSyncService("/repo", b).pullChanged(), 1000);
    assertEquals(readTree(b), readTree(a));
    // An already aborted signal rejects before any work.
    const pre = new AbortController();
    pre.abort();
    const early: Any = await rejects(sa.pullChanged({ signal: pre.signal }));
    assertEquals(early?.name, "AbortError");
  } finally {
    await gcs.stop();
  }
});

Deno.test("the heartbeat keeps the lock through a push longer than the lock's ttl", async () => {
  const { gcs, p } = await setup("heartbeat");
  try {
    const ttlMs = 900;
    const lock = p.createLock("/x", {
      lockKey: ".datastore.lock",
      ttlMs,
      retryIntervalMs: 100,
      maxWaitMs: 5_000,
    });
    await lock.acquire();
    const mine = await lock.inspect();
    const a = tempDir();
    writeTree(a, modelFiles(1000));
    const sa = p.createSyncService("/repo", a);
    const push = await ticking(() => sa.pushChanged());
    console.log(
      `push under the lock: ${
        push.tookMs.toFixed(0)
      } ms (ttl ${ttlMs} ms), ${lock.beats} heartbeats`,
    );
    // Make sure the lock outlived its ttl, whatever the machine's speed.
    if (push.tookMs < 2 * ttlMs) {
      await new Promise((r) => setTimeout(r, 2 * ttlMs - push.tookMs));
    }
    assert(lock.beats >= 2, `heartbeats were sent (${lock.beats})`);
    assert(!lock.lost, "the lock was never lost");
    const now = await lock.inspect();
    assertEquals(now?.nonce, mine?.nonce, "still our lock");
    // A contender cannot steal it: it is fresh.
    const other = p.createLock("/x", {
      lockKey: ".datastore.lock",
      ttlMs,
      retryIntervalMs: 100,
      maxWaitMs: 300,
    });
    const err: Any = await rejects(other.acquire());
    assertEquals(err?.name, "LockTimeoutError");
    await other.release();
    await lock.release();
    assertEquals(await lock.inspect(), null);
  } finally {
    await gcs.stop();
  }
});
