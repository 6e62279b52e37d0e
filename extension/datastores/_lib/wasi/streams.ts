// wasi:io/streams: the byte streams of files, HTTP bodies and the standard streams.
//
// Errors reach the guest as the WIT `stream-error` variant, thrown as plain values (the
// bindings turn a thrown non-Error value into the `err` case of the result).

import { IoError, Latch, LatchPollable, Pollable } from "./poll.ts";

/** The `stream-error` variant. */
export type StreamError =
  | { tag: "closed" }
  | { tag: "last-operation-failed"; val: IoError };

export const CLOSED: StreamError = { tag: "closed" };

export function failed(
  message: string,
  httpCode?: { tag: string; val?: unknown },
): StreamError {
  return { tag: "last-operation-failed", val: new IoError(message, httpCode) };
}

/** Largest single read handed to the guest; it asks for 256 KiB at most anyway. */
const MAX_READ = 1 << 20;
/** What `check-write` grants: whole files and request bodies go in one write. */
const WRITE_PERMIT = 64n << 20n;

/** wasi:io/streams `input-stream`. */
export class InputStream {
  /** Up to `len` bytes; empty when nothing is available yet; throws `closed` at the end. */
  read(_len: bigint): Uint8Array {
    throw CLOSED;
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable();
  }
  [Symbol.dispose](): void {}
}

/** wasi:io/streams `output-stream`. */
export class OutputStream {
  checkWrite(): bigint {
    return WRITE_PERMIT;
  }
  write(_contents: Uint8Array): void {}
  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents);
    this.flush();
  }
  flush(): void {}
  blockingFlush(): void {
    this.flush();
  }
  subscribe(): Pollable {
    return new Pollable();
  }
  writeZeroes(len: bigint): void {
    this.write(new Uint8Array(Number(len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
    this.flush();
  }
  splice(src: InputStream, len: bigint): bigint {
    const data = src.read(len);
    this.write(data);
    return BigInt(data.length);
  }
  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len);
  }
  [Symbol.dispose](): void {}
}

/** Output that goes nowhere (the guest's stdout; it writes nothing useful there). */
export class SinkOutput extends OutputStream {}

/** First byte of a guest progress line (ASCII record separator). */
const PROGRESS_MARKER = 0x1e;
/** Longest progress line kept; the guest's are under 200 bytes. */
const MAX_PROGRESS_LINE = 4096;

/**
 * The guest's stderr. The guest writes progress there only when its environment has
 * `SWAMP_GCS_PROGRESS=1` (which this host never sets): one line per event, `\x1e` then a
 * JSON object then `\n` (defined in the component's `src/progress.rs`). Marked lines go to
 * `onProgress` when one is given; every other byte, and everything without a listener, is
 * discarded, so none of it can reach swamp's output.
 */
export class GuestStderr extends OutputStream {
  #line: number[] = [];
  #marked: boolean | undefined;

  constructor(
    private readonly onProgress?: (event: Record<string, unknown>) => void,
  ) {
    super();
  }

  override write(contents: Uint8Array): void {
    if (!this.onProgress) return;
    for (const b of contents) {
      this.#marked ??= b === PROGRESS_MARKER;
      if (b === 0x0a) {
        if (this.#marked && this.#line.length <= MAX_PROGRESS_LINE) {
          this.#emit();
        }
        this.#line = [];
        this.#marked = undefined;
      } else if (this.#marked && this.#line.length <= MAX_PROGRESS_LINE) {
        this.#line.push(b);
      }
    }
  }

  #emit(): void {
    try {
      const text = new TextDecoder().decode(
        new Uint8Array(this.#line.slice(1)),
      );
      const event = JSON.parse(text);
      if (event && typeof event === "object" && !Array.isArray(event)) {
        this.onProgress!(event);
      }
    } catch {
      // Not an event: dropped like the rest of stderr.
    }
  }
}

/** An open file shared by the streams made from one descriptor; tracks the OS position so a
 * sequential reader or writer never pays for a seek. */
export class OpenFile {
  pos = 0;
  constructor(readonly file: Deno.FsFile) {}

  seekTo(offset: number): void {
    if (this.pos !== offset) {
      this.file.seekSync(offset, Deno.SeekMode.Start);
      this.pos = offset;
    }
  }
}

