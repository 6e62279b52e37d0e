// One configured component instance in its own sandbox, created on first use. Calls run one
// at a time (the guest is single-threaded); an abort unwinds the guest at its next wait and
// the instance is thrown away, so the next call starts from a fresh one. The cache is left
// as after a crash of the process at that point, which the component recovers from (atomic
// writes, persisted dirty state).

import { ComponentExports, instantiateComponent } from "./component.ts";
import { abortErrorOf, DatastoreError, fromGuest } from "./errors.ts";
import { GuestAbandoned } from "./wasi/poll.ts";
import { Sandbox, SandboxOptions } from "./wasi/sandbox.ts";

export interface Live {
  sandbox: Sandbox;
  exports: ComponentExports;
}

export class Guest {
  #live: Promise<Live> | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  /** Instances created so far (a fresh one after every abort or trap). */
  instances = 0;

  constructor(
    private readonly configJson: string,
    private readonly sandboxOptions: () => SandboxOptions,
  ) {}

  /** Run `fn` against the live instance after every earlier call has finished. */
  run<T>(
    fn: (exports: ComponentExports, live: Live) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const next = this.#tail.then(() => this.#runNow(fn, signal));
    this.#tail = next.catch(() => {});
    return next;
  }

  /** The sandbox of the live instance, if one exists (tests and the bench read its counters). */
  async sandbox(): Promise<Sandbox | undefined> {
    return this.#live
      ? (await this.#live.catch(() => undefined))?.sandbox
      : undefined;
  }

  async #open(): Promise<Live> {
    const sandbox = new Sandbox(this.sandboxOptions());
    const exports = await instantiateComponent(sandbox);
    this.instances++;
    sandbox.enter();
    try {
      await exports.datastore.configure(this.configJson);
    } catch (e) {
      throw fromGuest(e);
    }
    return { sandbox, exports };
  }

  async #runNow<T>(
    fn: (exports: ComponentExports, live: Live) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (signal?.aborted) throw abortErrorOf(signal);
    this.#live ??= this.#open();
    let live: Live;
    try {
      live = await this.#live;
    } catch (e) {
      this.#live = undefined;
      throw e;
    }
    const onAbort = () => live.sandbox.sched.abandon(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    live.sandbox.enter();
    try {
      return await fn(live.exports, live);
    } catch (e) {
      if (e instanceof GuestAbandoned || live.sandbox.sched.abandoned) {
        this.#live = undefined;
        throw signal
          ? abortErrorOf(signal)
          : new DOMException("the datastore call was abandoned", "AbortError");
      }
      if (e instanceof WebAssembly.RuntimeError) {
        this.#live = undefined;
        const first = String(e.message).split("\n")[0];
        throw new DatastoreError(
          "other",
          `the component stopped: ${first}`,
          "this is a bug in the component; run the command again and report this line",
        );
      }
      throw fromGuest(e);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
