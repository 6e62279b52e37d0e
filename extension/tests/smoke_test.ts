import { bucketName, FakeGcs, loadDatastore, modelFiles, readTree, tempDir, writeTree } from "./support.ts";

Deno.test("smoke: push then pull through the extension", async () => {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName("smoke");
    await gcs.createBucket(bucket);
    const ds = await loadDatastore();
    const provider = ds.createProvider({ bucket, apiEndpoint: gcs.endpoint });
    const a = tempDir();
    writeTree(a, modelFiles(50));
    const sa = provider.createSyncService("/repo", a);
    let t = performance.now();
    const pushed = await sa.pushChanged();
    console.log("pushed", pushed, performance.now() - t);
    const b = tempDir();
    const sb = provider.createSyncService("/repo", b);
    t = performance.now();
    const pulled = await sb.pullChanged();
    console.log("pulled", pulled, performance.now() - t);
    t = performance.now();
    const again = await sb.pullChanged();
    console.log("noop pull", again, performance.now() - t);
    const ta = readTree(a), tb = readTree(b);
    if (JSON.stringify(ta) !== JSON.stringify(tb)) throw new Error(`trees differ: ${Object.keys(ta).length} vs ${Object.keys(tb).length}: ${Object.keys(tb).slice(0, 5)}`);
  } finally {
    await gcs.stop();
  }
});
