// The sandbox of the Deno host, held to the wasmtime host's guarantees: HTTP only to the
// allow-list (refused before any connection), no path out of the cache (`..`, absolute
// paths, symlinks), and only the chosen environment.

import { assert, assertEquals } from "./assert.ts";
import {
  type Any,
  bucketName,
  FakeGcs,
  loadDatastore,
  tempDir,
  writeTree,
} from "./support.ts";
import { instantiateComponent } from "../datastores/_lib/component.ts";
import { DatastoreError, fromGuest } from "../datastores/_lib/errors.ts";
import { Descriptor, Preopen } from "../datastores/_lib/wasi/filesystem.ts";
import { AllowList } from "../datastores/_lib/wasi/http.ts";
import { Sandbox } from "../datastores/_lib/wasi/sandbox.ts";
import { PASSED_ENV, SandboxPlan } from "../datastores/_lib/sandbox_options.ts";

/** A TCP listener that counts connections. */
function listener(): {
  port: number;
  connections: () => number;
  close: () => void;
} {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let n = 0;
  (async () => {
    try {
      for await (const c of l) {
        n++;
        c.close();
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    connections: () => n,
    close: () => l.close(),
  };
}

Deno.test("a destination off the allow-list is refused before any connection", async () => {
  const server = listener();
  try {
    const cache = tempDir();
    // The sandbox allows only another port; the config points at the listener.
    const sb = new Sandbox({
      cacheDir: cache,
      allow: new AllowList().allow("127.0.0.1:1"),
      env: {},
    });
    const x = await instantiateComponent(sb);
    await x.datastore.configure(
      JSON.stringify({
        bucket: "b-ok",
        apiEndpoint: `http://127.0.0.1:${server.port}`,
        retryMaxAttempts: 1,
      }),
    );
    let err: Any;
    try {
      await x.objects.stat("k");
    } catch (e) {
      err = fromGuest(e);
    }
    assert(err instanceof DatastoreError, String(err));
    assert(/allow-list|denied/i.test(err.message), err.message);
    assertEquals(sb.counters.denied > 0, true);
    assertEquals(sb.counters.requests, 0);
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(server.connections(), 0, "nothing connected to the listener");
  } finally {
    server.close();
  }
});

Deno.test("the allow-list is the endpoint plus Google's OAuth and metadata hosts, nothing else", () => {
  const plan = new SandboxPlan({
    bucket: "b-ok",
    apiEndpoint: "http://127.0.0.1:4443",
  }, () => undefined);
  assert(plan.allow.allows("127.0.0.1:4443"));
  assert(
    !plan.allow.allows("storage.googleapis.com:443"),
    "the default endpoint is not needed",
  );
  assert(plan.allow.allows("oauth2.googleapis.com:443"));
  assert(!plan.allow.allows("127.0.0.1:4444"));
  assert(
    !plan.allow.allows("localhost:4443"),
    "authorities are compared exactly",
  );
  const def = new SandboxPlan({ bucket: "b-ok" }, () => undefined);
  assert(def.allow.allows("storage.googleapis.com:443"));
  assert(def.allow.allows("169.254.169.254:80"));
});

Deno.test("the guest sees only the environment the host chose", async () => {
  const env: Record<string, string> = {
    SECRET_TOKEN: "do-not-pass",
    AWS_SECRET_ACCESS_KEY: "nope",
    SWAMP_GCS_REQUEST_TIMEOUT_MS: "5000",
    USER: "alice",
    HOME: "/users/alice",
  };
  const plan = new SandboxPlan({
    bucket: "b-ok",
    apiEndpoint: "http://127.0.0.1:1",
  }, (k) => env[k]);
  const sb = new Sandbox(plan.options(tempDir()));
  const seen = (sb.imports["wasi:cli/environment"] as Any)
    .getEnvironment() as Array<[string, string]>;
  const names = seen.map(([k]) => k);
  for (const k of names) {
    assert(
      PASSED_ENV.includes(k) || k === "SWAMP_GCS_HOST_PID",
      `unexpected variable ${k}`,
    );
  }
  assert(
    !names.includes("SECRET_TOKEN") &&
      !names.includes("AWS_SECRET_ACCESS_KEY") && !names.includes("HOME"),
  );
  assert(
    names.includes("SWAMP_GCS_REQUEST_TIMEOUT_MS") && names.includes("USER"),
  );
  // And through the component: the timeout override it was given is in effect.
  const x = await instantiateComponent(sb);
  const eff = await x.datastore.configure(
    JSON.stringify({ bucket: "b-ok", apiEndpoint: "http://127.0.0.1:1" }),
  ) as Any;
  assertEquals(eff.requestTimeoutMs, 5000);
});

Deno.test("paths out of the cache are refused by the host's filesystem: .., absolute, symlinks", () => {
  const root = tempDir();
  const outside = tempDir();
  Deno.writeTextFileSync(`${outside}/secret`, "outside");
  writeTree(root, { "data/a/file": "inside" });
  Deno.symlinkSync(outside, `${root}/data/escape`);
  Deno.symlinkSync(`${outside}/secret`, `${root}/data/secret-link`);
  Deno.symlinkSync(`${root}/data/a/file`, `${root}/data/inner-link`);
  const dir = new Descriptor(new Preopen(root, false), [], {
    read: true,
    write: true,
    mutateDirectory: true,
  });
  const code = (f: () => unknown) => {
    try {
      f();
      return "ok";
    } catch (e) {
      return e;
    }
  };
  const follow = { symlinkFollow: true };
  const read = { read: true };
  assertEquals(
    code(() => dir.openAt(follow, "../x", {}, read)),
    "not-permitted",
  );
  assertEquals(
    code(() => dir.openAt(follow, "data/../../x", {}, read)),
    "not-permitted",
  );
  assertEquals(
    code(() => dir.openAt(follow, "/etc/passwd", {}, read)),
    "not-permitted",
  );
  assertEquals(
    code(() => dir.openAt(follow, "data/escape/secret", {}, read)),
    "not-permitted",
  );
  assertEquals(
    code(() => dir.openAt(follow, "data/secret-link", {}, read)),
    "not-permitted",
  );
  assertEquals(
    code(() => dir.openAt({}, "data/secret-link", {}, read)),
    "loop",
  );
  assertEquals(
    code(() => dir.statAt(follow, "data/escape/secret")),
    "not-permitted",
  );
  assertEquals(
    code(() => dir.createDirectoryAt("data/escape/new")),
    "not-permitted",
  );
  assertEquals(
    code(() =>
      dir.openAt(follow, "data/escape/new", { create: true }, { write: true })
    ),
    "not-permitted",
  );
  assertEquals(code(() => dir.unlinkFileAt("../outside")), "not-permitted");
  assertEquals(
    code(() => dir.renameAt("data/a/file", dir, "../moved")),
    "not-permitted",
  );
  // Inside the cache a symlink may be followed, and plain files open.
  assertEquals(
    code(() => dir.openAt(follow, "data/inner-link", {}, read)),
    "ok",
  );
  assertEquals(code(() => dir.openAt(follow, "data/a/file", {}, read)), "ok");
  assertEquals(Deno.readTextFileSync(`${outside}/secret`), "outside");
  // A read-only preopen refuses writes.
  const ro = new Descriptor(new Preopen(outside, true), [], { read: true });
  assertEquals(
    code(() => ro.openAt({}, "secret", { truncate: true }, { write: true })),
    "read-only",
  );
  assertEquals(code(() => ro.unlinkFileAt("secret")), "read-only");
});

Deno.test("through the component: a symlink out of the cache is neither pushed nor written through", async () => {
  const gcs = await FakeGcs.start();
  try {
    const bucket = bucketName("sandbox");
    await gcs.createBucket(bucket);
    const ds = await loadDatastore();
    const p = ds.createProvider({ bucket, apiEndpoint: gcs.endpoint });
    const outside = tempDir();
    Deno.writeTextFileSync(`${outside}/secret`, "outside");
    const a = tempDir();
    writeTree(a, { "data/@t/m/x/d/1/raw": "fine" });
    Deno.symlinkSync(outside, `${a}/data/@t/m/escape`);
    await p.createSyncService("/repo", a).pushChanged();
    const names = await gcs.list(bucket);
    assert(names.includes("data/@t/m/x/d/1/raw"), names.join(","));
    assert(
      !names.some((n) => n.includes("secret")),
      `nothing from outside was uploaded: ${names}`,
    );

    // Another cache whose directory is a symlink out: pulling must not write through it.
    const b = tempDir();
    const trap = tempDir();
    Deno.mkdirSync(`${b}/data/@t`, { recursive: true });
    Deno.symlinkSync(trap, `${b}/data/@t/m`);
    try {
      await p.createSyncService("/repo", b).pullChanged();
    } catch {
      // Refusing the whole pull is acceptable; writing outside is not.
    }
    assertEquals(
      [...Deno.readDirSync(trap)].length,
      0,
      "nothing written outside the cache",
    );
  } finally {
    await gcs.stop();
  }
});

Deno.test("credential files reach the guest as read-only copies, and their token endpoint is allowed", () => {
  const home = tempDir();
  const key = `${home}/key.json`;
  Deno.writeTextFileSync(
    key,
    JSON.stringify({
      type: "service_account",
      client_email: "a@b",
      private_key: "x",
      token_uri: "https://tokens.example.test/token",
    }),
  );
  const env: Record<string, string> = {
    GOOGLE_APPLICATION_CREDENTIALS: key,
    HOME: home,
  };
  const plan = new SandboxPlan({ bucket: "b-ok" }, (k) => env[k]);
  assert(
    plan.allow.allows("tokens.example.test:443"),
    "the key's token_uri is allowed",
  );
  const opts = plan.options(tempDir());
  assertEquals(
    opts.env.GOOGLE_APPLICATION_CREDENTIALS,
    "/credentials/application_credentials.json",
  );
  assert(opts.credentialsDir, "a credentials directory is preopened");
  assertEquals(
    Deno.readTextFileSync(
      `${opts.credentialsDir}/application_credentials.json`,
    ),
    Deno.readTextFileSync(key),
    "a copy, not the original",
  );
  const sb = new Sandbox(opts);
  const dirs = (sb.imports["wasi:filesystem/preopens"] as Any)
    .getDirectories() as Array<[Descriptor, string]>;
  assertEquals(dirs.map(([, p]) => p), ["/cache", "/credentials"]);
  const creds = dirs[1][0];
  let code: unknown;
  try {
    creds.openAt({}, "application_credentials.json", { truncate: true }, {
      write: true,
    });
  } catch (e) {
    code = e;
  }
  assertEquals(code, "read-only");
});
