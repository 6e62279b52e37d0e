// The v1 scenarios through the swamp extension under Deno, beside the wasmtime host, in one
// invocation: the wasmtime numbers come from the project's bench binary run first, on the
// same machine, then the extension runs the same transfers in this process.
//
//   extension/node_modules/@deno/linux-x64-glibc/deno run -A --config extension/deno.json \
//     extension/bench/bench.ts \
//     [--trials N] [--smoke] [--json FILE]
//
// Reported per scenario: median wall time of both hosts and their ratio, requests sent,
// the Deno process's peak resident set during the call, and the longest gap of a 10 ms
// interval timer during the call (how long swamp's event loop was kept waiting).

import { Guest } from "../datastores/_lib/guest.ts";
import { SandboxPlan } from "../datastores/_lib/sandbox_options.ts";
import {
  coreModules,
  type WitSyncOptions,
} from "../datastores/_lib/component.ts";
import { bucketName, FakeGcs, ROOT, writeTree } from "../tests/support.ts";

const args = Deno.args;
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SMOKE = flag("--smoke");
const TRIALS = SMOKE ? 1 : Number(value("--trials") ?? 3);
const WORK = Deno.statSync("/dev/shm").isDirectory
  ? "/dev/shm"
  : Deno.makeTempDirSync();

const MODELS = 50;
const FILES = 1000;

/** The v1 seed: 1000 JSON files of about 5.1 KB over 50 models, as the Rust bench seeds. */
function seed(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f < FILES; f++) {
    const m = f % MODELS;
    const rel = `data/@test/model-type-${String(m).padStart(3, "0")}/${
      modelId(m)
    }/file-${String(f).padStart(4, "0")}.json`;
    files[rel] = JSON.stringify({ id: f, model: m, data: "x".repeat(5020) });
  }
  return files;
}

function modelId(m: number): string {
  return `00000000-0000-4000-8000-${String(m).padStart(12, "0")}`;
}

interface Sample {
  ms: number;
  requests: number;
  peakRssKib: number;
  gapMs: number;
  files: number;
  waitedMs: number;
}

/** Run `fn` with a 10 ms ticker and an RSS sampler. */
async function measure(
  fn: () => Promise<number>,
  requests: (() => number) & { waited?: () => number },
): Promise<Sample> {
  const before = requests();
  const waitedBefore = requests.waited?.() ?? 0;
  let last = performance.now();
  let gap = 0;
  let peak = Deno.memoryUsage().rss;
  const id = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 10);
  const start = performance.now();
  const files = await fn();
  const end = performance.now();
  clearInterval(id);
  gap = Math.max(gap, end - last);
  peak = Math.max(peak, Deno.memoryUsage().rss);
  return {
    ms: end - start,
    requests: requests() - before,
    peakRssKib: Math.round(peak / 1024),
    gapMs: gap,
    files,
    waitedMs: (requests.waited?.() ?? 0) - waitedBefore,
  };
}

interface Scenario {
  id: string;
  name: string;
  run(gcs: FakeGcs): Promise<Sample>;
}

let seq = 0;

async function service(
  gcs: FakeGcs,
  bucket: string,
): Promise<{ guest: Guest; cache: string }> {
  const cache = `${WORK}/gcs-ext-bench-${Deno.pid}-${seq++}`;
  Deno.mkdirSync(cache, { recursive: true });
  const config = { bucket, apiEndpoint: gcs.endpoint };
  const plan = new SandboxPlan(config);
  const guest = new Guest(JSON.stringify(config), () => plan.options(cache));
  // Instantiate before the timed call, as the Rust bench loads the component first.
  await guest.run((x) => x.syncService.capabilities());
  return { guest, cache };
}

const opts = (o: Partial<WitSyncOptions> = {}): WitSyncOptions => ({
  metadataOnly: false,
  ...o,
});

