// The extension's HTTP/1.1 client (datastores/_lib/wasi/h1.ts) against scripted servers on
// 127.0.0.1: each server reads requests and answers with the exact bytes a case needs, so
// framing, keep-alive, cut bodies and stale connections are tested on the wire.

import { assert, assertEquals, rejects } from "./assert.ts";
import {
  closeIdleConnections,
  H1Error,
  request,
} from "../datastores/_lib/wasi/h1.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A server answering each request on a connection with `answer(n)` (n counts requests
 * over the server's life); `undefined` closes the connection without answering. */
function scripted(
  answer: (n: number, head: string) => string | Uint8Array | undefined,
): { port: number; connections: () => number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let n = 0;
  let conns = 0;
  const open = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns++;
      open.add(conn);
      (async () => {
        let buf = "";
        const chunk = new Uint8Array(65536);
        try {
          for (;;) {
            const end = buf.indexOf("\r\n\r\n");
            if (end < 0) {
              const r = await conn.read(chunk);
              if (r === null) break;
              buf += dec.decode(chunk.subarray(0, r));
              continue;
            }
            const head = buf.slice(0, end);
            const len = Number(
              /content-length: (\d+)/i.exec(head)?.[1] ?? "0",
            );
            while (buf.length < end + 4 + len) {
              const r = await conn.read(chunk);
              if (r === null) break;
              buf += dec.decode(chunk.subarray(0, r));
            }
            buf = buf.slice(end + 4 + len);
            const a = answer(n++, head);
            if (a === undefined) break;
            await conn.write(typeof a === "string" ? enc.encode(a) : a);
          }
        } catch {
          // The client went away.
        }
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      })();
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    port,
    connections: () => conns,
    close: () => {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch {
          // Closed already.
        }
      }
    },
  };
}

function get(port: number, method = "GET", body?: Uint8Array) {
  return request({
    https: false,
    hostname: "127.0.0.1",
    port,
    authority: `127.0.0.1:${port}`,
    method,
    pathWithQuery: "/o?x=1",
    headers: [["x-test", "yes"]],
    body,
  }, () => {});
}

Deno.test("h1: content-length and chunked bodies, on one kept-alive connection", async () => {
  closeIdleConnections();
  const heads: string[] = [];
  const s = scripted((n, head) => {
    heads.push(head);
    return n === 0
      ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello"
      : "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n";
  });
  try {
    const a = await get(s.port, "PUT", enc.encode("payload"));
    assertEquals(a.status, 200);
    assertEquals(a.headers, [["content-length", "5"], ["x-a", "1"], [
      "x-a",
      "2",
    ]]);
    assertEquals(dec.decode(await a.body()), "hello");
    const b = await get(s.port);
    assertEquals(b.status, 201);
    assertEquals(dec.decode(await b.body()), "abcde");
    assertEquals(
      s.connections(),
      1,
      "the second request reused the connection",
    );
    assert(heads[0].startsWith("PUT /o?x=1 HTTP/1.1\r\n"), heads[0]);
    assert(/\r\nhost: 127\.0\.0\.1:\d+\r\n/.test(heads[0]), heads[0]);
    assert(heads[0].includes("\r\ncontent-length: 7"), heads[0]);
    assert(heads[0].includes("\r\nx-test: yes"), heads[0]);
    assert(
      !heads[1].includes("content-length"),
      "a GET without a body has none",
    );
  } finally {
    closeIdleConnections();
    s.close();
  }
});

Deno.test("h1: 204 and HEAD answers have no body; interim 1xx answers are skipped", async () => {
  closeIdleConnections();
  const s = scripted((n) =>
    n === 0
      ? "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
  );
  try {
    const a = await get(s.port, "DELETE");
    assertEquals(a.status, 204);
    assertEquals((await a.body()).length, 0);
    const b = await get(s.port, "HEAD");
    assertEquals(b.status, 200);
    assertEquals((await b.body()).length, 0);
    assertEquals(s.connections(), 1);
  } finally {
    closeIdleConnections();
    s.close();
  }
});

Deno.test("h1: a body cut short is an error of the body, not of the answer", async () => {
  closeIdleConnections();
  const cut = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    const conn = await cut.accept();
    await conn.read(new Uint8Array(4096));
    await conn.write(
      enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    );
    conn.close();
  })();
  try {
    const port = (cut.addr as Deno.NetAddr).port;
    const a = await get(port);
    assertEquals(a.status, 200);
    const e = await rejects(a.body());
    assert(e instanceof H1Error && e.kind === "cut-short", String(e));
    assert(e.message.includes("3 of 10"), e.message);
  } finally {
    cut.close();
  }
});

Deno.test("h1: a kept-alive connection the server dropped is replaced for a GET, never for a POST", async () => {
  closeIdleConnections();
  // The server answers once per connection, then drops it without telling the client.
  const s = scripted((_n, head) =>
    head.includes("x-drop")
      ? undefined
      : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
  );
  try {
    const first = await get(s.port);
    assertEquals(dec.decode(await first.body()), "ok");
    // Now the idle connection is reused for a request the server drops unanswered.
    const dropped = await rejects(
      request({
        https: false,
        hostname: "127.0.0.1",
        port: s.port,
        authority: `127.0.0.1:${s.port}`,
        method: "POST",
        pathWithQuery: "/upload",
        headers: [["x-drop", "1"]],
        body: enc.encode("data"),
      }, () => {}),
    );
    assert(
      dropped instanceof H1Error && dropped.kind === "closed",
      String(dropped),
    );
    assertEquals(s.connections(), 1, "a POST is not sent twice");
    // A GET whose reused connection the server closed is sent again on a new one.
    const again = await get(s.port);
    assertEquals(dec.decode(await again.body()), "ok");
    const stale = scripted((n) =>
      n === 1 ? undefined : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    );
    try {
      assertEquals(dec.decode(await (await get(stale.port)).body()), "ok");
      assertEquals(dec.decode(await (await get(stale.port)).body()), "ok");
      assertEquals(
        stale.connections(),
        2,
        "the GET went out again on a new connection",
      );
    } finally {
      stale.close();
    }
  } finally {
    closeIdleConnections();
    s.close();
  }
});

Deno.test("h1: refused connections and cancelled requests fail with their kind", async () => {
  closeIdleConnections();
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const refused = await rejects(get(port));
  assert(
    refused instanceof H1Error && refused.kind === "refused",
    String(refused),
  );

  // A server that never answers: the request is cancelled by its owner.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of silent) held.push(c);
  })().catch(() => {});
  try {
    let cancel = () => {};
    const p = request({
      https: false,
      hostname: "127.0.0.1",
      port: (silent.addr as Deno.NetAddr).port,
      authority: "127.0.0.1",
      method: "GET",
      pathWithQuery: "/",
      headers: [],
      body: undefined,
    }, (c) => (cancel = c));
    setTimeout(() => cancel(), 20);
    const e = await rejects(p);
    assert(e instanceof H1Error && e.kind === "aborted", String(e));
  } finally {
    silent.close();
    for (const c of held) c.close();
  }
});
