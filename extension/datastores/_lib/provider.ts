// swamp's datastore provider over the component: the sync service, the lock and the verifier
// each run in their own instance and sandbox (a lock's heartbeat never waits behind a push).

import { CAPABILITIES } from "../_generated/capabilities.ts";
import {
  WitCapabilities,
  WitDistributedLock,
  WitLockInfo,
  WitPushManifest,
  WitSyncOptions,
} from "./component.ts";
import {
  ComponentControlPlane,
  ControlPlaneOptions,
  ControlPlaneStore,
} from "./control_plane.ts";
import { DatastoreError } from "./errors.ts";
import { Guest } from "./guest.ts";
import { SandboxPlan, scratchDir } from "./sandbox_options.ts";

export const DATASTORE_TYPE = "@swamp/gcs-datastore";

/** swamp's `DatastoreSyncOptions`. */
export interface SyncOptions {
  signal?: AbortSignal;
  relPath?: string;
  context?: { models?: ReadonlyArray<{ modelType: string; modelId: string }> };
  namespace?: string;
  metadataOnly?: boolean;
}

/** swamp's `SyncCapabilities`: the WIT record has exactly its fields. */
export type SyncCapabilities = WitCapabilities;

/** swamp's `LockInfo`: the WIT record has exactly its fields. */
export type LockInfo = WitLockInfo;

/** swamp's `LockOptions`. */
export interface LockOptions {
  lockKey?: string;
  ttlMs?: number;
  retryIntervalMs?: number;
  maxWaitMs?: number;
}

/** The default bound of one sync direction in swamp core. */
const DEFAULT_SYNC_TIMEOUT_MS = 300_000;

/** swamp's deadline for one sync direction, passed on so the component stops cleanly first. */
export function syncDeadlineMs(): bigint {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("SWAMP_DATASTORE_SYNC_TIMEOUT_MS");
  } catch {
    raw = undefined;
  }
  const n = Number(raw);
  return BigInt(
    Number.isFinite(n) && n > 0 ? Math.floor(n) : DEFAULT_SYNC_TIMEOUT_MS,
  );
}

function witOptions(
  o: SyncOptions | undefined,
  withContext: boolean,
): WitSyncOptions {
  const models = o?.context?.models;
  return {
    relPath: o?.relPath,
    context: withContext && models && models.length > 0
      ? {
        models: models.map((m) => ({
          modelType: m.modelType,
          modelId: m.modelId,
        })),
      }
      : undefined,
    namespace: o?.namespace ? o.namespace : undefined,
    metadataOnly: !!o?.metadataOnly,
    deadlineMs: syncDeadlineMs(),
  };
}

/** What this module implements, intersected with what the component advertises. */
export function capabilities(): SyncCapabilities {
  return {
    scopedSync: CAPABILITIES.scopedSync,
    lazyHydration: CAPABILITIES.lazyHydration,
    namespacedSync: CAPABILITIES.namespacedSync,
    twoPhaseSync: CAPABILITIES.twoPhaseSync,
    previewPush: CAPABILITIES.previewPush,
    controlPlane: CAPABILITIES.controlPlane,
  };
}

/** swamp's `DatastoreSyncService` over one component instance with `cachePath` preopened. */
export class ComponentSyncService {
  /** The namespace the first call that binds (pull, push, prepare, commit, preview,
   * migrate) bound the instance to ("" = solo), undefined before: the control-plane
   * store's default. */
  #boundNamespace: string | undefined;

  constructor(readonly guest: Guest) {}

  // swamp's catalog calls (the extension's signatures: core HEAD does not call them; its own
  // `exportCatalog(namespace)` would carry no rows). None binds the service's namespace, and
  // the reads never write to the cache.

  /** Write `rows` to `{namespace}/.catalog-export.json` as `JSON.stringify(rows)`,
   * unless they are the rows this cache last exported. */
  async exportCatalog(
    namespace: string,
    rows: readonly unknown[],
    signal?: AbortSignal,
  ): Promise<void> {
    if (!Array.isArray(rows)) {
      throw new DatastoreError(
        "invalid-config",
        `exportCatalog(${
          JSON.stringify(namespace)
        }): the rows must be an array`,
        "pass the catalog rows to export: exportCatalog(namespace, rows)",
      );
    }
    const text = JSON.stringify(rows);
    await this.guest.run(
      (x) => x.syncService.exportCatalog(namespace, text, syncDeadlineMs()),
      signal,
    );
  }

