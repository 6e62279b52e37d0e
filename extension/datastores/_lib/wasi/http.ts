// wasi:http (types and outgoing-handler) over Deno's fetch, behind the sandbox's allow-list.
//
// A request is sent once the guest has finished its body (the guest calls `handle` first and
// writes the body after). The response future becomes ready when the headers arrive; the
// body is pumped into a queue the guest drains, so a body cut short is an error on the body
// stream, not on the response.

import { H1Error, request as h1Request } from "./h1.ts";
import { IoError, Latch, LatchPollable, Pollable, Scheduler } from "./poll.ts";
import {
  ByteQueue,
  CollectOutput,
  InputStream,
  OutputStream,
  QueueInput,
} from "./streams.ts";

/** The WIT `error-code` of wasi:http, as the bindings represent it. */
export type HttpErrorCode = { tag: string; val?: unknown };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** wasi:http `fields`: headers and trailers. Names are kept lower-case. */
export class Fields {
  readonly #map = new Map<string, Uint8Array[]>();
  #immutable = false;

  static fromList(entries: Array<[string, Uint8Array]>): Fields {
    const f = new Fields();
    for (const [name, value] of entries) f.#add(name, value);
    return f;
  }

  /** Headers of a response, names already lower-case. */
  static fromPairs(pairs: Array<[string, string]>): Fields {
    const f = new Fields();
    for (const [name, value] of pairs) {
      const list = f.#map.get(name);
      if (list) list.push(encoder.encode(value));
      else f.#map.set(name, [encoder.encode(value)]);
    }
    f.#immutable = true;
    return f;
  }

  /** Headers of a response, from fetch's `Headers`. */
  static fromHeaders(h: Headers): Fields {
    // fetch has validated and lower-cased the names: no check per header on this hot path.
    const f = new Fields();
    h.forEach((value, name) => {
      const list = f.#map.get(name);
      if (list) list.push(encoder.encode(value));
      else f.#map.set(name, [encoder.encode(value)]);
    });
    f.#immutable = true;
    return f;
  }

  #add(name: string, value: Uint8Array): void {
    const key = name.toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(key)) {
      throw { tag: "invalid-syntax" };
    }
    const list = this.#map.get(key);
    if (list) list.push(value);
    else this.#map.set(key, [value]);
  }

  #mutable(): void {
    if (this.#immutable) throw { tag: "immutable" };
  }

  get(name: string): Uint8Array[] {
    return this.#map.get(name.toLowerCase()) ?? [];
  }
  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }
  set(name: string, values: Uint8Array[]): void {
    this.#mutable();
    this.#map.delete(name.toLowerCase());
    for (const v of values) this.#add(name, v);
  }
  delete(name: string): void {
    this.#mutable();
    this.#map.delete(name.toLowerCase());
  }
  append(name: string, value: Uint8Array): void {
    this.#mutable();
    this.#add(name, value);
  }
  entries(): Array<[string, Uint8Array]> {
    const out: Array<[string, Uint8Array]> = [];
    for (const [k, vs] of this.#map) for (const v of vs) out.push([k, v]);
    return out;
  }
  clone(): Fields {
    return Fields.fromList(this.entries());
  }
  freeze(): this {
    this.#immutable = true;
    return this;
  }
  [Symbol.dispose](): void {}
}

/** wasi:http `request-options`. */
export class RequestOptions {
  connectTimeout: bigint | undefined;
  firstByteTimeout: bigint | undefined;
  betweenBytesTimeout: bigint | undefined;

  setConnectTimeout(d: bigint | undefined): void {
    this.connectTimeout = d;
  }
  getConnectTimeout(): bigint | undefined {
    return this.connectTimeout;
  }
  setFirstByteTimeout(d: bigint | undefined): void {
    this.firstByteTimeout = d;
  }
  getFirstByteTimeout(): bigint | undefined {
    return this.firstByteTimeout;
  }
  setBetweenBytesTimeout(d: bigint | undefined): void {
    this.betweenBytesTimeout = d;
  }
  getBetweenBytesTimeout(): bigint | undefined {
    return this.betweenBytesTimeout;
  }
  [Symbol.dispose](): void {}
}

type Method = { tag: string; val?: string };
type Scheme = { tag: string; val?: string };

/** wasi:http `outgoing-body`. */
export class OutgoingBody {
  readonly out = new CollectOutput();
  #taken = false;
  finished = new Latch();

