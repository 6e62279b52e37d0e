// What one datastore's sandbox may see, chosen the same way as the wasmtime host
// (host/src/launch.rs): the cache, copies of exactly the credential files ADC needs,
// a fixed set of environment variables, and HTTP to the endpoints this config can need.

import { AllowList } from "./wasi/http.ts";
import { GUEST_CREDENTIALS_DIR, SandboxOptions } from "./wasi/sandbox.ts";

/** Variables passed to the guest when set in the process (nothing else is visible to it). */
export const PASSED_ENV = [
  "SWAMP_GCS_REQUEST_TIMEOUT_MS",
  "SWAMP_GCS_SYNC_TRACE",
  "STORAGE_EMULATOR_HOST",
  "GCE_METADATA_HOST",
  "GCE_METADATA_ROOT",
  "USER",
  "USERNAME",
  "HOSTNAME",
];

/** OAuth and metadata endpoints ADC may call. */
export const AUTH_AUTHORITIES = [
  "oauth2.googleapis.com:443",
  "accounts.google.com:443",
  "metadata.google.internal:80",
  "169.254.169.254:80",
];

export type EnvLookup = (name: string) => string | undefined;

export function processEnv(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v ? v : undefined;
}

/** The endpoint the guest will talk to, decided as the component decides it. */
export function endpointOf(
  config: Record<string, unknown>,
  env: EnvLookup,
): string {
  const configured = typeof config.apiEndpoint === "string"
    ? config.apiEndpoint
    : undefined;
  if (configured) return configured;
  const emu = env("STORAGE_EMULATOR_HOST");
  if (emu) return emu.includes("://") ? emu : `http://${emu}`;
  return "https://storage.googleapis.com";
}

/** Credential files found for ADC: where they are and what the guest calls them. */
interface CredentialCopy {
  from: string;
  guestName: string;
}

function tokenUriOf(path: string): string | undefined {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path));
    return typeof v?.token_uri === "string" ? v.token_uri : undefined;
  } catch {
    return undefined;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Sandbox options for a config and a cache directory. Copies credential files once into a
 * private directory that is removed when the process exits. */
export class SandboxPlan {
  readonly allow = new AllowList();
  readonly env: Record<string, string> = {};
  readonly #copies: CredentialCopy[] = [];
  #credentialsDir: string | undefined;

  constructor(config: Record<string, unknown>, env: EnvLookup = processEnv) {
    this.allow.allowUrl(endpointOf(config, env));
    for (const a of AUTH_AUTHORITIES) this.allow.allow(a);
    const meta = env("GCE_METADATA_HOST") ?? env("GCE_METADATA_ROOT");
    if (meta) this.allow.allowUrl(`http://${meta}`);
    for (const k of PASSED_ENV) {
      const v = env(k);
      if (v !== undefined) this.env[k] = v;
    }
    this.env.SWAMP_GCS_HOST_PID = String(Deno.pid);
    if (!this.env.HOSTNAME) {
      try {
        this.env.HOSTNAME = Deno.hostname();
      } catch {
        // No hostname permission: the lock body says "unknown".
      }
    }
    const adc = env("GOOGLE_APPLICATION_CREDENTIALS");
    if (adc) {
      this.#credential(adc, "application_credentials.json");
      this.env.GOOGLE_APPLICATION_CREDENTIALS =
        `${GUEST_CREDENTIALS_DIR}/application_credentials.json`;
    }
    const gcloud = env("CLOUDSDK_CONFIG") ??
      (env("HOME") ? `${env("HOME")}/.config/gcloud` : undefined);
    if (gcloud && isFile(`${gcloud}/application_default_credentials.json`)) {
      this.#credential(
        `${gcloud}/application_default_credentials.json`,
        "gcloud/application_default_credentials.json",
      );
      this.env.CLOUDSDK_CONFIG = `${GUEST_CREDENTIALS_DIR}/gcloud`;
    }
  }

  #credential(from: string, guestName: string): void {
    const uri = tokenUriOf(from);
    if (uri) this.allow.allowUrl(uri);
    this.#copies.push({ from, guestName });
  }

  /** The read-only directory of credential copies (made on first use). */
  #credentials(): string | undefined {
    if (this.#copies.length === 0) return undefined;
    if (!this.#credentialsDir) {
      const dir = Deno.makeTempDirSync({ prefix: "swamp-gcs-credentials-" });
      for (const c of this.#copies) {
        const to = `${dir}/${c.guestName}`;
        Deno.mkdirSync(to.slice(0, to.lastIndexOf("/")), { recursive: true });
        try {
          Deno.copyFileSync(c.from, to);
          Deno.chmodSync(to, 0o600);
        } catch {
          // A missing file: the guest reports the credential error with its remedy.
        }
      }
      removeAtExit(dir);
      this.#credentialsDir = dir;
    }
    return this.#credentialsDir;
  }

  options(cacheDir: string): SandboxOptions {
    return {
      cacheDir,
      allow: this.allow,
      env: { ...this.env },
      credentialsDir: this.#credentials(),
    };
  }
}

const toRemove = new Set<string>();
let hooked = false;

/** Remove `dir` when the process exits normally. */
export function removeAtExit(dir: string): void {
  toRemove.add(dir);
  if (hooked) return;
  hooked = true;
  globalThis.addEventListener("unload", () => {
    for (const d of toRemove) {
      try {
        Deno.removeSync(d, { recursive: true });
      } catch {
        // Already gone.
      }
    }
  });
}

let scratch: string | undefined;

/** A private empty directory for instances that need no cache (locks, the verifier). */
export function scratchDir(): string {
  if (!scratch) {
    scratch = Deno.makeTempDirSync({ prefix: "swamp-gcs-scratch-" });
    removeAtExit(scratch);
  }
  return scratch;
}
