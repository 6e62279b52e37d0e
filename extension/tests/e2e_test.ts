// End to end against fake-gcs-server through the module swamp loads: push, pull, scoped and
// metadata-only pulls with hydration, deletions, and both directions between the extension
// and the wasmtime command line on one bucket.

import { assert, assertEquals } from "./assert.ts";
import {
  type Any,
  bucketName,
  FakeGcs,
  loadDatastore,
  modelFiles,
  readTree,
  ROOT,
  tempDir,
  writeTree,
} from "./support.ts";

async function withBucket(
  tag: string,
  fn: (
    gcs: FakeGcs,
    provider: Any,
    config: Record<string, unknown>,
  ) => Promise<void>,
) {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName(tag);
    await gcs.createBucket(bucket);
    const config = { bucket, apiEndpoint: gcs.endpoint };
    const ds = await loadDatastore();
    await fn(gcs, ds.createProvider(config), config);
  } finally {
    await gcs.stop();
  }
}

Deno.test("push, pull, no-op pull and deletions through the extension", async () => {
  await withBucket("e2e", async (gcs, p, config) => {
    const a = tempDir();
    const files = modelFiles(60);
    writeTree(a, files);
    const sa = p.createSyncService("/repo", a);
    assertEquals(await sa.pushChanged(), 60);
    assertEquals(
      await sa.pushChanged(),
      0,
      "nothing changed: nothing uploaded",
    );
    const b = tempDir();
    const sb = p.createSyncService("/repo", b);
    assertEquals(await sb.pullChanged(), 60);
    assertEquals(readTree(b), readTree(a));
    assertEquals(await sb.pullChanged(), 0, "no-op pull");

    // A deletion: swamp marks the path dirty before removing it; the push deletes the object.
    const gone = Object.keys(files)[0];
    await sa.markDirty({ relPath: gone });
    Deno.removeSync(`${a}/${gone}`);
    await sa.pushChanged();
    const names = await gcs.list(config.bucket as string);
    assert(!names.includes(gone), "the remote object was deleted");
    assert(names.includes(Object.keys(files)[1]), "its neighbours stay");

    // A change: marked, rewritten, pushed, pulled elsewhere.
    const changed = Object.keys(files)[2];
    await sa.markDirty({ relPath: changed });
    Deno.writeTextFileSync(
      `${a}/${changed}`,
      "rewritten, longer than before: " + "z".repeat(6000),
    );
    assertEquals(await sa.pushChanged(), 1);
    const c = tempDir();
    await p.createSyncService("/repo", c).pullChanged();
    assertEquals(readTree(c), readTree(a));
  });
});

Deno.test("scoped pull, metadata-only pull and hydrateFile through the extension", async () => {
  await withBucket("lazy", async (_gcs, p) => {
    const a = tempDir();
    const files = {
      ...modelFiles(40),
      "data/@test/model-type/m3/out-3/1/metadata.yaml": "version: 1\n",
      "workflow-runs/deploy/run-1.yaml": "status: ok\n",
    };
    writeTree(a, files);
    await p.createSyncService("/repo", a).pushChanged();

    // Scoped: only model m3's files arrive.
    const scoped = tempDir();
    const ss = p.createSyncService("/repo", scoped);
    const n = await ss.pullChanged({
      context: { models: [{ modelType: "@test/model-type", modelId: "m3" }] },
    });
    const got = Object.keys(readTree(scoped));
    assert(
      n > 0 && got.length === n,
      `scoped pull wrote ${got.length} of ${n}`,
    );
    assert(
      got.every((k) => k.startsWith("data/@test/model-type/m3/")),
      `only m3: ${got}`,
    );

    // Metadata-only: no data/**/raw, then hydrate one on demand.
    const lazy = tempDir();
    const sl = p.createSyncService("/repo", lazy);
    await sl.pullChanged({ metadataOnly: true });
    const lazyTree = readTree(lazy);
    assert(
      !Object.keys(lazyTree).some((k) =>
        k.startsWith("data/") && k.endsWith("/raw")
      ),
      "no raw files yet",
    );
    assertEquals(lazyTree["workflow-runs/deploy/run-1.yaml"], "status: ok\n");
    assertEquals(
      lazyTree["data/@test/model-type/m3/out-3/1/metadata.yaml"],
      "version: 1\n",
    );
    const raw = "data/@test/model-type/m3/out-3/1/raw";
    assertEquals(await sl.hydrateFile(raw), true);
    assertEquals(
      Deno.readTextFileSync(`${lazy}/${raw}`),
      files[raw as keyof typeof files],
    );
    assertEquals(
      await sl.hydrateFile("data/@test/model-type/m3/no-such/1/raw"),
      false,
    );
  });
});

const CLI = `${ROOT}/target/release/swamp-gcs`;