  /** One entry per namespace whose export exists and is readable, in the order asked. */
  async pullForeignCatalogs(
    namespaces: readonly string[],
    signal?: AbortSignal,
  ): Promise<CatalogExportEntry[]> {
    const got = await this.guest.run(
      (x) =>
        x.syncService.pullForeignCatalogs([...namespaces], syncDeadlineMs()),
      signal,
    );
    return got.map((c) => ({
      namespace: c.namespace,
      rows: JSON.parse(c.rowsJson) as unknown[],
    }));
  }

  /** Another namespace's file, or `null` when it does not exist; never cached. */
  async fetchForeignContent(
    namespace: string,
    relPath: string,
    signal?: AbortSignal,
  ): Promise<Uint8Array | null> {
    const bytes = await this.guest.run(
      (x) =>
        x.syncService.fetchForeignContent(namespace, relPath, syncDeadlineMs()),
      signal,
    );
    return bytes ?? null;
  }

  #bind(namespace: string | undefined): void {
    this.#boundNamespace ??= namespace ?? "";
  }

  capabilities(): SyncCapabilities {
    return capabilities();
  }

  async markDirty(options?: SyncOptions): Promise<void> {
    await this.guest.run(
      (x) => x.syncService.markDirty(witOptions(options, false)),
      options?.signal,
    );
  }

  async pullChanged(options?: SyncOptions): Promise<number> {
    this.#bind(options?.namespace);
    const r = await this.guest.run(
      (x) => x.syncService.pullChanged(witOptions(options, true)),
      options?.signal,
    );
    warnConflicts("pull", r.conflicts);
    return r.files;
  }

  async pushChanged(options?: SyncOptions): Promise<number> {
    this.#bind(options?.namespace);
    const r = await this.guest.run(
      (x) => x.syncService.pushChanged(witOptions(options, true)),
      options?.signal,
    );
    warnConflicts("push", r.conflicts);
    return r.files;
  }

  /** swamp's `controlPlaneStore()`: records of the namespace this service is bound to
   * (solo before any sync), or of `options.namespace`. */
  controlPlaneStore(options?: ControlPlaneOptions): ControlPlaneStore {
    const given = options?.namespace;
    return new ComponentControlPlane(
      this.guest,
      () => given ?? this.#boundNamespace,
    );
  }

  hydrateFile(relPath: string, options?: SyncOptions): Promise<boolean> {
    return this.guest.run(
      (x) => x.syncService.hydrateFile(relPath, witOptions(options, false)),
      options?.signal,
    );
  }

  /** Phase 1 of a two-phase push: upload and delete, publish nothing. The manifest is
   * swamp's opaque `PushManifest`; it carries its namespace. */
  async preparePush(options?: SyncOptions): Promise<PushManifest> {
    this.#bind(options?.namespace);
    const [manifest, r] = await this.guest.run(
      (x) => x.syncService.preparePush(witOptions(options, false)),
      options?.signal,
    );
    warnConflicts("push", r.conflicts);
    return manifest as PushManifest;
  }

  /** Phase 2: merge the manifest into the current index and publish it. Returns the
   * entries updated (files uploaded plus objects deleted). */
  async commitPush(
    manifest: PushManifest,
    options?: SyncOptions,
  ): Promise<number> {
    this.#bind(manifest.namespace);
    const r = await this.guest.run(
      (x) =>
        x.syncService.commitPush(
          manifest as WitPushManifest,
          witOptions(options, false),
        ),
      options?.signal,
    );
    return r.files + r.deleted;
  }

  /** swamp's `previewPush`: what a push would do, with no mutation. */
  previewPush(options?: SyncOptions): Promise<PushPreviewSummary> {
    this.#bind(options?.namespace);
    return this.guest.run(
      (x) => x.syncService.previewPush(witOptions(options, false)),
      options?.signal,
    );
  }

  /** swamp's `migrateMonolithToShards` (`swamp datastore migrate-index`). */
  async migrateMonolithToShards(
    options?: SyncOptions,
  ): Promise<MigrateIndexResult> {
    this.#bind(options?.namespace);
    const m = await this.guest.run(
      (x) => x.syncService.migrateIndex(witOptions(options, false)),
      options?.signal,
    );
    return {
      version: 2,
      partitions: m.partitions,
      commitSeq: Number(m.commitSeq),
    };
  }
}

