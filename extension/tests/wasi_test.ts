// The host's WASI pieces on their own: poll's readiness and fairness, abandonment, the byte
// queue behind response bodies, and header fields.

import { assert, assertEquals, rejects } from "./assert.ts";
import {
  GuestAbandoned,
  Latch,
  LatchPollable,
  Pollable,
  Scheduler,
  TimerPollable,
} from "../datastores/_lib/wasi/poll.ts";
import {
  ByteQueue,
  GuestStderr,
  QueueInput,
} from "../datastores/_lib/wasi/streams.ts";
import { cli } from "../datastores/_lib/wasi/basics.ts";
import {
  AllowList,
  Fields,
  FutureIncomingResponse,
  IncomingResponse,
  OutgoingBody,
  outgoingHandler,
  OutgoingRequest,
} from "../datastores/_lib/wasi/http.ts";

Deno.test("poll answers the ready pollables, and waits when none is", async () => {
  const s = new Scheduler();
  const latch = new Latch();
  const list = [
    new LatchPollable(latch),
    new Pollable(),
    new LatchPollable(new Latch()),
  ];
  assertEquals([...await s.poll(list)], [1]);
  setTimeout(() => latch.set(), 20);
  const t = performance.now();
  assertEquals([...await s.poll([list[0], list[2]])], [0]);
  assert(performance.now() - t >= 15, "it waited for the latch");
  assert(s.waitedMs > 0);
});

Deno.test("timers in one poll share a host timer and fire in order", async () => {
  const s = new Scheduler();
  const now = performance.now();
  const list = [new TimerPollable(now + 200), new TimerPollable(now + 30)];
  assertEquals([...await s.poll(list)], [1]);
  // A timer stays ready once due (level-triggered), so both are ready after the later one.
  assertEquals([...await s.poll([list[0]])], [0]);
  assert(performance.now() - now >= 195, "the later timer waited its time");
  assertEquals([...await s.poll(list)], [0, 1]);
});

Deno.test("an abandoned scheduler unwinds a waiting poll and every later one", async () => {
  const s = new Scheduler();
  let cancelled = 0;
  s.cancellers.add(() => cancelled++);
  const waiting = s.poll([new LatchPollable(new Latch())]);
  setTimeout(() => s.abandon("stop"), 10);
  const e = await rejects(waiting);
  assert(e instanceof GuestAbandoned);
  assertEquals(cancelled, 1, "work in flight was cancelled");
  assert((await rejects(s.poll([new Pollable()]))) instanceof GuestAbandoned);
});

Deno.test("a busy guest still lets timers run: poll yields after a stretch of work", async () => {
  const s = new Scheduler();
  let fired = false;
  setTimeout(() => (fired = true), 0);
  s.enter();
  const until = performance.now() + 15;
  while (performance.now() < until) {
    // The guest computing.
  }
  await s.poll([new Pollable()]);
  assert(fired, "the timer ran during the ready poll");
});

Deno.test("response bodies: would-block, data in order, then closed or failed", () => {
  const q = new ByteQueue();
  const input = new QueueInput(q);
  const p = input.subscribe();
  assertEquals(p.ready(), false);
  assertEquals(input.read(10n).length, 0);
  q.push(new Uint8Array([1, 2, 3]));
  assert(p.ready(), "the same pollable turns ready");
  assertEquals([...input.read(2n)], [1, 2]);
  assertEquals([...input.read(10n)], [3]);
  q.end();
  let err: unknown;
  try {
    input.read(1n);
  } catch (e) {
    err = e;
  }
  assertEquals((err as { tag: string }).tag, "closed");
  const cut = new ByteQueue();
  cut.fail("cut");
  try {
    new QueueInput(cut).read(1n);
  } catch (e) {
    err = e;
  }
  assertEquals((err as { tag: string }).tag, "last-operation-failed");
});

