// swamp's controlPlaneStore() through the module swamp loads and the real component, on
// fake-gcs-server: Uint8Array round trips, list prefixes, delete and putIfAbsent, the
// namespace a sync bound (or one given per store), typed errors for bad keys, and records
// that never enter the index.

import { assert, assertEquals, rejects } from "./assert.ts";
import {
  type Any,
  bucketName,
  FakeGcs,
  loadDatastore,
  tempDir,
  writeTree,
} from "./support.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function withProvider(
  fn: (gcs: FakeGcs, p: Any, bucket: string) => Promise<void>,
) {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName("control");
    await gcs.createBucket(bucket);
    const ds = await loadDatastore();
    await fn(
      gcs,
      ds.createProvider({ bucket, apiEndpoint: gcs.endpoint, prefix: "pfx" }),
      bucket,
    );
  } finally {
    await gcs.stop();
  }
}

Deno.test("controlPlaneStore: put, get, list, delete and putIfAbsent", async () => {
  await withProvider(async (gcs, p, bucket) => {
    const s = p.createSyncService("/repo", tempDir());
    assertEquals(s.capabilities().controlPlane, true);
    const store = s.controlPlaneStore();
    const binary = new Uint8Array([0, 255, 1, 254, 10, 13]);
    await store.put("heartbeats/w1", binary);
    await store.put("heartbeats/w2", text("two"));
    await store.put("pending-runs/r1", text("run"));
    assertEquals(await gcs.list(bucket), [
      "pfx/_control/heartbeats/w1",
      "pfx/_control/heartbeats/w2",
      "pfx/_control/pending-runs/r1",
    ]);
    const got = await store.get("heartbeats/w1");
    assert(got instanceof Uint8Array, "a Uint8Array comes back");
    assertEquals(Array.from(got), Array.from(binary));
    assertEquals(await store.get("heartbeats/missing"), null);
    assertEquals(await store.list(""), [
      "heartbeats/w1",
      "heartbeats/w2",
      "pending-runs/r1",
    ]);
    assertEquals(await store.list("heartbeats/"), [
      "heartbeats/w1",
      "heartbeats/w2",
    ]);
    assertEquals(await store.list("nothing/"), []);
    assertEquals(await store.delete("heartbeats/w1"), undefined);
    await store.delete("heartbeats/w1"); // idempotent
    assertEquals(await store.get("heartbeats/w1"), null);

    assertEquals(await store.putIfAbsent("claims/c1", text("first")), true);
    assertEquals(await store.putIfAbsent("claims/c1", text("second")), false);
    assertEquals(
      new TextDecoder().decode(await store.get("claims/c1")),
      "first",
      "the existing value is kept",
    );
    await store.delete("claims/c1");
    assertEquals(await store.putIfAbsent("claims/c1", text("third")), true);
  });
});

Deno.test("controlPlaneStore: the bound namespace, a given one, bad keys, no index entries", async () => {
  await withProvider(async (gcs, p, bucket) => {
    // Records exist before the first push of the namespace and of the root.
    const given = p.createSyncService("/repo", tempDir()).controlPlaneStore({
      namespace: "team",
    });
    await given.put("leases/l1", text("team"));
    const solo = p.createSyncService("/repo", tempDir()).controlPlaneStore();
    await solo.put("leases/l1", text("solo"));

    // The solo push first: the namespace has no manifest, so only the control-record
    // rule keeps its records out of the solo discovery.
    const rootCache = tempDir();
    writeTree(rootCache, { "data/t/m/root.yaml": "y" });
    assertEquals(
      await p.createSyncService("/repo", rootCache).pushChanged(),
      1,
    );
    const cache = tempDir();
    writeTree(cache, { "team/data/t/m/file.yaml": "x" });
    const s = p.createSyncService("/repo", cache);
    const store = s.controlPlaneStore(); // made before the sync binds the namespace
    assertEquals(await s.pushChanged({ namespace: "team" }), 1);
    const indexes: Array<[string, string[]]> = [
      ["pfx/team/.datastore-index.json", ["data/t/m/file.yaml"]],
      ["pfx/.datastore-index.json", ["data/t/m/root.yaml"]],
    ];
    for (const [key, want] of indexes) {
      const index = JSON.parse(
        new TextDecoder().decode(await gcs.get(bucket, key)),
      );
      assertEquals(Object.keys(index.entries), want, key);
    }

    // The store follows the namespace the push bound.
    assertEquals(
      new TextDecoder().decode(await store.get("leases/l1")),
      "team",
    );
    await store.put("leases/l2", text("bound"));
    assert(
      (await gcs.list(bucket)).includes("pfx/team/_control/leases/l2"),
      "written under the bound namespace",
    );
    assertEquals(await store.list(""), ["leases/l1", "leases/l2"]);
    assertEquals(await solo.list(""), ["leases/l1"]);
    assertEquals(new TextDecoder().decode(await solo.get("leases/l1")), "solo");

    // Another namespace than the bound one is refused, like a sync call.
    const e = await rejects(
      s.controlPlaneStore({ namespace: "other" }).get("leases/l1"),
    );
    assertEquals((e as Any).kind, "namespace-mismatch");

    for (const key of ["", "/abs", "a//b", "../x", "a\nb"]) {
      const e = await rejects(store.put(key, text("v")), `key ${key}`);
      assertEquals((e as Any).kind, "invalid-config", e.message);
      assert(
        e.message.includes("(hint: a key is a relative slash path"),
        e.message,
      );
      assert(!e.message.includes(".swamp.yaml"), e.message);
    }
  });
});
