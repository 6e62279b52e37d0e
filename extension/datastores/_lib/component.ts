// The component's exports as this host calls them, and its loading: the core modules are
// embedded in the extension (gzip + base64), compiled once per process, and instantiated
// once per sandbox.

import { instantiate } from "../_generated/bindings.ts";
import { MODULES } from "../_generated/modules.ts";
import type { Sandbox } from "./wasi/sandbox.ts";

export interface ModelRef {
  modelType: string;
  modelId: string;
}

/** The WIT `sync-options` record. */
export interface WitSyncOptions {
  relPath?: string;
  context?: { models: ModelRef[] };
  namespace?: string;
  metadataOnly: boolean;
  deadlineMs?: bigint;
}

export interface WitSyncReport {
  files: number;
  deleted: number;
  bytes: bigint;
  fastPath: boolean;
  phases: Array<{ name: string; millis: number; detail: string }>;
  /** Paths changed both here and remotely since the last sync: kept, not overwritten. */
  conflicts: string[];
}

export interface WitCapabilities {
  scopedSync: boolean;
  lazyHydration: boolean;
  namespacedSync: boolean;
  twoPhaseSync: boolean;
  previewPush: boolean;
  controlPlane: boolean;
}

export interface WitLockInfo {
  holder: string;
  hostname: string;
  pid: number;
  acquiredAt: string;
  ttlMs: number;
  nonce?: string;
}

export interface WitLockOptions {
  key?: string;
  ttlMs?: number;
  retryIntervalMs?: number;
  maxWaitMs?: number;
}

export interface WitDistributedLock {
  acquire(): Promise<WitLockInfo>;
  extend(): Promise<boolean>;
  release(): Promise<string | undefined>;
  inspect(): Promise<WitLockInfo | undefined>;
  forceRelease(nonce: string): Promise<boolean>;
  isHeld(): Promise<boolean>;
}

export interface WitHealth {
  healthy: boolean;
  message: string;
  latencyMs: number;
  datastoreType: string;
  details: Array<[string, string]>;
}

/** `push-manifest`: held by swamp between `preparePush` and `commitPush`, never read. */
export interface WitPushManifest {
  namespace?: string;
  newEntries: unknown[];
  deletedKeys: string[];
  dirtyPartitionKeys: string[];
  adopted: unknown[];
  bytes: bigint;
  complete: boolean;
  dirty: { paths: string[]; bulk: boolean; overflowed: boolean };
}

/** `push-preview`. */
export interface WitPushPreview {
  total: number;
  new: number;
  changed: number;
  deleted: number;
}

/** `migrate-report`. */
export interface WitMigrateReport {
  outcome: "migrated" | "already-shard-first" | "meta-rebuilt";
  partitions: string[];
  commitSeq: bigint;
  entries: number;
  shardsWritten: number;
}

/** `catalog-export`: what `export-catalog` did. */
export interface WitCatalogExport {
  written: boolean;
  sha256: string;
  size: bigint;
}

/** `foreign-catalog`: one namespace's export as stored. */
export interface WitForeignCatalog {
  namespace: string;
  rowsJson: string;
}

/** `namespaces.registration`. */
export interface WitRegistration {
  created: boolean;
  registeredAt: string;
}

/** The WIT `control-plane` interface: a namespace (undefined or "" = the bound one, solo
 * when unbound) and a key on every call. */
export interface WitControlPlane {
  put(ns: string | undefined, key: string, value: Uint8Array): Promise<void>;
  get(ns: string | undefined, key: string): Promise<Uint8Array | undefined>;
  delete(ns: string | undefined, key: string): Promise<boolean>;
  list(ns: string | undefined, prefix: string): Promise<string[]>;
  putIfAbsent(
    ns: string | undefined,
    key: string,
    value: Uint8Array,
  ): Promise<boolean>;
}

/** What jco's bindings return from `instantiate` (every call returns a promise: JSPI). */
export interface ComponentExports {
  datastore: { configure(json: string): Promise<unknown> };
  syncService: {
    capabilities(): Promise<WitCapabilities>;
    markDirty(o: WitSyncOptions): Promise<void>;
    pullChanged(o: WitSyncOptions): Promise<WitSyncReport>;
    pushChanged(o: WitSyncOptions): Promise<WitSyncReport>;
    hydrateFile(rel: string, o: WitSyncOptions): Promise<boolean>;
    status(o: WitSyncOptions): Promise<unknown>;
    preparePush(o: WitSyncOptions): Promise<[WitPushManifest, WitSyncReport]>;
    commitPush(m: WitPushManifest, o: WitSyncOptions): Promise<WitSyncReport>;
    previewPush(o: WitSyncOptions): Promise<WitPushPreview>;
    migrateIndex(o: WitSyncOptions): Promise<WitMigrateReport>;
    exportCatalog(
      ns: string,
      rowsJson: string,
      deadlineMs?: bigint,
    ): Promise<WitCatalogExport>;
    pullForeignCatalogs(
      nss: string[],
      deadlineMs?: bigint,
    ): Promise<WitForeignCatalog[]>;
    fetchForeignContent(
      ns: string,
      rel: string,
      deadlineMs?: bigint,
    ): Promise<Uint8Array | undefined>;
  };
  namespaces: {
    registerNamespace(ns: string, repoId: string): Promise<WitRegistration>;
    listNamespaces(): Promise<string[]>;
  };
  lock: { DistributedLock: { new (o: WitLockOptions): unknown } };
  verifier: { verify(): Promise<WitHealth> };
  controlPlane: WitControlPlane;
  objects: Record<string, (...args: unknown[]) => Promise<unknown>>;
}

let compiled: Promise<Map<string, WebAssembly.Module>> | undefined;

async function gunzip(b64: string): Promise<Uint8Array> {
  const bin = atob(b64);
  const raw = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) raw[i] = bin.charCodeAt(i);
  const stream = new Blob([raw]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The compiled core modules, decoded and compiled on first use only. */
export function coreModules(): Promise<Map<string, WebAssembly.Module>> {
  compiled ??= (async () => {
    const out = new Map<string, WebAssembly.Module>();
    for (const [name, parts] of MODULES) {
      out.set(
        name,
        await WebAssembly.compile(await gunzip(parts.join("")) as BufferSource),
      );
    }
    return out;
  })();
  return compiled;
}

/** A fresh instance of the component over `sandbox`'s imports. */
export async function instantiateComponent(
  sandbox: Sandbox,
): Promise<ComponentExports> {
  const modules = await coreModules();
  return await instantiate(
    (name: string) => modules.get(name),
    sandbox.imports,
  ) as ComponentExports;
}
