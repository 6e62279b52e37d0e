import { bucketName, FakeGcs, modelFiles, tempDir, writeTree } from "./support.ts";
import { Guest } from "../datastores/_lib/guest.ts";
import { SandboxPlan } from "../datastores/_lib/sandbox_options.ts";
Deno.test("perf", async () => {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName("perf");
    await gcs.createBucket(bucket);
    const cfg = { bucket, apiEndpoint: gcs.endpoint };
    const plan = new SandboxPlan(cfg);
    const a = tempDir();
    writeTree(a, modelFiles(1000));
    const g = new Guest(JSON.stringify(cfg), () => plan.options(a));
    await g.run((x) => x.syncService.capabilities());
    const s = (await g.sandbox())!;
    let t = performance.now();
    const r1 = await g.run((x) => x.syncService.pushChanged({ metadataOnly: false })); console.log(r1.phases.map((p) => `${p.name}=${p.millis.toFixed(0)}`).join(" "));
    console.log("push", performance.now() - t, s.sched.polls, s.sched.suspensions, s.sched.longestRunMs, s.counters.requests);
    const b = tempDir();
    const g2 = new Guest(JSON.stringify(cfg), () => plan.options(b));
    await g2.run((x) => x.syncService.capabilities());
    const s2 = (await g2.sandbox())!;
    t = performance.now();
    const r2 = await g2.run((x) => x.syncService.pullChanged({ metadataOnly: false })); console.log(r2.phases.map((p) => `${p.name}=${p.millis.toFixed(0)}`).join(" "));
    console.log("pull", performance.now() - t, s2.sched.polls, s2.sched.suspensions, s2.sched.longestRunMs, s2.counters.requests);
  } finally {
    await gcs.stop();
  }
});
