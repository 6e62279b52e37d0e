// Guest errors as JavaScript errors swamp understands: one line with a hint, a
// `LockTimeoutError` carrying the lock's facts, an `AbortError` on abort.

/** The WIT `error` variant as the bindings hand it over. */
export interface WitError {
  tag: string;
  val: unknown;
}

/** Any failure of the datastore; `kind` is the WIT case (`not-found`, `timeout`, …). */
export class DatastoreError extends Error {
  constructor(
    readonly kind: string,
    readonly detail: string,
    readonly hint: string | undefined,
  ) {
    super(hint ? `${detail} (hint: ${hint})` : detail);
    this.name = "DatastoreError";
  }
}

/** swamp core's lock timeout: same name and fields as the TypeScript extension's. */
export class LockTimeoutError extends Error {
  constructor(
    readonly lockKey: string,
    readonly holder: string | undefined,
    readonly waitedMs: number,
    message: string,
  ) {
    super(message);
    this.name = "LockTimeoutError";
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/** The hint for each kind the guest reports without one of its own. */
const HINTS: Record<string, string> = {
  "not-found":
    "check `bucket` and `prefix` in the datastore config; the bucket must exist",
  "unsupported-layout":
    "this datastore syncs only the monolithic (v1) index layout; use the TypeScript @swamp/gcs-datastore for this bucket until shard-first support lands",
  "malformed-remote":
    "a sync file in the bucket is not in its format (written by another tool, or damaged) and nothing was written; inspect that object",
  "namespace-mismatch":
    "one sync service serves one namespace; use a separate datastore for each namespace",
  "namespace-taken":
    "choose another namespace, or have the owner's manifest removed from the bucket if that repository is gone",
  "precondition-failed":
    "another client changed the same object at the same moment; run the command again",
  "rate-limited":
    "GCS is throttling this bucket; wait a little and run the command again",
  "timeout":
    "GCS or the network is slow; raise `requestTimeoutMs`, or SWAMP_DATASTORE_SYNC_TIMEOUT_MS for a whole sync",
  "invalid-config": "fix `datastore.config` in .swamp.yaml",
  "integrity":
    "the bytes were damaged in transit and nothing was written; run the command again",
  "unsafe-path":
    "an entry would leave the cache and was refused; check the remote index for a hostile key",
  "io": "check that the cache directory is writable and the disk has space",
  "remote": "GCS refused the request; the status and reason above say why",
  "other": "run the command again; if it persists, report it with this line",
};

/** Transport failures, by how far the request got (never by the message's words). */
const TRANSPORT_HINTS: Record<string, string> = {
  "unreachable":
    "nothing answered at the endpoint: check the network, or `apiEndpoint` in the datastore config",
  "tls":
    "the TLS handshake failed: check `apiEndpoint` (https or http), the system clock, and any proxy in between",
  "connection-lost":
    "the connection broke before an answer arrived; what was confirmed is kept: run the command again",
  "body-cut-short":
    "GCS answered but the reply broke off; nothing unconfirmed was recorded: run the command again",
  "denied":
    "the sandbox allows only the configured endpoint and Google's auth endpoints; check `apiEndpoint`",
};

/** Translate whatever a guest call threw. `ComponentError` carries the WIT error in `payload`. */
export function fromGuest(e: unknown): Error {
  const payload = (e as { payload?: WitError })?.payload;
  if (!payload || typeof payload.tag !== "string") {
    return e instanceof Error ? e : new Error(String(e));
  }
  const { tag, val } = payload;
  switch (tag) {
    case "lock-timeout": {
      const l = val as {
        lockKey: string;
        holder?: string;
        waitedMs: bigint;
        message: string;
      };
      return new LockTimeoutError(
        l.lockKey,
        l.holder,
        Number(l.waitedMs),
        oneLine(l.message),
      );
    }
    case "not-found": {
      const n = val as {
        missing: { tag: string; val?: string };
        message: string;
      };
      const hint = n.missing.tag === "bucket"
        ? "the bucket does not exist: check `bucket` in the datastore config, or create the bucket"
        : n.missing.tag === "object"
        ? `the bucket holds no object ${
          JSON.stringify(n.missing.val)
        }: check the key and \`prefix\` in the datastore config`
        : `the cache holds no file ${JSON.stringify(n.missing.val)}`;
      return new DatastoreError(tag, oneLine(n.message), hint);
    }
    case "unauthenticated":
    case "permission-denied": {
      const c = val as { message: string; hint: string };
      return new DatastoreError(tag, oneLine(c.message), oneLine(c.hint));
    }
    case "invalid-config": {
      // A message that carries its own remedy (a control-plane key's) keeps it; the
      // others are about `datastore.config`.
      const c = val as { message: string };
      const own = oneLine(c.message).match(/^(.*) \(hint: (.*)\)$/);
      return own
        ? new DatastoreError(tag, own[1], own[2])
        : new DatastoreError(tag, oneLine(c.message), HINTS[tag]);
    }
    case "transport": {
      const t = val as { kind: string; message: string };
      return new DatastoreError(
        tag,
        oneLine(t.message),
        TRANSPORT_HINTS[t.kind] ?? HINTS.other,
      );
    }
    case "malformed-remote":
    case "namespace-taken":
    case "namespace-mismatch":
    case "remote": {
      const r = val as { message: string };
      return new DatastoreError(tag, oneLine(r.message), HINTS[tag]);
    }
    default:
      return new DatastoreError(
        tag,
        oneLine(String(val)),
        HINTS[tag] ?? HINTS.other,
      );
  }
}

/** The error an aborted call rejects with: the signal's own reason when it is an error. */
export function abortErrorOf(signal: AbortSignal): Error {
  const r = signal.reason;
  if (
    r instanceof Error && (r.name === "AbortError" || r.name === "TimeoutError")
  ) return r;
  return new DOMException(
    r instanceof Error ? r.message : "the datastore call was aborted",
    "AbortError",
  );
}