/** Requests sent so far, and the time the guest has waited on the network, ms. */
async function counter(
  g: Guest,
): Promise<(() => number) & { waited?: () => number }> {
  const sb = (await g.sandbox())!;
  return Object.assign(() => sb.counters.requests, {
    waited: () => sb.sched.waitedMs,
  });
}

/** A bucket holding the seed, pushed by a first cache. */
async function seeded(
  gcs: FakeGcs,
): Promise<{ bucket: string; first: { guest: Guest; cache: string } }> {
  const bucket = bucketName("bench");
  await gcs.createBucket(bucket);
  const first = await service(gcs, bucket);
  writeTree(first.cache, seed());
  await first.guest.run((x) => x.syncService.pushChanged(opts()));
  return { bucket, first };
}

const SCENARIOS: Scenario[] = [
  {
    id: "v1-01-push-cold",
    name: "Push 1000 files (cold)",
    async run(gcs) {
      const bucket = bucketName("bench");
      await gcs.createBucket(bucket);
      const s = await service(gcs, bucket);
      writeTree(s.cache, seed());
      return measure(
        async () =>
          (await s.guest.run((x) => x.syncService.pushChanged(opts()))).files,
        await counter(s.guest),
      );
    },
  },
  {
    id: "v1-02-push-one",
    name: "Push 1 modified / 1000",
    async run(gcs) {
      const { first } = await seeded(gcs);
      const rel = Object.keys(seed())[7];
      await first.guest.run((x) =>
        x.syncService.markDirty(opts({ relPath: rel }))
      );
      Deno.writeTextFileSync(
        `${first.cache}/${rel}`,
        JSON.stringify({ changed: true, data: "y".repeat(5000) }),
      );
      return measure(
        async () =>
          (await first.guest.run((x) => x.syncService.pushChanged(opts())))
            .files,
        await counter(first.guest),
      );
    },
  },
  {
    id: "v1-03-noop-push",
    name: "No-op push (fast path)",
    async run(gcs) {
      const { first } = await seeded(gcs);
      return measure(
        async () =>
          (await first.guest.run((x) => x.syncService.pushChanged(opts())))
            .files,
        await counter(first.guest),
      );
    },
  },
  {
    id: "v1-05-pull-cold",
    name: "Pull 1000 files (cold)",
    async run(gcs) {
      const { bucket } = await seeded(gcs);
      const s = await service(gcs, bucket);
      return measure(
        async () =>
          (await s.guest.run((x) => x.syncService.pullChanged(opts()))).files,
        await counter(s.guest),
      );
    },
  },
  {
    id: "v1-07-noop-pull",
    name: "No-op pull (fast path)",
    async run(gcs) {
      const { bucket } = await seeded(gcs);
      const s = await service(gcs, bucket);
      await s.guest.run((x) => x.syncService.pullChanged(opts()));
      return measure(
        async () =>
          (await s.guest.run((x) => x.syncService.pullChanged(opts()))).files,
        await counter(s.guest),
      );
    },
  },
];

interface RustResult {
  id: string;
  wall_ms: { median: number };
  requests_total: number;
  memory: { peak_kib: number };
}

