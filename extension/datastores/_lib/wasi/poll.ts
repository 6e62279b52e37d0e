// wasi:io/poll and wasi:io/error for one sandbox, plus the scheduler that keeps the host's
// event loop running while the guest works.
//
// The guest (wstd's reactor) waits only in `poll`. That import is asynchronous (JSPI): when
// nothing is ready it suspends the guest and awaits the promises behind the pollables, so
// timers, fetches and abort signals run meanwhile. When something is ready it still yields
// to the event loop every few milliseconds of guest work, so no timer waits long.

/** How long the guest may run between two turns of the event loop. */
export const YIELD_EVERY_MS = 10;

/** Resolves the promise of the current [`anyLatchSet`] waiters, if any. */
let wakeWaiters: (() => void) | undefined;
let wakePromise: Promise<void> | undefined;

/** Resolves at the next `Latch.set()` anywhere in this process. Every readiness change of
 * a pollable except a timer's is a latch being set, so a guest waiting in `poll` waits for
 * this (and its earliest timer) instead of racing one promise per pollable: with a window
 * of requests in flight that was a hundred reactions attached per wait. A latch of another
 * sandbox wakes the poll needlessly; it checks its list again and goes back to waiting. */
export function anyLatchSet(): Promise<void> {
  wakePromise ??= new Promise((r) => (wakeWaiters = r));
  return wakePromise;
}

/** A one-shot flag with a promise, shared by pollables that wait for the same thing. */
export class Latch {
  done = false;
  #promise: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  /** Set it; a latch set again (a body queue's, at each chunk) still wakes `poll`. */
  set(): void {
    if (!this.done) {
      this.done = true;
      this.#resolve?.();
    }
    const wake = wakeWaiters;
    if (wake) {
      wakeWaiters = undefined;
      wakePromise = undefined;
      wake();
    }
  }

  wait(): Promise<void> {
    if (this.done) return Promise.resolve();
    if (!this.#promise) {
      this.#promise = new Promise((r) => (this.#resolve = r));
    }
    return this.#promise;
  }
}

/** wasi:io/poll `pollable`: something the guest can wait for. */
export class Pollable {
  /** Ready now? */
  ready(): boolean {
    return true;
  }

  /** Resolves once ready; never rejects. */
  wait(): Promise<void> {
    return Promise.resolve();
  }

  block(): void {
    // Only reachable if a guest blocks outside `poll`; ours never does (wstd polls).
    if (!this.ready()) {
      throw new Error(
        "pollable.block is not supported by this host: the guest must use poll",
      );
    }
  }

  [Symbol.dispose](): void {}
}

/** Ready when a latch is set. */
export class LatchPollable extends Pollable {
  constructor(private readonly latch: Latch) {
    super();
  }
  override ready(): boolean {
    return this.latch.done;
  }
  override wait(): Promise<void> {
    return this.latch.wait();
  }
}

/** Ready at a monotonic instant (milliseconds of `performance.now()`). */
export class TimerPollable extends Pollable {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #latch: Latch | undefined;

  constructor(readonly atMs: number) {
    super();
  }
  override ready(): boolean {
    return performance.now() >= this.atMs;
  }
  override wait(): Promise<void> {
    if (this.ready()) return Promise.resolve();
    if (!this.#latch || this.#latch.done) {
      const latch = new Latch();
      this.#latch = latch;
      const delay = Math.max(0, Math.ceil(this.atMs - performance.now()));
      this.#timer = setTimeout(() => latch.set(), delay);
    }
    return this.#latch.wait();
  }
  override [Symbol.dispose](): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** wasi:io/error `error`; an HTTP body's error also carries its wasi:http `error-code`. */
export class IoError {
  constructor(
    readonly message: string,
    readonly httpCode?: { tag: string; val?: unknown },
  ) {}
  toDebugString(): string {
    return this.message;
  }
}

/** Thrown into the guest to unwind it when the call is abandoned (abort or shutdown). */
export class GuestAbandoned extends Error {
  constructor(readonly reason: unknown) {
    super("the call was abandoned");
    this.name = "GuestAbandoned";
  }
}

/** Per-sandbox scheduling state: abort and fairness. */
export class Scheduler {
  #lastYield = performance.now();
  #abandoned: GuestAbandoned | undefined;
  #abandon = new Latch();
  /** Pending host work to cancel on abandon (fetches). */
  readonly cancellers = new Set<() => void>();
  /** Statistics for the bench: longest stretch the guest held the thread, in ms. */
  longestRunMs = 0;
  polls = 0;
  suspensions = 0;
  /** Time the guest spent waiting in `poll` for something to become ready, ms. */
  waitedMs = 0;

