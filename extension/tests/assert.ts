// Small assertions (JSR's @std/assert is not reachable from here).

export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

export function assertFalse(cond: unknown, msg = "expected false"): void {
  if (cond) throw new Error(msg);
}

export function assertEquals<T>(actual: T, expected: T, msg = ""): void {
  const a = JSON.stringify(
    actual,
    (_k, v) => (typeof v === "bigint" ? `${v}n` : v),
  );
  const e = JSON.stringify(
    expected,
    (_k, v) => (typeof v === "bigint" ? `${v}n` : v),
  );
  if (a !== e) {
    throw new Error(`${msg ? msg + ": " : ""}expected ${e}, got ${a}`);
  }
}

/** The rejection of `p`, or a failure when it resolves. */
export async function rejects(
  p: Promise<unknown>,
  msg = "expected a rejection",
): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error(msg);
}
