// Namespaces through the module swamp loads, against fake-gcs-server: the provider's
// registerNamespace / listNamespaces (a taken slug refused naming its owner), namespaced
// pushes and pulls of two repositories that never cross, and the sync service's
// exportCatalog / pullForeignCatalogs / fetchForeignContent.

import { assert, assertEquals, rejects } from "./assert.ts";
import {
  type Any,
  bucketName,
  FakeGcs,
  loadDatastore,
  readTree,
  tempDir,
  writeTree,
} from "./support.ts";

const REPO_A = "6f1c2d3e-0000-4000-8000-00000000000a";
const REPO_B = "6f1c2d3e-0000-4000-8000-00000000000b";

async function withBucket(
  tag: string,
  fn: (gcs: FakeGcs, provider: Any, bucket: string) => Promise<void>,
) {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName(tag);
    await gcs.createBucket(bucket);
    const ds = await loadDatastore();
    await fn(
      gcs,
      ds.createProvider({ bucket, apiEndpoint: gcs.endpoint }),
      bucket,
    );
  } finally {
    await gcs.stop();
  }
}

Deno.test("registerNamespace and listNamespaces on the provider", async () => {
  await withBucket("ns-register", async (gcs, p, bucket) => {
    assertEquals(await p.listNamespaces("/repo/.swamp"), []);
    await p.registerNamespace("/repo/.swamp", "alpha", REPO_A);
    const manifest = JSON.parse(
      new TextDecoder().decode(await gcs.get(bucket, "alpha/.namespace.json")),
    );
    assertEquals(Object.keys(manifest), [
      "namespace",
      "repoId",
      "registeredAt",
    ]);
    assertEquals(manifest.repoId, REPO_A);
    // The same repository again is fine; another one is refused, naming the owner.
    await p.registerNamespace("/repo/.swamp", "alpha", REPO_A);
    const e: Any = await rejects(
      p.registerNamespace("/other/.swamp", "alpha", REPO_B),
    );
    assert(e, "a taken slug must be refused");
    assertEquals(e.kind, "namespace-taken");
    assert(
      e.message.startsWith(
        `Namespace "alpha" is already registered by repo ${REPO_A}`,
      ),
      e.message,
    );
    const after = JSON.parse(
      new TextDecoder().decode(await gcs.get(bucket, "alpha/.namespace.json")),
    );
    assertEquals(after.repoId, REPO_A, "the owner's manifest stays");
    // Bad slugs never reach the bucket.
    for (const bad of ["a/b", "..", ""]) {
      const e: Any = await rejects(
        p.registerNamespace("/repo/.swamp", bad, REPO_A),
      );
      assertEquals(e?.kind, "invalid-config", bad);
    }
    await p.registerNamespace("/other/.swamp", "beta", REPO_B);
    assertEquals(await p.listNamespaces("/repo/.swamp"), ["alpha", "beta"]);
    // A second provider (swamp creates several) sees the same.
    const ds = await loadDatastore();
    const again = ds.createProvider({ bucket, apiEndpoint: gcs.endpoint });
    assertEquals(await again.listNamespaces("/x"), ["alpha", "beta"]);
  });
});

Deno.test("two namespaces in one bucket: syncs never cross; catalogs and foreign files are read", async () => {
  await withBucket("ns-catalog", async (gcs, p, bucket) => {
    await p.registerNamespace("/a/.swamp", "alpha", REPO_A);
    await p.registerNamespace("/b/.swamp", "beta", REPO_B);
    const a = tempDir();
    const b = tempDir();
    writeTree(a, { "alpha/data/t/m/state/1/raw": "alpha state" });
    writeTree(b, {
      "beta/data/t/m/state/1/raw": "beta state, longer",
      "beta/outputs/report.txt": "beta report",
    });
    const sa = p.createSyncService("/a", a);
    const sb = p.createSyncService("/b", b);
    assertEquals(await sa.pushChanged({ namespace: "alpha" }), 1);
    assertEquals(await sb.pushChanged({ namespace: "beta" }), 2);
    for (const name of await gcs.list(bucket)) {
      assert(
        name.startsWith("alpha/") || name.startsWith("beta/"),
        `${name} lies under a namespace`,
      );
    }
    // A fresh clone of alpha pulls alpha's file only.
    const clone = tempDir();
    assertEquals(
      await p.createSyncService("/c", clone).pullChanged({
        namespace: "alpha",
      }),
      1,
    );
    assertEquals(Object.keys(readTree(clone)), ["alpha/data/t/m/state/1/raw"]);

    // Catalog exports: written once, skipped while unchanged.
    const rowsA = [{ relPath: "data/t/m/state/1/raw", size: 11 }];
    const rowsB = [
      { relPath: "outputs/report.txt", size: 11, lastModified: "2026-01-01" },
    ];
    await sa.exportCatalog("alpha", rowsA);
    await sb.exportCatalog("beta", rowsB);
    assertEquals(
      new TextDecoder().decode(
        await gcs.get(bucket, "beta/.catalog-export.json"),
      ),
      JSON.stringify(rowsB),
    );
    const sidecar = JSON.parse(
      Deno.readTextFileSync(`${b}/.datastore-sync-state.json`),
    );
    const digest = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode(JSON.stringify(rowsB)),
      ),
    );
    const hex = [...digest].map((x) => x.toString(16).padStart(2, "0")).join(
      "",
    );
    assertEquals(sidecar.lastCatalogHash, hex);
    const e: Any = await rejects(sb.exportCatalog("beta", { not: "rows" }));
    assertEquals(e?.kind, "invalid-config");

    // alpha reads the others' catalogs and one of beta's files; its cache is untouched.
    const before = readTree(a);
    assertEquals(await sa.pullForeignCatalogs(["beta", "gamma"]), [
      { namespace: "beta", rows: rowsB },
    ]);
    const bytes = await sa.fetchForeignContent("beta", "outputs/report.txt");
    assertEquals(new TextDecoder().decode(bytes), "beta report");
    assertEquals(await sa.fetchForeignContent("beta", "outputs/none"), null);
    const traversal: Any = await rejects(
      sa.fetchForeignContent("beta", "../alpha/data/t/m/state/1/raw"),
    );
    assertEquals(traversal?.kind, "unsafe-path");
    assert(
      traversal.message.startsWith("Path traversal rejected"),
      traversal.message,
    );
    assertEquals(readTree(a), before, "nothing written to alpha's cache");
    // None of these bound the service: it still syncs its own namespace.
    assertEquals(await sa.pullChanged({ namespace: "alpha" }), 0);
  });
});