Deno.test("fields keep every value of a name, lower-cased, and refuse bad names", () => {
  const enc = new TextEncoder();
  const f = Fields.fromList([["X-Goog-Hash", enc.encode("crc32c=a")], [
    "x-goog-hash",
    enc.encode("md5=b"),
  ]]);
  assertEquals(f.get("x-goog-hash").length, 2);
  assertEquals(f.entries().map(([k]) => k), ["x-goog-hash", "x-goog-hash"]);
  let err: unknown;
  try {
    Fields.fromList([["bad name", enc.encode("x")]]);
  } catch (e) {
    err = e;
  }
  assertEquals((err as { tag: string }).tag, "invalid-syntax");
  const h = new Headers([["a", "1"]]);
  let immut: unknown;
  try {
    Fields.fromHeaders(h).append("b", enc.encode("2"));
  } catch (e) {
    immut = e;
  }
  assertEquals((immut as { tag: string }).tag, "immutable");
});

Deno.test("guest stderr: progress lines are recognised, everything else dropped", () => {
  const events: Array<Record<string, unknown>> = [];
  const err = new GuestStderr((e) => events.push(e));
  const enc = new TextEncoder();
  const line =
    '\x1e{"v":1,"phase":"download","done":2,"total":5,"bytes":10,"bytesTotal":50}\n';
  const input = enc.encode(`a panic message\n${line}\x1enot json\n${line}`);
  // Split anywhere: byte by byte.
  for (const b of input) err.write(new Uint8Array([b]));
  assertEquals(events.length, 2);
  assertEquals(events[0], {
    v: 1,
    phase: "download",
    done: 2,
    total: 5,
    bytes: 10,
    bytesTotal: 50,
  });
  // Without a listener (as the datastore runs) every byte is dropped, nothing throws.
  new GuestStderr().write(input);
  // The sandbox's stderr is that stream, and the guest is never asked for progress.
  const stderr = cli({})["wasi:cli/stderr"].getStderr();
  assert(stderr instanceof GuestStderr);
});

Deno.test("outgoing-handler: one exchange, through the direct client and through fetch (used when a proxy is configured)", async () => {
  const seen: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      seen.push(
        `${req.method} ${new URL(req.url).pathname} ${await req.text()}`,
      );
      return new Response("answer", { status: 201, headers: { "x-gen": "7" } });
    },
  );
  const port = server.addr.port;
  const enc = new TextEncoder();
  try {
    for (const direct of [true, false]) {
      const counters = { requests: 0, denied: 0, byMethod: {} };
      const allow = new AllowList().allow(`127.0.0.1:${port}`);
      const { handle } = outgoingHandler(
        allow,
        new Scheduler(),
        counters,
        direct,
      );
      const req = new OutgoingRequest(
        Fields.fromList([["content-type", enc.encode("text/plain")]]),
      );
      req.setMethod({ tag: "put" });
      req.setScheme({ tag: "HTTP" });
      req.setAuthority(`127.0.0.1:${port}`);
      req.setPathWithQuery("/o/k?direct=" + direct);
      const body = req.body();
      const future: FutureIncomingResponse = handle(req, undefined);
      body.write().write(enc.encode(`sent-${direct}`));
      OutgoingBody.finish(body, undefined);
      await future.subscribe().wait();
      const got = future.get() as {
        val: { tag: string; val: IncomingResponse };
      };
      assertEquals(got.val.tag, "ok", `direct=${direct}`);
      const resp = got.val.val;
      assertEquals(resp.status(), 201);
      assertEquals(
        new TextDecoder().decode(resp.headers().get("x-gen")[0]),
        "7",
      );
      const stream = resp.consume().stream();
      await stream.subscribe().wait();
      assertEquals(new TextDecoder().decode(stream.read(100n)), "answer");
      assertEquals(counters.requests, 1);
    }
    assertEquals(seen, ["PUT /o/k sent-true", "PUT /o/k sent-false"]);
  } finally {
    await server.shutdown();
  }
});
