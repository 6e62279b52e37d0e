// wasi:clocks, wasi:random and wasi:cli for one sandbox: time, randomness, the environment
// the host chose, and standard streams that lead nowhere.

import { Pollable, TimerPollable } from "./poll.ts";
import {
  GuestStderr,
  InputStream,
  OutputStream,
  SinkOutput,
} from "./streams.ts";

const NS_PER_MS = 1_000_000;

export const monotonicClock = {
  now(): bigint {
    return BigInt(Math.round(performance.now() * NS_PER_MS));
  },
  resolution(): bigint {
    return 1000n;
  },
  subscribeInstant(when: bigint): Pollable {
    return new TimerPollable(Number(when) / NS_PER_MS);
  },
  subscribeDuration(d: bigint): Pollable {
    return new TimerPollable(performance.now() + Number(d) / NS_PER_MS);
  },
};

export const wallClock = {
  now() {
    const ms = Date.now();
    const s = Math.floor(ms / 1000);
    return { seconds: BigInt(s), nanoseconds: (ms - s * 1000) * NS_PER_MS };
  },
  resolution() {
    return { seconds: 0n, nanoseconds: NS_PER_MS };
  },
};

function randomBytes(len: bigint): Uint8Array {
  const out = new Uint8Array(Number(len));
  // getRandomValues fills at most 65536 bytes a call.
  for (let at = 0; at < out.length; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(out.length, at + 65536)));
  }
  return out;
}

/** Random words drawn 512 at a time: the guest asks for one per request (backoff jitter,
 * temp-file names), and one getRandomValues call per word costs more than the word. */
const pool = new BigUint64Array(512);
let poolLeft = 0;

function randomU64(): bigint {
  if (poolLeft === 0) {
    crypto.getRandomValues(pool);
    poolLeft = pool.length;
  }
  return pool[--poolLeft];
}

export const random = { getRandomBytes: randomBytes, getRandomU64: randomU64 };
export const insecure = {
  getInsecureRandomBytes: randomBytes,
  getInsecureRandomU64: randomU64,
};
export const insecureSeed = {
  insecureSeed: (): [bigint, bigint] => [randomU64(), randomU64()],
};

export class TerminalInput {
  [Symbol.dispose](): void {}
}
export class TerminalOutput {
  [Symbol.dispose](): void {}
}

/** The wasi:cli interfaces: only `env` is visible; stdin is empty, stdout/stderr discarded
 * (stderr through {@link GuestStderr}, which knows the guest's progress lines). */
export function cli(env: Record<string, string>) {
  const pairs: Array<[string, string]> = Object.entries(env);
  const stdin = new InputStream();
  const stdout: OutputStream = new SinkOutput();
  const stderr: OutputStream = new GuestStderr();
  return {
    "wasi:cli/environment": {
      getEnvironment: () => pairs,
      getArguments: () => [] as string[],
      initialCwd: () => undefined,
    },
    "wasi:cli/exit": {
      exit: (status: { tag: string }) => {
        throw new Error(
          `the component exited (${status.tag}); this host does not run commands`,
        );
      },
    },
    "wasi:cli/stdin": { getStdin: () => stdin },
    "wasi:cli/stdout": { getStdout: () => stdout },
    "wasi:cli/stderr": { getStderr: () => stderr },
    "wasi:cli/terminal-input": { TerminalInput },
    "wasi:cli/terminal-output": { TerminalOutput },
    "wasi:cli/terminal-stdin": { getTerminalStdin: () => undefined },
    "wasi:cli/terminal-stdout": { getTerminalStdout: () => undefined },
    "wasi:cli/terminal-stderr": { getTerminalStderr: () => undefined },
  };
}
