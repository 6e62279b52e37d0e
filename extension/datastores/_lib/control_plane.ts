// swamp's `ControlPlaneStore` over the sync service's component instance: small records at
// `[{ns}/]_control/{key}` that never enter an index, a cache or a sync
// (docs/control-plane.md).

import { Guest } from "./guest.ts";

/** swamp's `ControlPlaneStore`. */
export interface ControlPlaneStore {
  put(key: string, value: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
  putIfAbsent(key: string, value: Uint8Array): Promise<boolean>;
}

/** Options of `controlPlaneStore()`: a namespace overrides the one the sync service was
 * bound with (it must agree with the instance's binding, as a sync call's must). */
export interface ControlPlaneOptions {
  namespace?: string;
}

/** The store of one namespace, asked for at every call (`namespace()`), so a store made
 * before the first sync follows the binding that sync makes. */
export class ComponentControlPlane implements ControlPlaneStore {
  constructor(
    private readonly guest: Guest,
    private readonly namespace: () => string | undefined,
  ) {}

  #ns(): string | undefined {
    return this.namespace() || undefined;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.guest.run((x) => x.controlPlane.put(this.#ns(), key, value));
  }

  async get(key: string): Promise<Uint8Array | null> {
    const v = await this.guest.run((x) => x.controlPlane.get(this.#ns(), key));
    return v ?? null;
  }

  async delete(key: string): Promise<void> {
    await this.guest.run((x) => x.controlPlane.delete(this.#ns(), key));
  }

  list(prefix: string): Promise<string[]> {
    return this.guest.run((x) => x.controlPlane.list(this.#ns(), prefix ?? ""));
  }

  putIfAbsent(key: string, value: Uint8Array): Promise<boolean> {
    return this.guest.run((x) =>
      x.controlPlane.putIfAbsent(this.#ns(), key, value)
    );
  }
}
