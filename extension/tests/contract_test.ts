// swamp's datastore contract, checked against the module swamp would load (the bundle when
// GCS_EXT_MODULE names it): the export's shape, the config schema against the shared table,
// the provider's members, the lock sequence, the verifier and the sync service's calls.

import { assert, assertEquals, assertFalse, rejects } from "./assert.ts";
import {
  type Any,
  bucketName,
  FakeGcs,
  loadDatastore,
  ROOT,
  tempDir,
} from "./support.ts";

const TYPE_PATTERN = /^@?[a-z][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*$/;

interface ConfigCases {
  valid: string[];
  invalid: Array<{ config: string; field: string }>;
}

function configCases(): ConfigCases {
  return JSON.parse(
    Deno.readTextFileSync(`${ROOT}/fixtures/config_cases.json`),
  );
}

/** A config text as swamp would hand it over (parsed YAML/JSON; raw text when it is neither). */
function asValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

Deno.test("the export has swamp's shape and the literal type of the TypeScript extension", async () => {
  const ds = await loadDatastore();
  assertEquals(ds.type, "@swamp/gcs-datastore");
  assert(TYPE_PATTERN.test(ds.type), "type matches swamp's pattern");
  assert(
    ds.name.length > 0 && ds.description.length > 0,
    "name and description",
  );
  assertEquals(typeof ds.createProvider, "function");
  assertEquals(typeof ds.configSchema.safeParse, "function");
  // swamp's catalog reads the type from the source text, so it must be a literal.
  const source = Deno.readTextFileSync(
    `${ROOT}/extension/datastores/gcs_datastore.ts`,
  );
  assert(
    source.includes('type: "@swamp/gcs-datastore"'),
    "literal type in the source",
  );
  assert(/export const datastore =/.test(source), "swamp's discovery pattern");
});

Deno.test("configSchema accepts and rejects exactly the shared config table", async () => {
  const ds = await loadDatastore();
  const cases = configCases();
  assert(
    cases.valid.length >= 20 && cases.invalid.length >= 50,
    "the table is read",
  );
  for (const text of cases.valid) {
    const r = ds.configSchema.safeParse(asValue(text));
    assert(r.success, `accepted: ${text}: ${JSON.stringify(r.error)}`);
  }
  for (const { config, field } of cases.invalid) {
    const r = ds.configSchema.safeParse(asValue(config));
    assertFalse(r.success, `rejected: ${config}`);
    if (field !== "(config)") {
      const issues = (r.error as Any).issues as Array<{ path: unknown[] }>;
      assert(
        issues.some((i) => i.path[0] === field),
        `${config}: an issue names ${field}: ${JSON.stringify(issues)}`,
      );
    }
  }
});

Deno.test("createProvider is cheap, synchronous, and throws on an invalid config", async () => {
  const ds = await loadDatastore();
  const start = performance.now();
  const p = ds.createProvider({
    bucket: "my-test-bucket",
    apiEndpoint: "http://127.0.0.1:9",
  });
  const took = performance.now() - start;
  assertFalse(p instanceof Promise, "synchronous");
  console.log(`createProvider took ${took.toFixed(2)} ms`);
  for (
    const m of [
      "createLock",
      "createVerifier",
      "createSyncService",
      "resolveDatastorePath",
      "resolveCachePath",
    ]
  ) {
    assertEquals(typeof p[m], "function", m);
  }
  assertEquals(p.resolveDatastorePath("/x/test-repo"), "/x/test-repo/.swamp");
  assertEquals(p.resolveCachePath("/x/test-repo"), undefined);
  const lock = p.createLock("/x/test-ds");
  for (
    const m of ["acquire", "release", "withLock", "inspect", "forceRelease"]
  ) assertEquals(typeof lock[m], "function", m);
  assertEquals(typeof p.createVerifier().verify, "function");
  let threw = false;
  try {
    ds.createProvider({ bucket: "MyBucket" });
  } catch {
    threw = true;
  }
  assert(threw, "an invalid config is refused");
});

Deno.test("lock, verifier and sync service follow swamp's contract on fake-gcs-server", async () => {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName("contract");
    await gcs.createBucket(bucket);
    const ds = await loadDatastore();
    const p = ds.createProvider({ bucket, apiEndpoint: gcs.endpoint });

    // The lock sequence.
    const lock = p.createLock("/x/.swamp", {
      lockKey: ".datastore.lock",
      ttlMs: 30_000,
    });
    assertEquals(await lock.inspect(), null, "free before acquire");
    await lock.acquire();
    const info = await lock.inspect();
    assert(info, "held");
    assertEquals(typeof info.holder, "string");
    assertEquals(typeof info.hostname, "string");
    assertEquals(typeof info.pid, "number");
    assertEquals(typeof info.acquiredAt, "string");
    assertEquals(info.ttlMs, 30_000);
    assertEquals(typeof info.nonce, "string");
    await lock.release();
    await lock.release();
    assertEquals(await lock.inspect(), null, "free after release");
    assertEquals(await lock.withLock(() => Promise.resolve(42)), 42);
    assertEquals(await lock.inspect(), null, "withLock released");
    let caught: unknown;
    try {
      await lock.withLock(() => Promise.reject(new Error("boom")));
    } catch (e) {
      caught = e;
    }
    assertEquals((caught as Error).message, "boom");
    assertEquals(await lock.inspect(), null, "withLock released after a throw");
    await lock.acquire();
    const held = await lock.inspect();
    assertFalse(
      await lock.forceRelease("not-the-nonce"),
      "a wrong nonce deletes nothing",
    );
    assert(await lock.inspect(), "still held");
    assert(await lock.forceRelease(held.nonce), "the right nonce deletes");
    assertEquals(await lock.inspect(), null);
    await lock.release();

    // The verifier: fields, and never a throw.
    const h = await p.createVerifier().verify();
    assertEquals(h.healthy, true, h.message);
    assertEquals(typeof h.message, "string");
    assert(typeof h.latencyMs === "number" && h.latencyMs >= 0);
    assertEquals(h.datastoreType, "@swamp/gcs-datastore");
    const missing = await ds.createProvider({
      bucket: "no-such-bucket-here",
      apiEndpoint: gcs.endpoint,
    }).createVerifier()
      .verify();
    assertEquals(missing.healthy, false);
    assert(
      missing.message.length > 0 && !missing.message.includes("\n"),
      missing.message,
    );

    // The sync service with no arguments.
    const s = p.createSyncService("/x/repo", tempDir());
    assertEquals(await s.markDirty(), undefined);
    assertEquals(typeof await s.pullChanged(), "number");
    assertEquals(typeof await s.pushChanged(), "number");
    const caps = s.capabilities();
    for (
      const k of [
        "scopedSync",
        "lazyHydration",
        "namespacedSync",
        "twoPhaseSync",
        "previewPush",
        "controlPlane",
      ]
    ) {
      assertEquals(typeof caps[k], "boolean", k);
    }
    assertEquals(caps.scopedSync, true);
    assertEquals(caps.lazyHydration, true);
    assertEquals(
      typeof s.hydrateFile,
      "function",
      "lazyHydration means hydrateFile exists",
    );
    // Each capability comes with the members swamp calls for it.
    assertEquals(caps.twoPhaseSync, true);
    assertEquals(typeof s.preparePush, "function");
    assertEquals(typeof s.commitPush, "function");
    assertEquals(caps.previewPush, true);
    assertEquals(typeof s.previewPush, "function");
    assertEquals(caps.controlPlane, true);
    assertEquals(typeof s.controlPlaneStore, "function");
  } finally {
    await gcs.stop();
  }
});

Deno.test("a lock held elsewhere times out with swamp's LockTimeoutError fields", async () => {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName("locktimeout");
    await gcs.createBucket(bucket);
    const ds = await loadDatastore();
    const p = ds.createProvider({ bucket, apiEndpoint: gcs.endpoint });
    const alice = p.createLock("/x", {
      lockKey: "data/t/m/.lock",
      ttlMs: 30_000,
    });
    await alice.acquire();
    const bob = p.createLock("/x", {
      lockKey: "data/t/m/.lock",
      retryIntervalMs: 100,
      maxWaitMs: 400,
    });
    const e: Any = await rejects(bob.acquire());
    assert(e, "bob did not get the lock");
    assertEquals(e.name, "LockTimeoutError");
    assertEquals(e.lockKey, "data/t/m/.lock");
    assertEquals(typeof e.holder, "string");
    assert(e.waitedMs >= 400, `waited ${e.waitedMs}`);
    assert(
      !e.message.includes("\n") && e.message.includes("timed out"),
      e.message,
    );
    await alice.release();
    await bob.release();
  } finally {
    await gcs.stop();
  }
});