/** swamp's `CatalogExportEntry`: one namespace's exported rows. */
export interface CatalogExportEntry {
  namespace: string;
  rows: unknown[];
}

/** swamp's opaque `PushManifest`. */
export type PushManifest = WitPushManifest & {
  readonly __pushManifest?: never;
};

/** swamp's `PushPreviewSummary`. */
export interface PushPreviewSummary {
  total: number;
  new: number;
  changed: number;
  deleted: number;
}

/** swamp's `MigrateIndexResult`. */
export interface MigrateIndexResult {
  version: number;
  partitions: string[];
  commitSeq: number;
}

/** swamp's contract has no place for conflicts, so say them on stderr: one line a call. */
export function conflictLine(
  op: string,
  conflicts: readonly string[] | undefined,
): string | undefined {
  if (!conflicts || conflicts.length === 0) return undefined;
  const shown = conflicts.slice(0, 5).join(", ") +
    (conflicts.length > 5 ? `, and ${conflicts.length - 5} more` : "");
  return `gcs-datastore: ${op}: ${conflicts.length} file(s) changed both here and in the bucket since the last sync were kept as they are here: ${shown} (hint: move a file aside and pull to take the bucket's version, or keep it and the bucket's stays until you do)`;
}

function warnConflicts(
  op: string,
  conflicts: readonly string[] | undefined,
): void {
  const line = conflictLine(op, conflicts);
  if (line) console.warn(line);
}

function lockInfo(i: WitLockInfo): LockInfo {
  const out: LockInfo = {
    holder: i.holder,
    hostname: i.hostname,
    pid: i.pid,
    acquiredAt: i.acquiredAt,
    ttlMs: i.ttlMs,
  };
  if (i.nonce !== undefined) out.nonce = i.nonce;
  return out;
}

/** swamp's `DistributedLock`: acquire waits inside the component; the heartbeat is a timer
 * here that extends the lock every ttl/3 on the lock's own instance. */
export class ComponentLock {
  readonly #guest: Guest;
  readonly #options: LockOptions;
  #handle: WitDistributedLock | undefined;
  /** The instance the handle lives in; a handle dies with its instance. */
  #handleInstance = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Heartbeats sent and lost, for tests. */
  beats = 0;
  lost = false;

  constructor(guest: Guest, options: LockOptions) {
    this.#guest = guest;
    this.#options = options;
  }