  write(): OutputStream {
    if (this.#taken) throw undefined;
    this.#taken = true;
    return this.out;
  }

  static finish(body: OutgoingBody, _trailers: Fields | undefined): void {
    body.out.closed = true;
    body.finished.set();
  }
  [Symbol.dispose](): void {}
}

/** wasi:http `outgoing-request`. */
export class OutgoingRequest {
  method: Method = { tag: "get" };
  scheme: Scheme | undefined;
  authority: string | undefined;
  pathWithQuery: string | undefined;
  #body: OutgoingBody | undefined;

  constructor(readonly fields: Fields) {
    fields.freeze();
  }
  body(): OutgoingBody {
    if (this.#body) throw undefined;
    this.#body = new OutgoingBody();
    return this.#body;
  }
  get takenBody(): OutgoingBody | undefined {
    return this.#body;
  }
  headers(): Fields {
    return this.fields;
  }
  getMethod(): Method {
    return this.method;
  }
  setMethod(m: Method): void {
    this.method = m;
  }
  getScheme(): Scheme | undefined {
    return this.scheme;
  }
  setScheme(s: Scheme | undefined): void {
    this.scheme = s;
  }
  getAuthority(): string | undefined {
    return this.authority;
  }
  setAuthority(a: string | undefined): void {
    this.authority = a;
  }
  getPathWithQuery(): string | undefined {
    return this.pathWithQuery;
  }
  setPathWithQuery(p: string | undefined): void {
    this.pathWithQuery = p;
  }
  [Symbol.dispose](): void {}
}

/** wasi:http `incoming-body`. */
export class IncomingBody {
  #taken = false;
  constructor(
    private readonly queue: ByteQueue,
    private readonly cancel: () => void,
  ) {}
  stream(): InputStream {
    if (this.#taken) throw undefined;
    this.#taken = true;
    return new QueueInput(this.queue, () => {
      if (!this.queue.settled) this.cancel();
    });
  }
  static finish(_body: IncomingBody): FutureTrailers {
    return new FutureTrailers();
  }
  [Symbol.dispose](): void {}
}

/** wasi:http `future-trailers`: our responses never carry trailers. */
export class FutureTrailers {
  #taken = false;
  subscribe(): Pollable {
    return new Pollable();
  }
  get(): unknown {
    if (this.#taken) return { tag: "err", val: undefined };
    this.#taken = true;
    return { tag: "ok", val: { tag: "ok", val: undefined } };
  }
  [Symbol.dispose](): void {}
}

/** wasi:http `incoming-response`. */
export class IncomingResponse {
  #consumed = false;
  constructor(
    readonly statusCode: number,
    readonly fields: Fields,
    private readonly queue: ByteQueue,
    private readonly cancel: () => void,
  ) {}
  status(): number {
    return this.statusCode;
  }
  headers(): Fields {
    return this.fields;
  }
  consume(): IncomingBody {
    if (this.#consumed) throw undefined;
    this.#consumed = true;
    return new IncomingBody(this.queue, this.cancel);
  }
  /** Dropped without reading its body: stop the download. */
  [Symbol.dispose](): void {
    if (!this.#consumed && !this.queue.settled) this.cancel();
  }
}

/** wasi:http `future-incoming-response`. */
export class FutureIncomingResponse {
  readonly #latch = new Latch();
  #result: { tag: "ok"; val: IncomingResponse } | {
    tag: "err";
    val: HttpErrorCode;
  } | undefined;
  #taken = false;
  onDrop: (() => void) | undefined;

  settle(
    result: { tag: "ok"; val: IncomingResponse } | {
      tag: "err";
      val: HttpErrorCode;
    },
  ): void {
    if (this.#result) return;
    this.#result = result;
    this.#latch.set();
  }
  subscribe(): Pollable {
    return new LatchPollable(this.#latch);
  }
  get(): unknown {
    if (!this.#result) return undefined;
    if (this.#taken) return { tag: "err", val: undefined };
    this.#taken = true;
    return { tag: "ok", val: this.#result };
  }
  [Symbol.dispose](): void {
    if (!this.#taken) this.onDrop?.();
  }
}

/** wasi:http `http-error-code`: the error code behind a body stream's failure. */
export function httpErrorCode(err: IoError): HttpErrorCode | undefined {
  return err.httpCode;
}

/** Authorities (`host:port`) the guest may reach. */
export class AllowList {
  readonly #set = new Set<string>();

  allow(authority: string): this {
    this.#set.add(authority.toLowerCase());
    return this;
  }
  /** Allow the origin of a URL (`http://h:p/...`), adding the scheme's default port. */
  allowUrl(url: string): this {
    const a = authorityOfUrl(url);
    if (a) this.#set.add(a);
    return this;
  }
  allows(authority: string): boolean {
    return this.#set.has(authority.toLowerCase());
  }
  list(): string[] {
    return [...this.#set];
  }
}

/** `host:port` of a URL, with the default port of its scheme. */
export function authorityOfUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    const port = u.port ||
      (u.protocol === "https:" ? "443" : u.protocol === "http:" ? "80" : "");
    if (!port || !u.hostname) return undefined;
    return `${u.hostname}:${port}`.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Counters of what one sandbox sent, for tests and the bench. */
export interface HttpCounters {
  requests: number;
  denied: number;
  byMethod: Record<string, number>;
}

/** Headers the fetch implementation manages itself. */
const HOP_HEADERS = new Set([
  "content-length",
  "host",
  "connection",
  "transfer-encoding",
  "keep-alive",
  "upgrade",
  "te",
]);

/** fetch's failure → the WASI error code (by the error's kind, not our guess). */
export function httpErrorOf(e: unknown): HttpErrorCode {
  const msg = e instanceof Error
    ? `${e.message} ${String((e as { cause?: unknown }).cause ?? "")}`
    : String(e);
  if (/connection refused/i.test(msg)) return { tag: "connection-refused" };
  if (
    /dns error|failed to lookup|name or service not known|no address associated/i
      .test(msg)
  ) {
    return { tag: "DNS-error", val: { rcode: undefined, infoCode: undefined } };
  }
  if (/certificate/i.test(msg)) return { tag: "TLS-certificate-error" };
  if (/\btls\b|handshake/i.test(msg)) {
    return { tag: "TLS-protocol-error", val: undefined };
  }
  if (/reset|closed|broken pipe|connection error|incomplete/i.test(msg)) {
    return { tag: "connection-terminated" };
  }
  if (/timed out|timeout/i.test(msg)) return { tag: "connection-timeout" };
  return { tag: "internal-error", val: msg.trim().slice(0, 300) };
}

/** A failure of our HTTP/1.1 client → the WASI error code. */
export function h1ErrorCode(e: unknown): HttpErrorCode {
  if (!(e instanceof H1Error)) return httpErrorOf(e);
  switch (e.kind) {
    case "refused":
      return { tag: "connection-refused" };
    case "dns":
      return {
        tag: "DNS-error",
        val: { rcode: undefined, infoCode: undefined },
      };
    case "tls":
      return /certificate/i.test(e.message)
        ? { tag: "TLS-certificate-error" }
        : { tag: "TLS-protocol-error", val: undefined };
    case "closed":
    case "cut-short":
    case "aborted":
      return { tag: "connection-terminated" };
    case "protocol":
      return { tag: "HTTP-protocol-error" };
    default:
      return { tag: "internal-error", val: e.message.trim().slice(0, 300) };
  }
}

/** Whether requests must go through a proxy (which only `fetch` knows how to use). */
function proxyConfigured(): boolean {
  try {
    return [
      "HTTPS_PROXY",
      "https_proxy",
      "HTTP_PROXY",
      "http_proxy",
      "ALL_PROXY",
    ]
      .some((name) => !!Deno.env.get(name));
  } catch {
    return true;
  }
}

function methodName(m: Method): string {
  return m.tag === "other" ? String(m.val) : m.tag.toUpperCase();
}

/** The `handle` of wasi:http/outgoing-handler for one sandbox. */
export function outgoingHandler(
  allow: AllowList,
  sched: Scheduler,
  counters: HttpCounters,
  direct = !proxyConfigured(),
) {
  function handle(
    request: OutgoingRequest,
    _options: RequestOptions | undefined,
  ): FutureIncomingResponse {
    sched.check();
    const scheme = request.scheme?.tag === "HTTP"
      ? "http"
      : request.scheme?.tag === "HTTPS"
      ? "https"
      : undefined;
    const authority = request.authority;
    if (!scheme || !authority) throw { tag: "HTTP-request-URI-invalid" };
    const withPort = authority.includes(":") && !authority.endsWith("]")
      ? authority
      : `${authority}:${scheme === "https" ? 443 : 80}`;
    if (!allow.allows(withPort)) {
      counters.denied++;
      throw { tag: "HTTP-request-denied" };
    }
    const future = new FutureIncomingResponse();
    const url = `${scheme}://${authority}${request.pathWithQuery ?? "/"}`;
    const body = request.takenBody;
    const go = () => send(request, body, url, future);
    if (!body || body.finished.done) go();
    else body.finished.wait().then(go);
    return future;
  }

  function send(
    request: OutgoingRequest,
    body: OutgoingBody | undefined,
    url: string,
    future: FutureIncomingResponse,
  ): void {
    if (sched.abandoned) return;
    const method = methodName(request.method);
    counters.requests++;
    counters.byMethod[method] = (counters.byMethod[method] ?? 0) + 1;
    const headers: Array<[string, string]> = [];
    for (const [k, v] of request.fields.entries()) {
      if (!HOP_HEADERS.has(k)) headers.push([k, decoder.decode(v)]);
    }
    // No host timers here: the guest bounds every exchange itself (its own deadline covers
    // the first byte and the whole body) and drops the future when it gives up, which
    // aborts the request. A timer per request and per chunk cost more than the request.
    const payload = body && body.out.size > 0
      ? body.out.bytes()
      : method === "GET" || method === "HEAD"
      ? undefined
      : new Uint8Array(0);
    if (direct) sendDirect(request, method, headers, payload, future);
    else sendFetch(url, method, headers, payload, future);
  }

  /** Hand an answer to the guest: the response now, its body (read whole: the guest reads
   * every body whole) into the body stream when it has arrived. */
  function deliver(
    future: FutureIncomingResponse,
    cancel: () => void,
    status: number,
    fields: Fields,
    body: () => Promise<Uint8Array>,
  ): void {
    const queue = new ByteQueue();
    future.settle({
      tag: "ok",
      val: new IncomingResponse(status, fields, queue, cancel),
    });
    body().then(
      (bytes) => {
        queue.push(bytes);
        queue.end();
      },
      (e) =>
        queue.fail(
          `the response body was cut short: ${
            e instanceof Error ? e.message : String(e)
          }`,
        ),
    ).finally(() => sched.cancellers.delete(cancel));
  }

  /** Track a request's cancel function until its body has arrived or it failed. */
  function cancellable(future: FutureIncomingResponse, cancel: () => void) {
    sched.cancellers.add(cancel);
    future.onDrop = cancel;
  }

  /** Send through `fetch` (when a proxy is configured). */
  function sendFetch(
    url: string,
    method: string,
    pairs: Array<[string, string]>,
    payload: Uint8Array | undefined,
    future: FutureIncomingResponse,
  ): void {
    const headers = new Headers(pairs);
    // fetch would otherwise ask for gzip and inflate behind the guest's integrity checks.
    if (!headers.has("accept-encoding")) {
      headers.set("accept-encoding", "identity");
    }
    const ctrl = new AbortController();
    const cancel = () => ctrl.abort();
    cancellable(future, cancel);
    fetch(url, {
      method,
      headers,
      body: payload as BodyInit | undefined,
      redirect: "manual",
      signal: ctrl.signal,
    }).then(
      (resp) =>
        deliver(
          future,
          cancel,
          resp.status,
          Fields.fromHeaders(resp.headers),
          // Deno reads a fetch body into one buffer natively; pulling it chunk by chunk
          // through a ReadableStream reader cost more CPU than the request itself.
          async () => resp.body ? await resp.bytes() : new Uint8Array(0),
        ),
      (e) => {
        sched.cancellers.delete(cancel);
        future.settle({ tag: "err", val: httpErrorOf(e) });
      },
    );
  }

  /** Send on our HTTP/1.1 client (`h1.ts`). */
  function sendDirect(
    request: OutgoingRequest,
    method: string,
    headers: Array<[string, string]>,
    payload: Uint8Array | undefined,
    future: FutureIncomingResponse,
  ): void {
    const https = request.scheme?.tag === "HTTPS";
    const authority = request.authority!;
    const { hostname, port } = splitAuthority(authority, https ? 443 : 80);
    let cancelRequest = () => {};
    const cancel = () => cancelRequest();
    cancellable(future, cancel);
    h1Request({
      https,
      hostname,
      port,
      authority,
      method,
      pathWithQuery: request.pathWithQuery ?? "/",
      headers,
      body: payload,
    }, (c) => (cancelRequest = c)).then(
      (resp) =>
        deliver(
          future,
          cancel,
          resp.status,
          Fields.fromPairs(resp.headers),
          resp.body,
        ),
      (e) => {
        sched.cancellers.delete(cancel);
        future.settle({ tag: "err", val: h1ErrorCode(e) });
      },
    );
  }

  return { handle };
}

/** `host` and port of an authority (`host`, `host:port`, `[v6]:port`). */
export function splitAuthority(
  authority: string,
  defaultPort: number,
): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return { hostname: authority, port: defaultPort };
  const host = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  return { hostname: host, port: m[2] ? Number(m[2]) : defaultPort };
}
