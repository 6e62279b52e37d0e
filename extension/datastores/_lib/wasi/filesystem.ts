// wasi:filesystem over Deno's synchronous file API, confined to the preopened directories.
//
// Confinement: every path the guest names is resolved here, never by the OS alone.
// Absolute paths and `..` above the preopen are refused lexically; the parent directory is
// resolved with realpath and must lie inside the preopen's real root, so a symlinked
// directory that leads out is refused; a final symlink is followed only when the guest asks
// and only when its target stays inside. Read-only preopens (credential copies) refuse every
// write.

import type { Scheduler } from "./poll.ts";
import {
  failed,
  FileInput,
  FileOutput,
  InputStream,
  OpenFile,
  OutputStream,
  StreamError,
} from "./streams.ts";

export type ErrorCode = string;
export type DescriptorType =
  | "unknown"
  | "directory"
  | "symbolic-link"
  | "regular-file"
  | "fifo"
  | "socket"
  | "character-device"
  | "block-device";

export interface PathFlags {
  symlinkFollow?: boolean;
}
export interface OpenFlags {
  create?: boolean;
  directory?: boolean;
  exclusive?: boolean;
  truncate?: boolean;
}
export interface DescriptorFlags {
  read?: boolean;
  write?: boolean;
  fileIntegritySync?: boolean;
  dataIntegritySync?: boolean;
  requestedWriteSync?: boolean;
  mutateDirectory?: boolean;
}
interface Datetime {
  seconds: bigint;
  nanoseconds: number;
}

/** OS error codes as Deno reports them → the WASI `error-code`. */
const CODES: Record<string, ErrorCode> = {
  ENOENT: "no-entry",
  EEXIST: "exist",
  EACCES: "access",
  EPERM: "not-permitted",
  EISDIR: "is-directory",
  ENOTDIR: "not-directory",
  ENOTEMPTY: "not-empty",
  ELOOP: "loop",
  EINVAL: "invalid",
  ENAMETOOLONG: "name-too-long",
  EXDEV: "cross-device",
  ENOSPC: "insufficient-space",
  EDQUOT: "quota",
  EBADF: "bad-descriptor",
  EBUSY: "busy",
  EROFS: "read-only",
  EMFILE: "insufficient-memory",
  ENFILE: "insufficient-memory",
  EFBIG: "file-too-large",
  EIO: "io",
};

/** The WASI error code of a Deno filesystem error. */
export function codeOf(e: unknown): ErrorCode {
  if (e instanceof Deno.errors.NotFound) return "no-entry";
  if (e instanceof Deno.errors.AlreadyExists) return "exist";
  if (e instanceof Deno.errors.NotADirectory) return "not-directory";
  if (e instanceof Deno.errors.IsADirectory) return "is-directory";
  if (e instanceof Deno.errors.PermissionDenied) return "access";
  const code = (e as { code?: string })?.code;
  return (code && CODES[code]) || "io";
}

function streamErrorOf(e: unknown): StreamError {
  return failed(e instanceof Error ? e.message : String(e));
}

function datetime(d: Date | null | undefined): Datetime | undefined {
  if (!d) return undefined;
  const ms = d.getTime();
  const s = Math.floor(ms / 1000);
  return { seconds: BigInt(s), nanoseconds: (ms - s * 1000) * 1_000_000 };
}

function typeOf(info: Deno.FileInfo): DescriptorType {
  if (info.isSymlink) return "symbolic-link";
  if (info.isDirectory) return "directory";
  if (info.isFile) return "regular-file";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "character-device";
  if (info.isBlockDevice) return "block-device";
  return "unknown";
}

function statOf(info: Deno.FileInfo) {
  return {
    type: typeOf(info),
    linkCount: BigInt(info.nlink ?? 1),
    size: BigInt(info.size),
    dataAccessTimestamp: datetime(info.atime),
    dataModificationTimestamp: datetime(info.mtime),
    statusChangeTimestamp: datetime(info.ctime ?? info.mtime),
  };
}

/** A 128-bit identity of a host path (two FNV-1a 64 hashes). The guest uses metadata hashes
 * only as inode numbers for directory listings; hashing the confined path answers without a
 * syscall, which matters because a walk asks once per directory entry. */