  /** Unwind the guest at its next wait, cancelling host work in flight. */
  abandon(reason: unknown): void {
    if (this.#abandoned) return;
    this.#abandoned = new GuestAbandoned(reason);
    for (const cancel of this.cancellers) cancel();
    this.cancellers.clear();
    this.#abandon.set();
  }

  get abandoned(): boolean {
    return this.#abandoned !== undefined;
  }

  check(): void {
    if (this.#abandoned) throw this.#abandoned;
  }

  /** A call begins: the guest starts running now. */
  enter(): void {
    this.#lastYield = performance.now();
  }

  /** Has the guest run long enough that the event loop should turn? */
  due(): boolean {
    return performance.now() - this.#lastYield >= YIELD_EVERY_MS ||
      this.abandoned;
  }

  /** Let the event loop turn if the guest has run for a while. */
  async fair(): Promise<void> {
    const ran = performance.now() - this.#lastYield;
    if (ran > this.longestRunMs) this.longestRunMs = ran;
    if (ran >= YIELD_EVERY_MS) {
      this.suspensions++;
      await macrotask();
      this.#lastYield = performance.now();
    }
    this.check();
  }

  /** wasi:io/poll `poll`. */
  async poll(list: Pollable[]): Promise<Uint32Array> {
    this.check();
    this.polls++;
    let ready = readyIndices(list);
    if (ready.length === 0) {
      const ran = performance.now() - this.#lastYield;
      if (ran > this.longestRunMs) this.longestRunMs = ran;
      // A timer may fire a hair before performance.now() reaches its instant: wait again.
      const waitStart = performance.now();
      while (ready.length === 0) {
        this.suspensions++;
        // Timers share one host timer per wait (the earliest), not one each: the guest
        // keeps a deadline per request in flight. Every other pollable becomes ready by a
        // latch being set (the abandon latch included).
        const waits: Promise<void>[] = [anyLatchSet()];
        let earliest = Infinity;
        for (const p of list) {
          if (p instanceof TimerPollable) earliest = Math.min(earliest, p.atMs);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        if (earliest !== Infinity) {
          waits.push(
            new Promise((r) => {
              timer = setTimeout(
                r,
                Math.max(0, Math.ceil(earliest - performance.now())),
              );
            }),
          );
        }
        await Promise.race(waits);
        if (timer !== undefined) clearTimeout(timer);
        this.check();
        ready = readyIndices(list);
      }
      this.#lastYield = performance.now();
      this.waitedMs += this.#lastYield - waitStart;
    } else {
      await this.fair();
    }
    return ready;
  }
}

/** One turn of the event loop, so due timers and I/O callbacks run. A message to ourselves
 * takes about 0.1 ms; `setTimeout(0)` waits for the timer granularity (1–3 ms here), which
 * at one yield every 10 ms would cost a fifth of the guest's time. The channel is closed at
 * once, so it never keeps the process alive. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
    ch.port2.close();
  });
}

/** The ready pollables' indices. The clock is read once for all timers of the list (a
 * guest with a window of requests in flight has a deadline timer for each). */
function readyIndices(list: Pollable[]): Uint32Array {
  let n = 0;
  const out = new Uint32Array(list.length);
  let now = -1;
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    let ready: boolean;
    if (p instanceof TimerPollable) {
      if (now < 0) now = performance.now();
      ready = now >= p.atMs;
    } else {
      ready = p.ready();
    }
    if (ready) out[n++] = i;
  }
  return out.subarray(0, n);
}
