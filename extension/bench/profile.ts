// CPU profile of one cold push or cold pull through the extension (V8's sampling profiler via
// node:inspector), summarised as self time per function: where the extension's CPU goes.
//
//   deno run -A --config extension/deno.json extension/bench/profile.ts [push|pull] [--top N]
//
// Build with `GCS_EXT_KEEP_NAMES=1 ./scripts/build-extension.sh` first to see the guest's
// function names instead of `wasm-function[N]` (and rebuild without it before shipping).
import { Session } from "node:inspector";
import { Guest } from "../datastores/_lib/guest.ts";
import { SandboxPlan } from "../datastores/_lib/sandbox_options.ts";
import { bucketName, FakeGcs, writeTree } from "../tests/support.ts";

const which = Deno.args[0] ?? "push";
const topIdx = Deno.args.indexOf("--top");
const TOP = topIdx >= 0 ? Number(Deno.args[topIdx + 1]) : 40;

function seed(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f < 1000; f++) {
    const m = f % 50;
    files[
      `data/@test/model-type-${String(m).padStart(3, "0")}/m-${m}/file-${
        String(f).padStart(4, "0")
      }.json`
    ] = JSON.stringify({ id: f, model: m, data: "x".repeat(5020) });
  }
  return files;
}

// --count: count the calls into every class of the WASI layer instead of profiling.
const COUNT = Deno.args.includes("--count");
// --trials N: no profiler, just the wall time of N transfers after the warm-up.
const trialsIdx = Deno.args.indexOf("--trials");
const TRIALS = trialsIdx >= 0 ? Number(Deno.args[trialsIdx + 1]) : 0;
const times: number[] = [];
const cpus: number[] = [];
/** CPU time of this process so far (user + system), ms, from /proc. */
function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
const calls = new Map<string, number>();
if (COUNT) {
  for (const mod of ["basics", "filesystem", "http", "poll", "streams"]) {
    const m = await import(`../datastores/_lib/wasi/${mod}.ts`);
    for (const [name, value] of Object.entries(m)) {
      if (typeof value !== "function" || !value.prototype) continue;
      const wrap = (obj: Record<string, unknown>, label: string) => {
        for (const key of Object.getOwnPropertyNames(obj)) {
          if (key === "constructor") continue;
          const d = Object.getOwnPropertyDescriptor(obj, key);
          if (!d || typeof d.value !== "function") continue;
          const f = d.value;
          obj[key] = function (this: unknown, ...a: unknown[]) {
            const k = `${label}.${key}`;
            calls.set(k, (calls.get(k) ?? 0) + 1);
            return f.apply(this, a);
          };
        }
      };
      wrap(value.prototype, name);
      wrap(value, `${name}(static)`);
    }
  }
}
const gcs = await FakeGcs.start();
let seq = 0;
async function service(bucket: string) {
  const cache = Deno.makeTempDirSync({
    dir: "/dev/shm",
    prefix: `prof-${seq++}-`,
  });
  const config = { bucket, apiEndpoint: gcs.endpoint };
  const plan = new SandboxPlan(config);
  const guest = new Guest(JSON.stringify(config), () => plan.options(cache));
  await guest.run((x) => x.syncService.capabilities());
  return { guest, cache };
}
const opts = { metadataOnly: false };

const session = new Session();
session.connect();
const post = (m: string, p?: unknown) =>
  new Promise<Profiled>((res, rej) =>
    session.post(
      m,
      p as Record<string, unknown>,
      (e: Error | null, r: unknown) => (e ? rej(e) : res(r as Profiled)),
    )
  );

try {
  // A warm-up transfer, then the profiled one, each on a fresh bucket and cache.
  for (let round = 0; round < (TRIALS ? TRIALS + 1 : 2); round++) {
    const bucket = bucketName("prof");
    await gcs.createBucket(bucket);
    const a = await service(bucket);
    writeTree(a.cache, seed());
    let run: () => Promise<unknown>;
    if (which === "push") {
      run = () => a.guest.run((x) => x.syncService.pushChanged(opts));
    } else {
      await a.guest.run((x) => x.syncService.pushChanged(opts));
      const b = await service(bucket);
      run = () => b.guest.run((x) => x.syncService.pullChanged(opts));
    }
    calls.clear();
    if (round === 1 && !COUNT && !TRIALS) {
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 100 });
      await post("Profiler.start");
    }
    const c0 = cpuMs();
    const t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    const cpu = cpuMs() - c0;
    if (TRIALS) {
      if (round > 0) times.push(ms), cpus.push(cpu);
      if (round === TRIALS) {
        times.sort((a, b) => a - b);
        cpus.sort((a, b) => a - b);
        console.log(
          `${which}: CPU median ${cpus[cpus.length >> 1]} ms of ${
            cpus.join(", ")
          }`,
        );
        console.log(
          `${which}: median ${times[times.length >> 1].toFixed(0)} ms of ${
            times.map((t) => t.toFixed(0)).join(", ")
          }`,
        );
      }
    } else if (round === 1 && COUNT) {
      const rows = [...calls.entries()].sort((a, b) => b[1] - a[1]);
      let all = 0;
      for (const [, n] of rows) all += n;
      console.log(
        `${which}: ${
          ms.toFixed(0)
        } ms wall, ${all} calls into the WASI classes`,
      );
      for (const [k, n] of rows) console.log(`${String(n).padStart(8)}  ${k}`);
    } else if (round === 1) {
      const { profile } = await post("Profiler.stop");
      report(profile, ms);
    }
  }
} finally {
  await gcs.stop();
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profiled {
  profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
}

function report(profile: Profiled["profile"], ms: number) {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<string, number>();
  const deltas: number[] = profile.timeDeltas;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const d = (deltas[i + 1] ?? 0) / 1000;
    const cf = n.callFrame;
    const url = String(cf.url ?? "").split("/").slice(-1)[0];
    const key = `${cf.functionName || "(anon)"} ${url}:${cf.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + d);
    total += d;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]);
  console.log(
    `${which}: ${ms.toFixed(0)} ms wall, ${total.toFixed(0)} ms sampled`,
  );
  for (const [k, v] of rows.slice(0, TOP)) {
    console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
  }
}