function hashOfPath(path: string) {
  // Four independent 32-bit FNV-1a lanes, joined into two 64-bit words.
  let h0 = 0x811c9dc5, h1 = 0x01000193, h2 = 0x9e3779b9, h3 = 0x85ebca6b;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    h0 = Math.imul(h0 ^ c, 0x01000193);
    h1 = Math.imul(h1 ^ c, 0x01000193) ^ (h0 >>> 15);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h1 >>> 13);
    h3 = Math.imul(h3 ^ c, 0x01000193) ^ (h2 >>> 11);
  }
  const word = (hi: number, lo: number) =>
    (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  return { lower: word(h0, h1), upper: word(h2, h3) };
}

/** One preopened directory: its real root and whether the guest may change it. */
export class Preopen {
  readonly realRoot: string;
  /** Directories (below the root, `/`-joined) already checked during this call. */
  readonly #checked = new Set<string>();

  constructor(
    hostDir: string,
    readonly readOnly: boolean,
    readonly sched?: Scheduler,
  ) {
    this.realRoot = Deno.realPathSync(hostDir);
  }

  inside(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.realRoot + "/");
  }

  host(parts: readonly string[]): string {
    return parts.length === 0
      ? this.realRoot
      : this.realRoot + "/" + parts.join("/");
  }

  /** Check that the directory `parts` exists and that no component of it is a symlink
   * leading out of the root. Each directory is checked once a call (one lstat), so a walk
   * or a pull pays one stat per new directory, not a realpath per file. */
  checkDir(parts: readonly string[]): void {
    let rel = "";
    for (let i = 0; i < parts.length; i++) {
      rel = i === 0 ? parts[0] : rel + "/" + parts[i];
      if (this.#checked.has(rel)) continue;
      const host = this.realRoot + "/" + rel;
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(host);
      } catch (e) {
        throw codeOf(e);
      }
      if (info.isSymlink) {
        let real: string;
        try {
          real = Deno.realPathSync(host);
        } catch (e) {
          throw codeOf(e);
        }
        if (!this.inside(real)) throw "not-permitted";
        if (!Deno.statSync(real).isDirectory) throw "not-directory";
      } else if (!info.isDirectory) {
        throw "not-directory";
      }
      this.#checked.add(rel);
    }
  }

  forget(): void {
    this.#checked.clear();
  }

  /** `parts` was renamed or removed: drop what was checked at or below it. A file's rename
   * (every pulled file ends with one) leaves the checked directories alone. */
  moved(parts: readonly string[]): void {
    if (this.#checked.size === 0) return;
    const rel = parts.join("/");
    if (!this.#checked.has(rel)) {
      const below = rel + "/";
      let hit = false;
      for (const key of this.#checked) {
        if (key.startsWith(below)) {
          hit = true;
          break;
        }
      }
      if (!hit) return;
    }
    this.#checked.clear();
  }
}

/** Split a guest path relative to a directory; refuse what leaves the preopen. */
function lexical(base: readonly string[], path: string): string[] {
  if (path.startsWith("/") || path.includes("\0")) throw "not-permitted";
  const parts = [...base];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length === 0) throw "not-permitted";
      parts.pop();
    } else {
      parts.push(seg);
    }
  }
  return parts;
}

/** wasi:filesystem `directory-entry-stream`. */
export class DirectoryEntryStream {
  readonly #entries: Iterator<Deno.DirEntry>;
  constructor(entries: Iterable<Deno.DirEntry>) {
    this.#entries = entries[Symbol.iterator]();
  }
  readDirectoryEntry(): { type: DescriptorType; name: string } | undefined {
    let next: IteratorResult<Deno.DirEntry>;
    try {
      next = this.#entries.next();
    } catch (e) {
      throw codeOf(e);
    }
    if (next.done) return undefined;
    const e = next.value;
    const type: DescriptorType = e.isSymlink
      ? "symbolic-link"
      : e.isDirectory
      ? "directory"
      : e.isFile
      ? "regular-file"
      : "unknown";
    return { type, name: e.name };
  }
  [Symbol.dispose](): void {}
}

/** wasi:filesystem `descriptor`: a directory (a path) or an open regular file. */
export class Descriptor {
  #open: OpenFile | undefined;

  constructor(
    readonly preopen: Preopen,
    /** Components below the preopen root. */
    readonly parts: readonly string[],
    readonly flags: DescriptorFlags,
    file?: Deno.FsFile,
  ) {
    if (file) this.#open = new OpenFile(file);
  }

  get hostPath(): string {
    return this.preopen.host(this.parts);
  }

  #file(): OpenFile {
    if (!this.#open) throw "is-directory";
    return this.#open;
  }

  #dir(): void {
    if (this.#open) throw "not-directory";
  }