/** Reads a file from an offset. */
export class FileInput extends InputStream {
  constructor(
    private readonly open: OpenFile,
    private offset: number,
    private readonly onError: (e: unknown) => StreamError,
  ) {
    super();
  }
  override read(len: bigint): Uint8Array {
    const want = Math.min(Number(len), MAX_READ);
    if (want === 0) return new Uint8Array(0);
    // The bindings copy the result into the guest's memory before anything else runs, so one
    // scratch buffer serves every read (a fresh zero-filled buffer per read costs more than
    // the read when the guest asks for far more than the file holds).
    const buf = scratch(want);
    let n: number | null;
    try {
      this.open.seekTo(this.offset);
      n = this.open.file.readSync(buf);
    } catch (e) {
      throw this.onError(e);
    }
    if (n === null || n === 0) throw CLOSED;
    this.offset += n;
    this.open.pos += n;
    return buf.subarray(0, n);
  }
}

let scratchBuf = new Uint8Array(64 * 1024);

/** A shared buffer of at least `len` bytes, valid until the next call. */
function scratch(len: number): Uint8Array {
  if (scratchBuf.length < len) {
    scratchBuf = new Uint8Array(Math.max(len, scratchBuf.length * 2));
  }
  return scratchBuf.subarray(0, len);
}

/** Writes a file at an offset, or at its end. */
export class FileOutput extends OutputStream {
  constructor(
    private readonly open: OpenFile,
    private offset: number,
    private readonly append: boolean,
    private readonly onError: (e: unknown) => StreamError,
  ) {
    super();
  }
  override write(contents: Uint8Array): void {
    try {
      if (this.append) {
        this.open.pos = this.open.file.seekSync(0, Deno.SeekMode.End);
      } else {
        this.open.seekTo(this.offset);
      }
      let done = 0;
      while (done < contents.length) {
        done += this.open.file.writeSync(contents.subarray(done));
      }
      this.open.pos += done;
      this.offset += done;
    } catch (e) {
      throw this.onError(e);
    }
  }
}

/** Bytes arriving from the network: filled by the host, drained by the guest. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #ended = false;
  #error: string | undefined;
  #code: { tag: string; val?: unknown } | undefined;
  #more = new Latch();

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#wake();
  }
  end(): void {
    this.#ended = true;
    this.#wake();
  }
  fail(message: string, code?: { tag: string; val?: unknown }): void {
    if (this.#error === undefined) this.#code = code;
    this.#error ??= message;
    this.#wake();
  }
  get settled(): boolean {
    return this.#ended || this.#error !== undefined;
  }

  take(len: number): Uint8Array {
    if (this.#chunks.length === 0) {
      if (this.#error !== undefined) throw failed(this.#error, this.#code);
      if (this.#ended) throw CLOSED;
      return new Uint8Array(0);
    }
    const first = this.#chunks[0];
    const left = first.length - this.#head;
    if (left <= len) {
      const out = this.#head === 0 ? first : first.subarray(this.#head);
      this.#chunks.shift();
      this.#head = 0;
      return out;
    }
    const out = first.subarray(this.#head, this.#head + len);
    this.#head += len;
    return out;
  }

  readable(): boolean {
    return this.#chunks.length > 0 || this.settled;
  }

  /** Live readiness: the guest keeps one pollable per stream and asks it again and again. */
  subscribe(): Pollable {
    return new QueuePollable(this);
  }

  waitMore(): Promise<void> {
    if (this.readable()) return Promise.resolve();
    if (this.#more.done) this.#more = new Latch();
    return this.#more.wait();
  }

  #wake(): void {
    this.#more.set();
  }
}

class QueuePollable extends Pollable {
  constructor(private readonly q: ByteQueue) {
    super();
  }
  override ready(): boolean {
    return this.q.readable();
  }
  override wait(): Promise<void> {
    return this.q.waitMore();
  }
}

/** An HTTP response body as the guest reads it. */
export class QueueInput extends InputStream {
  constructor(
    private readonly q: ByteQueue,
    private readonly onDrop?: () => void,
  ) {
    super();
  }
  override read(len: bigint): Uint8Array {
    return this.q.take(Math.min(Number(len), MAX_READ));
  }
  override subscribe(): Pollable {
    return this.q.subscribe();
  }
  override [Symbol.dispose](): void {
    this.onDrop?.();
  }
}

/** An HTTP request body as the guest writes it: collected, then sent whole. */
export class CollectOutput extends OutputStream {
  readonly chunks: Uint8Array[] = [];
  size = 0;
  closed = false;
  override write(contents: Uint8Array): void {
    if (this.closed) throw CLOSED;
    if (contents.length === 0) return;
    this.chunks.push(contents);
    this.size += contents.length;
  }
  bytes(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export { LatchPollable };
