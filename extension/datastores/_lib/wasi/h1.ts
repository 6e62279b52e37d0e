// A small HTTP/1.1 client over Deno's TCP and TLS connections, with keep-alive.
//
// Why not `fetch`: the guest sends one request per file, and under `fetch` each request cost
// about 0.25 ms of CPU in this process (Request and Headers objects, WebIDL conversions,
// abort-signal plumbing, a ReadableStream per body) — as much as the rest of the host's work
// on that file. Writing the request head and reading the answer on a kept-alive connection
// costs about half that. Only what the guest needs is here: one request at a time per
// connection, bodies by `content-length`, `chunked`, or up to the close, no redirects (the
// guest follows none), no compression (the guest asks for identity and checks hashes).
// `fetch` is still used when a proxy is configured (see `http.ts`).

/** A response: its head, and its body as it arrives. */
export interface H1Response {
  status: number;
  /** Header names lower-cased, values as sent, in order. */
  headers: Array<[string, string]>;
  /** Reads the whole body; rejects with an `H1Error` when it is cut short. */
  body(): Promise<Uint8Array>;
}

/** A failure, by what happened (mapped onto wasi:http error codes by the caller). */
export class H1Error extends Error {
  constructor(
    readonly kind:
      | "refused"
      | "dns"
      | "tls"
      | "closed"
      | "cut-short"
      | "protocol"
      | "aborted"
      | "other",
    message: string,
  ) {
    super(message);
    this.name = "H1Error";
  }
}

/** Kept-alive connections unused for longer than this are closed rather than reused: a
 * server may have dropped them meanwhile. */
const IDLE_MS = 4_000;
/** At most this many idle connections are kept per origin. */
const IDLE_MAX = 64;
const READ_CHUNK = 64 * 1024;

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

class Connection {
  /** Bytes read past the last parsed item. */
  #buf = new Uint8Array(0);
  #start = 0;
  readonly #scratch = new Uint8Array(READ_CHUNK);
  idleSince = 0;
  reused = false;
  closed = false;
  /** Whether anything arrived since the connection was taken for this request. */
  answered = false;