  #writable(): void {
    if (this.preopen.readOnly) throw "read-only";
  }

  /** The host path of `path` below this directory, confined to the preopen, and, when
   * `look` is set, what is there (`lstat`, or the target's `stat` when a symlink is
   * followed; undefined when nothing is). One stat per call at most: walks make thousands. */
  #resolve(
    path: string,
    follow: boolean,
    look = true,
  ): { host: string; parts: string[]; info?: Deno.FileInfo } {
    this.#dir();
    const parts = lexical(this.parts, path);
    if (parts.length === 0) {
      return {
        host: this.preopen.realRoot,
        parts,
        info: look ? Deno.statSync(this.preopen.realRoot) : undefined,
      };
    }
    this.preopen.checkDir(parts.slice(0, -1));
    const host = this.preopen.host(parts);
    if (!look && !follow) return { host, parts };
    let info: Deno.FileInfo | undefined;
    try {
      info = Deno.lstatSync(host);
    } catch (e) {
      if (codeOf(e) !== "no-entry") throw codeOf(e);
      return { host, parts };
    }
    if (follow && info.isSymlink) {
      let real: string;
      try {
        real = Deno.realPathSync(host);
      } catch (e) {
        throw codeOf(e);
      }
      if (!this.preopen.inside(real)) throw "not-permitted";
      const realParts = real.slice(this.preopen.realRoot.length + 1).split("/")
        .filter((p) => p);
      return {
        host: real,
        parts: realParts,
        info: look ? Deno.statSync(real) : undefined,
      };
    }
    return { host, parts, info };
  }

  readViaStream(offset: bigint): InputStream {
    return new FileInput(this.#file(), Number(offset), streamErrorOf);
  }
  writeViaStream(offset: bigint): OutputStream {
    this.#writable();
    return new FileOutput(this.#file(), Number(offset), false, streamErrorOf);
  }
  appendViaStream(): OutputStream {
    this.#writable();
    return new FileOutput(this.#file(), 0, true, streamErrorOf);
  }
  advise(): void {}
  syncData(): void {
    this.sync();
  }
  getFlags(): DescriptorFlags {
    return this.flags;
  }
  getType(): DescriptorType {
    return this.#open ? "regular-file" : "directory";
  }
  setSize(size: bigint): void {
    this.#writable();
    try {
      this.#file().file.truncateSync(Number(size));
    } catch (e) {
      throw typeof e === "string" ? e : codeOf(e);
    }
  }
  setTimes(): void {
    this.#writable();
  }
  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const open = this.#file();
    const buf = new Uint8Array(Math.min(Number(length), 1 << 20));
    try {
      open.seekTo(Number(offset));
      const n = open.file.readSync(buf) ?? 0;
      open.pos += n;
      return [buf.subarray(0, n), n === 0];
    } catch (e) {
      throw codeOf(e);
    }
  }
  write(buffer: Uint8Array, offset: bigint): bigint {
    this.#writable();
    const open = this.#file();
    try {
      open.seekTo(Number(offset));
      let done = 0;
      while (done < buffer.length) {
        done += open.file.writeSync(buffer.subarray(done));
      }
      open.pos += done;
      return BigInt(done);
    } catch (e) {
      throw codeOf(e);
    }
  }
  readDirectory(): DirectoryEntryStream {
    this.#dir();
    try {
      return new DirectoryEntryStream(Deno.readDirSync(this.hostPath));
    } catch (e) {
      throw codeOf(e);
    }
  }
  sync(): void {
    try {
      if (this.#open) {
        this.#open.file.syncSync();
      } else if (!this.preopen.readOnly) {
        using dir = Deno.openSync(this.hostPath, { read: true });
        dir.syncSync();
      }
    } catch (e) {
      throw codeOf(e);
    }
  }
  createDirectoryAt(path: string): void {
    this.#writable();
    const { host } = this.#resolve(path, false, false);
    try {
      Deno.mkdirSync(host);
    } catch (e) {
      throw codeOf(e);
    }
  }
  stat() {
    try {
      return statOf(
        this.#open ? this.#open.file.statSync() : Deno.statSync(this.hostPath),
      );
    } catch (e) {
      throw codeOf(e);
    }
  }
  statAt(pathFlags: PathFlags, path: string) {
    const { info } = this.#resolve(path, !!pathFlags.symlinkFollow);
    if (!info) throw "no-entry";
    return statOf(info);
  }
  setTimesAt(): void {
    this.#writable();
  }
  linkAt(): void {
    throw "not-permitted";
  }
  /** Asynchronous for the guest (a JSPI import): opening a file is the one call every long stretch of
   * guest file work makes (walks, pulls), so it is where the event loop gets its turn. */
  openAt(
    pathFlags: PathFlags,
    path: string,
    openFlags: OpenFlags,
    flags: DescriptorFlags,
  ): Descriptor | Promise<Descriptor> {
    const d = this.#openAt(pathFlags, path, openFlags, flags);
    const sched = this.preopen.sched;
    return sched?.due() ? sched.fair().then(() => d) : d;
  }

  #openAt(
    pathFlags: PathFlags,
    path: string,
    openFlags: OpenFlags,
    flags: DescriptorFlags,
  ): Descriptor {
    const wantsWrite =
      !!(flags.write || openFlags.create || openFlags.truncate ||
        flags.mutateDirectory);
    if (
      wantsWrite && this.preopen.readOnly &&
      (flags.write || openFlags.create || openFlags.truncate)
    ) {
      throw "read-only";
    }
    if (openFlags.create && openFlags.exclusive) {
      // O_CREAT|O_EXCL never follows a link and fails on anything already there: no look
      // first (a stat of a name that does not exist yet costs a thrown error per file).
      const { host, parts } = this.#resolve(path, false, false);
      try {
        const file = Deno.openSync(host, {
          read: !!flags.read,
          write: true,
          createNew: true,
        });
        return new Descriptor(this.preopen, parts, flags, file);
      } catch (e) {
        throw codeOf(e);
      }
    }
    const { host, parts, info } = this.#resolve(
      path,
      !!pathFlags.symlinkFollow,
    );
    if (info?.isSymlink) throw "loop";
    if (info && openFlags.exclusive && openFlags.create) throw "exist";
    if (info?.isDirectory || (openFlags.directory && !openFlags.create)) {
      if (!info) throw "no-entry";
      if (!info.isDirectory) throw "not-directory";
      if (flags.write) throw "is-directory";
      return new Descriptor(this.preopen, parts, flags);
    }
    if (!info && !openFlags.create) throw "no-entry";
    try {
      const file = Deno.openSync(host, {
        read: !!flags.read || !flags.write,
        write: !!flags.write || !!openFlags.create || !!openFlags.truncate,
        create: !!openFlags.create,
        createNew: !!(openFlags.create && openFlags.exclusive),
        truncate: !!openFlags.truncate,
      });
      return new Descriptor(this.preopen, parts, flags, file);
    } catch (e) {
      throw codeOf(e);
    }
  }
  readlinkAt(): string {
    throw "not-permitted";
  }
  removeDirectoryAt(path: string): void {
    this.#writable();
    const { host, parts, info } = this.#resolve(path, false);
    if (!info) throw "no-entry";
    if (!info.isDirectory) throw "not-directory";
    try {
      Deno.removeSync(host);
    } catch (e) {
      throw codeOf(e);
    }
    this.preopen.moved(parts);
  }
  renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string): void {
    this.#writable();
    newDescriptor.#writable();
    const from = this.#resolve(oldPath, false, false);
    const to = newDescriptor.#resolve(newPath, false, false);
    try {
      Deno.renameSync(from.host, to.host);
    } catch (e) {
      throw codeOf(e);
    }
    this.preopen.moved(from.parts);
    newDescriptor.preopen.moved(to.parts);
  }
  symlinkAt(): void {
    throw "not-permitted";
  }
  unlinkFileAt(path: string): void {
    this.#writable();
    const { host, info } = this.#resolve(path, false);
    if (!info) throw "no-entry";
    if (info.isDirectory) throw "is-directory";
    try {
      Deno.removeSync(host);
    } catch (e) {
      throw codeOf(e);
    }
  }
  isSameObject(other: Descriptor): boolean {
    return this.hostPath === other.hostPath;
  }
  metadataHash() {
    return hashOfPath(this.hostPath);
  }
  metadataHashAt(_pathFlags: PathFlags, path: string) {
    return hashOfPath(this.#resolve(path, false, false).host);
  }
  [Symbol.dispose](): void {
    if (this.#open) {
      try {
        this.#open.file.close();
      } catch {
        // Already closed.
      }
      this.#open = undefined;
    }
  }
}

/** wasi:filesystem/preopens for one sandbox. */
export function preopens(list: Array<[Descriptor, string]>) {
  return { getDirectories: () => list };
}