async function wasmtimeResults(
  ids: string[],
): Promise<Map<string, RustResult>> {
  const json = `${WORK}/gcs-ext-bench-wasmtime-${Deno.pid}.json`;
  const bin = `${ROOT}/target/release/bench`;
  const a = SMOKE ? ["--smoke"] : ["--trials", String(TRIALS)];
  for (const id of ids) a.push("--scenario", id);
  console.error(
    `bench: the wasmtime host first (${bin.replace(ROOT + "/", "")} ${
      a.join(" ")
    })`,
  );
  const out = await new Deno.Command(bin, {
    args: [...a, "--json", json],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the wasmtime bench failed");
  const report = JSON.parse(Deno.readTextFileSync(json));
  Deno.removeSync(json);
  return new Map((report.scenarios as RustResult[]).map((r) => [r.id, r]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One trial of one scenario in a fresh Deno process: what a short swamp command pays
 * (decode, compile, baseline-tier code). Prints the sample as JSON. */
async function child(id: string): Promise<void> {
  const s = SCENARIOS.find((x) => x.id === id);
  if (!s) throw new Error(`no scenario ${id}`);
  const gcs = await FakeGcs.start();
  try {
    const t = performance.now();
    await coreModules();
    const compileMs = performance.now() - t;
    console.log(JSON.stringify({ ...(await s.run(gcs)), compileMs }));
  } finally {
    await gcs.stop();
  }
}

async function freshProcess(
  id: string,
): Promise<Sample & { compileMs: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL(import.meta.url).pathname,
      "--child",
      id,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${id}: the fresh-process trial failed`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

async function main(): Promise<void> {
  const only = value("--child");
  if (only) return child(only);
  const wasm = await wasmtimeResults(SCENARIOS.map((s) => s.id));
  const gcs = await FakeGcs.start();
  const rows: Array<Record<string, unknown>> = [];
  try {
    for (const s of SCENARIOS) {
      console.error(
        `bench: ${s.id} through the extension (${TRIALS} trial(s) after a warm-up)`,
      );
      // Warm (after a discarded warm-up, as the Rust bench does) and, separately, one trial
      // in a fresh process, which is what a short swamp command pays.
      const warm = SMOKE ? undefined : await s.run(gcs);
      const fresh = SMOKE ? undefined : await freshProcess(s.id);
      const samples: Sample[] = [];
      for (let t = 0; t < TRIALS; t++) samples.push(await s.run(gcs));
      const w = wasm.get(s.id);
      const ext = median(samples.map((x) => x.ms));
      rows.push({
        id: s.id,
        name: s.name,
        extMs: ext,
        warmupMs: warm?.ms,
        freshProcessMs: fresh?.ms,
        compileMs: fresh?.compileMs,
        wasmtimeMs: w?.wall_ms.median,
        ratio: w ? ext / w.wall_ms.median : undefined,
        extRequests: samples[0].requests,
        wasmtimeRequests: w?.requests_total,
        files: samples[0].files,
        extPeakRssMiB: Math.max(...samples.map((x) => x.peakRssKib)) / 1024,
        wasmtimePeakRssMiB: w ? w.memory.peak_kib / 1024 : undefined,
        longestGapMs: Math.max(...samples.map((x) => x.gapMs)),
        waitedMs: median(samples.map((x) => x.waitedMs)),
      });
    }
  } finally {
    await gcs.stop();
  }
  const f = (n: unknown, d = 0) => (typeof n === "number" ? n.toFixed(d) : "-");
  console.log(
    "| scenario | extension (Deno) ms | in a fresh process (+ decode and compile) | of which waiting on the network | wasmtime ms | ratio | requests ext / wasmtime | peak RSS MiB ext / wasmtime | longest event-loop gap ms |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${f(r.extMs, 1)} | ${f(r.freshProcessMs, 1)} (+${
        f(r.compileMs)
      }) | ${f(r.waitedMs, 1)} | ${f(r.wasmtimeMs, 1)} | ${
        f(r.ratio, 2)
      }× | ${r.extRequests} / ${r.wasmtimeRequests ?? "-"} | ${
        f(r.extPeakRssMiB)
      } / ${f(r.wasmtimePeakRssMiB)} | ${f(r.longestGapMs, 1)} |`,
    );
  }
  const json = value("--json");
  if (json) {
    Deno.writeTextFileSync(
      json,
      JSON.stringify(
        { trials: TRIALS, smoke: SMOKE, scenarios: rows },
        null,
        2,
      ) + "\n",
    );
  }
  if (SMOKE) {
    for (const r of rows) {
      if (
        r.wasmtimeRequests !== undefined && r.extRequests !== r.wasmtimeRequests
      ) {
        throw new Error(
          `${r.id}: ${r.extRequests} requests through the extension, ${r.wasmtimeRequests} through wasmtime`,
        );
      }
    }
  }
}

if (import.meta.main) await main();