  constructor(readonly conn: Deno.Conn) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  get buffered(): number {
    return this.#buf.length - this.#start;
  }

  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) off += await this.conn.write(data.subarray(off));
  }

  /** Read more into the buffer; false at the end of the stream. Reads land in one scratch
   * buffer per connection (a fresh 64 KiB buffer per read was zeroed each time) and only
   * what arrived is copied out: answers are mostly a few hundred bytes. */
  async fill(): Promise<boolean> {
    const n = await this.conn.read(this.#scratch);
    if (n === null) return false;
    this.answered = true;
    const left = this.#buf.length - this.#start;
    const joined = new Uint8Array(left + n);
    joined.set(this.#buf.subarray(this.#start));
    joined.set(this.#scratch.subarray(0, n), left);
    this.#buf = joined;
    this.#start = 0;
    return true;
  }

  /** The next line (without CRLF) or head block, reading as needed; undefined at EOF. */
  async until(marker: "\r\n" | "\r\n\r\n"): Promise<string | undefined> {
    for (;;) {
      const at = find(this.#buf, this.#start, marker);
      if (at >= 0) {
        const text = latin1.decode(this.#buf.subarray(this.#start, at));
        this.#start = at + marker.length;
        return text;
      }
      if (!(await this.fill())) return undefined;
    }
  }

  /** Exactly `n` bytes, or fewer at EOF. */
  async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = Math.min(n, this.buffered);
    out.set(this.#buf.subarray(this.#start, this.#start + got));
    this.#start += got;
    while (got < n) {
      const r = await this.conn.read(out.subarray(got));
      if (r === null) return out.subarray(0, got);
      got += r;
    }
    return out;
  }

  /** Everything up to EOF. */
  async rest(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [this.#buf.subarray(this.#start)];
    this.#buf = new Uint8Array(0);
    this.#start = 0;
    for (;;) {
      const chunk = new Uint8Array(READ_CHUNK);
      const n = await this.conn.read(chunk);
      if (n === null) break;
      parts.push(chunk.subarray(0, n));
    }
    return concat(parts);
  }
}

function find(buf: Uint8Array, from: number, marker: string): number {
  const a = marker.charCodeAt(0);
  for (let i = from; i + marker.length <= buf.length; i++) {
    if (buf[i] !== a) continue;
    let ok = true;
    for (let j = 1; j < marker.length; j++) {
      if (buf[i + j] !== marker.charCodeAt(j)) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return -1;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Idle connections by origin (`http://host:port`), shared by every sandbox of the process:
 * a connection carries nothing of a sandbox between requests. */
const idle = new Map<string, Connection[]>();

function checkout(origin: string): Connection | undefined {
  const list = idle.get(origin);
  const now = performance.now();
  while (list && list.length > 0) {
    const c = list.pop()!;
    if (now - c.idleSince <= IDLE_MS && !c.closed) {
      c.reused = true;
      c.answered = false;
      return c;
    }
    c.close();
  }
  return undefined;
}

function checkin(origin: string, c: Connection): void {
  if (c.closed || c.buffered > 0) return c.close();
  let list = idle.get(origin);
  if (!list) idle.set(origin, list = []);
  if (list.length >= IDLE_MAX) return c.close();
  c.idleSince = performance.now();
  list.push(c);
}

/** Close every idle connection (tests, and a host shutting down). */
export function closeIdleConnections(): void {
  for (const list of idle.values()) for (const c of list) c.close();
  idle.clear();
}

async function connect(
  https: boolean,
  hostname: string,
  port: number,
): Promise<Connection> {
  try {
    const conn = https
      ? await Deno.connectTls({ hostname, port, alpnProtocols: ["http/1.1"] })
      : await Deno.connect({ hostname, port });
    if (!https) (conn as Deno.TcpConn).setNoDelay(true);
    return new Connection(conn);
  } catch (e) {
    throw connectError(e);
  }
}

function connectError(e: unknown): H1Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new H1Error("refused", msg);
  }
  if (/dns|lookup|name or service|no address/i.test(msg)) {
    return new H1Error("dns", msg);
  }
  if (/certificate|tls|handshake/i.test(msg)) return new H1Error("tls", msg);
  return new H1Error("other", msg);
}

/** One request. `cancel` is set to a function that aborts it (closing its connection). */
export async function request(
  req: {
    https: boolean;
    hostname: string;
    port: number;
    /** `host` header value (the authority as the guest gave it). */
    authority: string;
    method: string;
    pathWithQuery: string;
    headers: Array<[string, string]>;
    body: Uint8Array | undefined;
  },
  onCancel: (cancel: () => void) => void,
): Promise<H1Response> {
  const origin = `${
    req.https ? "https" : "http"
  }://${req.hostname}:${req.port}`;
  let head =
    `${req.method} ${req.pathWithQuery} HTTP/1.1\r\nhost: ${req.authority}\r\n`;
  for (const [k, v] of req.headers) head += `${k}: ${v}\r\n`;
  const bodyLen = req.body?.length ?? 0;
  if (req.body !== undefined) head += `content-length: ${bodyLen}\r\n`;
  head += "\r\n";
  const headBytes = encoder.encode(head);
  let wire = headBytes;
  if (bodyLen > 0 && bodyLen <= 64 * 1024) {
    wire = new Uint8Array(headBytes.length + bodyLen);
    wire.set(headBytes);
    wire.set(req.body!, headBytes.length);
  }
  // A kept-alive connection the server closed meanwhile fails before any answer; such a
  // request is sent again on a new connection when resending cannot do anything twice
  // (the server closed the connection before reading it; an idempotent method anyway).
  const idempotent = req.method !== "POST";
  for (let attempt = 0;; attempt++) {
    const c = (attempt === 0 ? checkout(origin) : undefined) ??
      await connect(req.https, req.hostname, req.port);
    let aborted = false;
    onCancel(() => {
      aborted = true;
      c.close();
    });
    try {
      await c.write(wire);
      if (wire === headBytes && bodyLen > 0) await c.write(req.body!);
      const res = await readHead(c, req.method);
      return res(origin);
    } catch (e) {
      c.close();
      if (aborted) throw new H1Error("aborted", "the request was aborted");
      // Nothing at all came back on a reused connection: the server had closed it.
      const stale = c.reused && !c.answered;
      if (stale && attempt === 0 && idempotent) continue;
      if (e instanceof H1Error) throw e;
      throw new H1Error(
        "closed",
        e instanceof Error ? e.message : String(e),
      );
    }
  }
}

const NOTHING_READ = "the connection closed before an answer";

/** Read a response head; returns a function building the response (and its body reader)
 * once the caller knows where the connection goes afterwards. */
async function readHead(
  c: Connection,
  method: string,
): Promise<(origin: string) => H1Response> {
  let status = 0;
  let lines: string[] = [];
  // Interim (1xx) answers are skipped.
  do {
    const block = await c.until("\r\n\r\n");
    if (block === undefined) {
      throw new H1Error(
        "closed",
        c.answered ? "the answer was cut short" : NOTHING_READ,
      );
    }
    lines = block.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) {
      throw new H1Error(
        "protocol",
        `not an HTTP/1.1 answer: ${lines[0].slice(0, 80)}`,
      );
    }
    status = Number(m[1]);
  } while (status >= 100 && status < 200);
  const headers: Array<[string, string]> = [];
  let length: number | undefined;
  let chunked = false;
  let close = /^HTTP\/1\.0/.test(lines[0]);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.push([name, value]);
    if (name === "content-length") length = Number(value);
    else if (name === "transfer-encoding") {
      chunked = /chunked/i.test(value);
    } else if (name === "connection") close = /close/i.test(value);
  }
  const noBody = method === "HEAD" || status === 204 || status === 304;
  return (origin) => {
    let read: Promise<Uint8Array> | undefined;
    const readBody = async (): Promise<Uint8Array> => {
      let body: Uint8Array;
      if (noBody) {
        body = new Uint8Array(0);
      } else if (chunked) {
        body = await readChunked(c);
      } else if (length !== undefined && Number.isFinite(length)) {
        body = await c.take(length);
        if (body.length < length) {
          c.close();
          throw new H1Error(
            "cut-short",
            `${body.length} of ${length} bytes arrived`,
          );
        }
      } else {
        body = await c.rest();
        close = true;
      }
      if (close) c.close();
      else checkin(origin, c);
      return body;
    };
    return {
      status,
      headers,
      body: () =>
        read ??= readBody().catch((e) => {
          c.close();
          throw e instanceof H1Error ? e : new H1Error(
            "cut-short",
            e instanceof Error ? e.message : String(e),
          );
        }),
    };
  };
}

async function readChunked(c: Connection): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const line = await c.until("\r\n");
    if (line === undefined) {
      throw new H1Error("cut-short", "chunked body cut short");
    }
    const size = parseInt(line.split(";")[0].trim(), 16);
    if (!Number.isFinite(size) || size < 0) {
      throw new H1Error("protocol", `bad chunk size ${line.slice(0, 40)}`);
    }
    if (size === 0) {
      // Trailers, if any, end with an empty line.
      for (;;) {
        const t = await c.until("\r\n");
        if (t === undefined) {
          throw new H1Error("cut-short", "chunked body cut short");
        }
        if (t === "") return concat(parts);
      }
    }
    const data = await c.take(size);
    if (data.length < size) {
      throw new H1Error("cut-short", "chunked body cut short");
    }
    parts.push(data);
    if ((await c.until("\r\n")) !== "") {
      throw new H1Error("protocol", "chunk not followed by CRLF");
    }
  }
}
