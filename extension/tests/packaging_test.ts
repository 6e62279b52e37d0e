// The built extension folder passes swamp's registry rules: allowed file types only, no file
// over 1,000,000 bytes, 10 MB in all, deno fmt --check and deno lint clean, no dynamic
// import and nothing found next to the module at run time.

import { assert, assertEquals } from "./assert.ts";
import { EXT } from "./support.ts";

const DIST = Deno.env.get("GCS_EXT_DIST") ?? `${EXT}/dist/gcs-datastore`;
const ALLOWED = [".ts", ".json", ".md", ".yaml", ".yml", ".txt"];

function files(dir: string, rel = ""): Array<{ rel: string; size: number }> {
  const out: Array<{ rel: string; size: number }> = [];
  for (const e of Deno.readDirSync(rel ? `${dir}/${rel}` : dir)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...files(dir, r));
    else out.push({ rel: r, size: Deno.statSync(`${dir}/${r}`).size });
  }
  return out;
}

Deno.test("the extension folder meets the registry's file rules", () => {
  const all = files(DIST);
  assert(all.some((f) => f.rel === "manifest.yaml"), "manifest.yaml");
  assert(
    all.some((f) => f.rel === "datastores/gcs_datastore.ts"),
    "the datastore module",
  );
  let total = 0;
  for (const f of all) {
    assert(
      ALLOWED.some((x) => f.rel.endsWith(x)),
      `allowed file type: ${f.rel}`,
    );
    assert(f.size <= 1_000_000, `${f.rel} is ${f.size} bytes`);
    total += f.size;
  }
  assert(total <= 10_000_000, `${total} bytes in all`);
  console.log(
    `${all.length} files, ${total} bytes; largest ${
      Math.max(...all.map((f) => f.size))
    } bytes`,
  );
  for (const f of all.filter((f) => f.rel.endsWith(".ts"))) {
    const text = Deno.readTextFileSync(`${DIST}/${f.rel}`);
    assert(!/\bimport\s*\(/.test(text), `no dynamic import in ${f.rel}`);
    assert(
      !text.includes("import.meta"),
      `nothing located through import.meta in ${f.rel}`,
    );
  }
  const manifest = Deno.readTextFileSync(`${DIST}/manifest.yaml`);
  assert(/^manifestVersion: 1$/m.test(manifest));
  assert(
    /^version: "\d{4}\.\d{2}\.\d{2}\.\d+"$/m.test(manifest),
    "CalVer version",
  );
  assert(/^\s+- gcs_datastore\.ts$/m.test(manifest), "the datastore is listed");
});

async function denoIn(
  dir: string,
  args: string[],
): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("deno fmt --check and deno lint pass on the built folder", async () => {
  // --no-config: the folder is checked as published, not with this repository's settings.
  const fmt = await denoIn(DIST, ["fmt", "--check", "--no-config", "."]);
  assert(fmt.ok, fmt.out);
  const lint = await denoIn(DIST, ["lint", "--no-config", "."]);
  assert(lint.ok, lint.out);
  assertEquals(fmt.out.includes("Checked"), true);
});