  #lock(): Promise<WitDistributedLock> {
    return this.#guest.run((x) => {
      if (!this.#handle || this.#handleInstance !== this.#guest.instances) {
        this.#handleInstance = this.#guest.instances;
        const o = this.#options;
        this.#handle = new x.lock.DistributedLock({
          key: o.lockKey,
          ttlMs: o.ttlMs,
          retryIntervalMs: o.retryIntervalMs,
          maxWaitMs: o.maxWaitMs,
        }) as WitDistributedLock;
      }
      return Promise.resolve(this.#handle);
    });
  }

  async acquire(): Promise<void> {
    const lock = await this.#lock();
    await this.#guest.run(() => lock.acquire());
    this.lost = false;
    this.#startHeartbeat();
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat();
    const every = Math.max(1, Math.floor((this.#options.ttlMs ?? 30_000) / 3));
    const id = setInterval(async () => {
      try {
        const lock = await this.#lock();
        const kept = await this.#guest.run(() => lock.extend());
        this.beats++;
        if (!kept) {
          this.lost = true;
          this.#stopHeartbeat();
        }
      } catch {
        // A failed heartbeat is retried at the next tick; the lock's ttl absorbs a few.
      }
    }, every);
    // The heartbeat alone must not keep swamp's process alive.
    Deno.unrefTimer(id as unknown as number);
    this.#heartbeat = id;
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  async release(): Promise<void> {
    this.#stopHeartbeat();
    if (!this.#handle) return;
    try {
      const lock = await this.#lock();
      const warning = await this.#guest.run(() => lock.release());
      if (warning) console.warn(`gcs-datastore: ${warning}`);
    } catch (e) {
      console.warn(
        `gcs-datastore: releasing the lock failed: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
    }
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }

  async inspect(): Promise<LockInfo | null> {
    try {
      const lock = await this.#lock();
      const info = await this.#guest.run(() => lock.inspect());
      return info ? lockInfo(info) : null;
    } catch {
      return null;
    }
  }

  async forceRelease(expectedNonce: string): Promise<boolean> {
    try {
      const lock = await this.#lock();
      return await this.#guest.run(() => lock.forceRelease(expectedNonce));
    } catch {
      return false;
    }
  }
}

/** swamp's `DatastoreHealthResult`. */
export interface HealthResult {
  healthy: boolean;
  message: string;
  latencyMs: number;
  datastoreType: string;
  details?: Record<string, string>;
}

export class ComponentVerifier {
  constructor(
    private readonly guest: () => Guest,
    private readonly bucket: string,
  ) {}

  /** One bucket GET with the configured credentials; never throws. */
  async verify(): Promise<HealthResult> {
    const start = performance.now();
    try {
      const h = await this.guest().run((x) => x.verifier.verify());
      return {
        healthy: h.healthy,
        message: h.message,
        latencyMs: h.latencyMs,
        datastoreType: h.datastoreType,
        details: Object.fromEntries(h.details),
      };
    } catch (e) {
      return {
        healthy: false,
        message: `Cannot access GCS bucket '${this.bucket}': ${
          e instanceof Error ? e.message : String(e)
        }`,
        latencyMs: performance.now() - start,
        datastoreType: DATASTORE_TYPE,
        details: { bucket: this.bucket },
      };
    }
  }
}

/** swamp's `DatastoreProvider`. Creating one is cheap: no I/O until a member is used. */
export class ComponentProvider {
  readonly #configJson: string;
  readonly #config: Record<string, unknown>;
  #plan: SandboxPlan | undefined;
  /** The instance the provider-level namespace calls share (made on first use). */
  #namespaces: Guest | undefined;

  constructor(config: Record<string, unknown>) {
    this.#config = config;
    this.#configJson = JSON.stringify(config);
  }

  #sandboxPlan(): SandboxPlan {
    this.#plan ??= new SandboxPlan(this.#config);
    return this.#plan;
  }

  #guest(cacheDir: () => string): Guest {
    return new Guest(
      this.#configJson,
      () => this.#sandboxPlan().options(cacheDir()),
    );
  }

  createLock(_datastorePath: string, options?: LockOptions): ComponentLock {
    return new ComponentLock(this.#guest(scratchDir), options ?? {});
  }

  createVerifier(): ComponentVerifier {
    return new ComponentVerifier(
      () => this.#guest(scratchDir),
      String(this.#config.bucket ?? ""),
    );
  }

  createSyncService(_repoDir: string, cachePath: string): ComponentSyncService {
    if (!cachePath) {
      throw new DatastoreError(
        "invalid-config",
        "createSyncService needs the cache path",
        "this is a bug in the caller",
      );
    }
    return new ComponentSyncService(this.#guest(() => cachePath));
  }

  resolveDatastorePath(repoDir: string): string {
    return `${repoDir.replace(/\/+$/, "")}/.swamp`;
  }

  resolveCachePath(_repoDir: string): string | undefined {
    return undefined;
  }

  /** swamp's `registerNamespace`: claim `namespace` for the repository `repoId`; throws a
   * `namespace-taken` error naming the owner when another repository holds it. */
  async registerNamespace(
    _datastorePath: string,
    namespace: string,
    repoId: string,
  ): Promise<void> {
    this.#namespaces ??= this.#guest(scratchDir);
    await this.#namespaces.run((x) =>
      x.namespaces.registerNamespace(namespace, repoId)
    );
  }

  /** swamp's `listNamespaces`: the registered slugs; empty when the bucket is used solo. */
  listNamespaces(_datastorePath: string): Promise<string[]> {
    this.#namespaces ??= this.#guest(scratchDir);
    return this.#namespaces.run((x) => x.namespaces.listNamespaces());
  }
}
