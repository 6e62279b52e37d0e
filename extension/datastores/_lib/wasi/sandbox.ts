// One sandbox: the imports of one component instance. The guest sees exactly one writable
// directory (the cache, at /cache), optionally a read-only directory of credential copies
// (at /credentials), the environment variables the host chose, and HTTP to the allow-list.

import {
  cli,
  insecure,
  insecureSeed,
  monotonicClock,
  random,
  wallClock,
} from "./basics.ts";
import { Descriptor, DirectoryEntryStream, Preopen } from "./filesystem.ts";
import {
  AllowList,
  Fields,
  FutureIncomingResponse,
  FutureTrailers,
  HttpCounters,
  httpErrorCode,
  IncomingBody,
  IncomingResponse,
  OutgoingBody,
  outgoingHandler,
  OutgoingRequest,
  RequestOptions,
} from "./http.ts";
import { IoError, Pollable, Scheduler } from "./poll.ts";
import { InputStream, OutputStream } from "./streams.ts";

/** Where the guest finds the cache; the component's default mount. */
export const GUEST_CACHE_DIR = "/cache";
/** Where the guest finds credential copies. */
export const GUEST_CREDENTIALS_DIR = "/credentials";

export interface SandboxOptions {
  /** The cache directory (created if missing). */
  cacheDir: string;
  /** Destinations the guest may reach. */
  allow: AllowList;
  /** The guest's whole environment. */
  env: Record<string, string>;
  /** A directory of credential copies, preopened read-only. */
  credentialsDir?: string;
}

export class Sandbox {
  readonly sched = new Scheduler();
  readonly counters: HttpCounters = { requests: 0, denied: 0, byMethod: {} };
  readonly #preopens: Preopen[] = [];
  readonly imports: Record<string, unknown>;

  constructor(readonly options: SandboxOptions) {
    Deno.mkdirSync(options.cacheDir, { recursive: true });
    const cache = new Preopen(options.cacheDir, false, this.sched);
    const dirs: Array<[Descriptor, string]> = [[
      new Descriptor(cache, [], {
        read: true,
        write: true,
        mutateDirectory: true,
      }),
      GUEST_CACHE_DIR,
    ]];
    this.#preopens.push(cache);
    if (options.credentialsDir) {
      const creds = new Preopen(options.credentialsDir, true, this.sched);
      this.#preopens.push(creds);
      dirs.push([
        new Descriptor(creds, [], { read: true }),
        GUEST_CREDENTIALS_DIR,
      ]);
    }
    const sched = this.sched;
    this.imports = {
      ...cli(options.env),
      "wasi:clocks/monotonic-clock": monotonicClock,
      "wasi:clocks/wall-clock": wallClock,
      "wasi:random/random": random,
      "wasi:random/insecure": insecure,
      "wasi:random/insecure-seed": insecureSeed,
      "wasi:io/error": { Error: IoError },
      "wasi:io/poll": {
        Pollable,
        poll: (list: Pollable[]) => sched.poll(list),
      },
      "wasi:io/streams": { InputStream, OutputStream },
      "wasi:filesystem/types": {
        Descriptor,
        DirectoryEntryStream,
        filesystemErrorCode: () => undefined,
      },
      "wasi:filesystem/preopens": { getDirectories: () => dirs },
      "wasi:http/types": {
        Fields,
        FutureIncomingResponse,
        FutureTrailers,
        IncomingBody,
        IncomingResponse,
        OutgoingBody,
        OutgoingRequest,
        RequestOptions,
        httpErrorCode,
      },
      "wasi:http/outgoing-handler": outgoingHandler(
        options.allow,
        sched,
        this.counters,
      ),
    };
  }

  /** A call into the guest begins: resolved paths from earlier calls are not trusted. */
  enter(): void {
    for (const p of this.#preopens) p.forget();
    this.sched.enter();
  }
}