async function cli(
  args: string[],
  config: Record<string, unknown>,
  cache: string,
): Promise<Any> {
  const out = await new Deno.Command(CLI, {
    args: [
      ...args,
      "--config",
      JSON.stringify(config),
      "--cache",
      cache,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `swamp-gcs ${args.join(" ")} failed: ${text} ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return JSON.parse(text);
}

function filesOf(report: Any): number {
  return report.files ?? report.report?.files ?? report.push?.files ??
    report.pull?.files;
}

Deno.test("the wasmtime CLI and the extension share a bucket both ways with no re-upload", async () => {
  try {
    Deno.statSync(CLI);
  } catch {
    throw new Error(
      "target/release/swamp-gcs is missing: build the workspace first (cargo build --release)",
    );
  }
  await withBucket("interop", async (_gcs, p, config) => {
    // CLI pushes, the extension pulls.
    const a = tempDir();
    writeTree(a, modelFiles(30));
    const pushed = await cli(["push"], config, a);
    assertEquals(filesOf(pushed), 30, JSON.stringify(pushed));
    const b = tempDir();
    const sb = p.createSyncService("/repo", b);
    assertEquals(await sb.pullChanged(), 30);
    assertEquals(readTree(b), readTree(a));
    assertEquals(
      await sb.pushChanged(),
      0,
      "the extension finds nothing to re-upload",
    );

    // The extension pushes new files, the CLI pulls them.
    writeTree(b, { "data/@test/model-type/m99/new/1/raw": "from deno" });
    await sb.markDirty({ relPath: "data/@test/model-type/m99/new/1/raw" });
    assertEquals(await sb.pushChanged(), 1);
    const pulled = await cli(["pull"], config, a);
    assertEquals(filesOf(pulled), 1, JSON.stringify(pulled));
    assertEquals(readTree(a), readTree(b));
    const again = await cli(["push"], config, a);
    assertEquals(
      filesOf(again),
      0,
      `the CLI finds nothing to re-upload: ${JSON.stringify(again)}`,
    );
  });
});

Deno.test("two caches through the extension: an equal-size rewrite is pulled, a conflict is kept and said", async () => {
  await withBucket("conflict", async (_gcs, p) => {
    const rel = "data/@test/model-type/m1/out/1/raw";
    const x = tempDir();
    writeTree(x, { [rel]: "AAAA" });
    const sx = p.createSyncService("/repo", x);
    await sx.pushChanged();
    const y = tempDir();
    const sy = p.createSyncService("/repo", y);
    assertEquals(await sy.pullChanged(), 1);

    // X rewrites it with the same size; Y's pull takes it.
    await sx.markDirty({ relPath: rel });
    Deno.writeTextFileSync(`${x}/${rel}`, "BBBB");
    assertEquals(await sx.pushChanged(), 1);
    assertEquals(await sy.pullChanged(), 1);
    assertEquals(Deno.readTextFileSync(`${y}/${rel}`), "BBBB");

    // Both change it: Y keeps its bytes and is told, in one line.
    await sx.markDirty({ relPath: rel });
    Deno.writeTextFileSync(`${x}/${rel}`, "CCCC");
    await sx.pushChanged();
    await sy.markDirty({ relPath: rel });
    Deno.writeTextFileSync(`${y}/${rel}`, "YYYY");
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => warnings.push(a.join(" "));
    try {
      await sy.pullChanged();
    } finally {
      console.warn = warn;
    }
    assertEquals(
      Deno.readTextFileSync(`${y}/${rel}`),
      "YYYY",
      "local work is never overwritten",
    );
    assertEquals(warnings.length, 1, warnings.join("\n"));
    assert(
      warnings[0].includes(rel) && !warnings[0].includes("\n") &&
        warnings[0].includes("hint:"),
      warnings[0],
    );
  });
});

Deno.test("migrate-index, two-phase push and push preview through the extension", async () => {
  await withBucket("v2", async (gcs, p, config) => {
    const a = tempDir();
    const files = modelFiles(20);
    writeTree(a, files);
    const sa = p.createSyncService("/repo", a);
    assertEquals(await sa.pushChanged(), 20);
    const migrated = await sa.migrateMonolithToShards();
    assertEquals(migrated.version, 2);
    assertEquals(migrated.commitSeq, 1);
    assert(migrated.partitions.length > 0, "shards listed");
    const again = await sa.migrateMonolithToShards();
    assertEquals(again, migrated, "a rerun changes nothing");
    assertEquals(await sa.pullChanged(), 0);

    const changed = Object.keys(files)[3];
    await sa.markDirty({ relPath: changed });
    Deno.writeTextFileSync(`${a}/${changed}`, "two-phase: " + "q".repeat(900));
    assertEquals(await sa.previewPush(), {
      total: 1,
      new: 0,
      changed: 1,
      deleted: 0,
    });
    const seq = async () =>
      JSON.parse(
        new TextDecoder().decode(
          await gcs.get(config.bucket as string, "_index/_meta.json"),
        ),
      ).commitSeq;
    const manifest = await sa.preparePush();
    assertEquals(await seq(), 1, "prepared, not yet committed");
    assertEquals(await sa.commitPush(manifest), 1);
    assertEquals(await seq(), 2, "committed");
    const b = tempDir();
    assertEquals(await p.createSyncService("/repo", b).pullChanged(), 20);
    assertEquals(readTree(b), readTree(a));
    const caps = sa.capabilities();
    assert(caps.twoPhaseSync && caps.previewPush, JSON.stringify(caps));
  });
});
