// The WebSocket client against a fake WebSocket: lazy connection with the token, request ids,
// frames routed per request, API Gateway's own frames ignored, backoff, error frames.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "../src/api";
import {
  CONNECTION_LOST,
  type ConnectionState,
  NOT_CONFIGURED,
  type StreamHandlers,
  StreamSocket,
  type WebSocketLike,
  parseFrame,
  retryDelay,
} from "../src/socket";
import { CLOSED_TOO_LARGE, MAX_FRAME_BYTES, MESSAGE_TOO_BIG, tooLargeToSend } from "../src/size";

class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | undefined;
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string) {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // What the server does:
  accept() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  frame(value: unknown) {
    const data = typeof value === "string" ? value : JSON.stringify(value);
    this.onmessage?.(new MessageEvent("message", { data }));
  }
  drop() {
    this.readyState = 3;
    this.onerror?.(new Event("error"));
    this.onclose?.(new CloseEvent("close", { code: 1006 }));
  }
}

const SUMMARY = {
  id: "0193a6c2e1f4a1b2c3d4e5f6a7b8",
  title: "Haiku",
  model: "gpt-4o-mini",
  created_at: 1767225600000,
  updated_at: 1767225660000,
};

interface Recorded {
  handlers: StreamHandlers;
  events: string[];
  errors: ApiError[];
}

function recorder(): Recorded {
  const events: string[] = [];
  const errors: ApiError[] = [];
  return {
    events,
    errors,
    handlers: {
      started: (frame) => events.push(`started ${frame.conversation.id} ${frame.user_seq}/${frame.answer_seq}`),
      delta: (text) => events.push(`delta ${text}`),
      done: (frame) => events.push(`done stopped=${frame.stopped}`),
      failed: (error) => {
        events.push(`failed ${error.kind}`);
        errors.push(error);
      },
    },
  };
}

let sockets: FakeWebSocket[];
let states: ConnectionState[];

function client(extra: Partial<ConstructorParameters<typeof StreamSocket>[0]> = {}) {
  return new StreamSocket({
    url: "wss://ws.example.com/live",
    token: "t0k.en",
    connect: (url) => {
      const ws = new FakeWebSocket(url);
      sockets.push(ws);
      return ws;
    },
    onState: (state) => states.push(state),
    ...extra,
  });
}

function last(): FakeWebSocket {
  const ws = sockets.at(-1);
  if (!ws) throw new Error("no connection was opened");
  return ws;
}

beforeEach(() => {
  sockets = [];
  states = [];
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("the socket client", () => {
  it("opens no connection until a request needs one, then one with the token", () => {
    const socket = client();
    expect(sockets).toHaveLength(0);
    socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    socket.ask({ action: "send", conversation: null, content: "Again" }, recorder().handlers);
    expect(sockets).toHaveLength(1);
    expect(last().url).toBe("wss://ws.example.com/live?token=t0k.en");
    expect(states).toEqual([{ state: "connecting" }]);
  });

  it("sends what was asked once open, each with its own request id", () => {
    const socket = client();
    const a = socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    expect(last().sent).toEqual([]);
    last().accept();
    const b = socket.ask({ action: "regenerate", conversation: SUMMARY.id }, recorder().handlers);
    expect(a).not.toBe(b);
    for (const id of [a, b]) expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(last().sent).toEqual([
      { action: "send", conversation: null, content: "Hi", request: a },
      { action: "regenerate", conversation: SUMMARY.id, request: b },
    ]);
    expect(states.at(-1)).toEqual({ state: "open" });
  });

  it("routes each request's frames to its own handlers, and forgets it when done", () => {
    const socket = client();
    const one = recorder();
    const two = recorder();
    const a = socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    const b = socket.ask({ action: "send", conversation: SUMMARY.id, content: "Yo", edit: 2 }, two.handlers);
    last().accept();
    last().frame({ type: "started", request: a, conversation: SUMMARY, user_seq: 0, answer_seq: 1 });
    last().frame({ type: "delta", request: b, text: "B1" });
    last().frame({ type: "delta", request: a, text: "Functions " });
    last().frame({ type: "delta", request: a, text: "wake" });
    last().frame({ type: "done", request: a, stopped: false, usage: {} });
    last().frame({ type: "delta", request: a, text: "late" }); // after done: ignored
    expect(one.events).toEqual([`started ${SUMMARY.id} 0/1`, "delta Functions ", "delta wake", "done stopped=false"]);
    expect(two.events).toEqual(["delta B1"]);
    expect(socket.has(a)).toBe(false);
    expect(socket.has(b)).toBe(true);
  });

  it("ignores API Gateway's own frames and anything that is not a frame of ours", () => {
    const socket = client();
    const one = recorder();
    const a = socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    last().accept();
    last().frame({ message: "Endpoint request timed out", connectionId: "abc=", requestId: "x" });
    last().frame("not json");
    last().frame({ type: "delta", request: a }); // no text
    last().frame({ type: "bogus", request: a });
    last().frame({ type: "delta", request: "someone-else", text: "x" });
    last().frame({ type: "delta", request: a, text: "ok" });
    expect(one.events).toEqual(["delta ok"]);
  });

  it("turns error frames into what the person is told", () => {
    const socket = client();
    const one = recorder();
    const a = socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    last().accept();
    last().frame({ type: "error", request: a, status: 429, error: "too many answers at once; wait for one to finish" });
    expect(one.events).toEqual(["failed rate-limit"]);
    expect(one.errors[0]!.message).toBe("Too many answers at once; wait for one to finish.");
    expect(one.errors[0]!.status).toBe(429);
    expect(socket.has(a)).toBe(false);
  });

  it("ends the session on a 401 frame that names no request", () => {
    const ended: ApiError[] = [];
    const socket = client({ onSessionEnded: (error) => ended.push(error) });
    socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    last().accept();
    last().frame({ type: "error", request: null, status: 400, error: "request missing" });
    expect(ended).toEqual([]);
    last().frame({ type: "error", request: null, status: 401, error: "session ended; log in again" });
    expect(ended.map((e) => e.kind)).toEqual(["session"]);
  });

  it("stops a streaming answer on the server, and drops one not yet sent", () => {
    const socket = client();
    const queued = recorder();
    const q = socket.ask({ action: "send", conversation: null, content: "Hi" }, queued.handlers);
    socket.stop(q); // still connecting: never sent
    expect(queued.events).toEqual(["failed aborted"]);
    last().accept();
    expect(last().sent).toEqual([]);

    const streaming = recorder();
    const s = socket.ask({ action: "send", conversation: null, content: "Hi" }, streaming.handlers);
    last().frame({ type: "delta", request: s, text: "so far" });
    socket.stop(s);
    expect(last().sent.at(-1)).toEqual({ action: "stop", request: s });
    last().frame({ type: "done", request: s, stopped: true, usage: {} });
    expect(streaming.events).toEqual(["delta so far", "done stopped=true"]);
    socket.stop(s); // finished: nothing more is sent
    expect(last().sent).toHaveLength(2);
  });

  it("when the connection drops: fails what was streaming, retries with backoff, says so", () => {
    const socket = client();
    const one = recorder();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    last().accept();
    last().drop();
    expect(one.events).toEqual(["failed network"]);
    expect(one.errors[0]!.message).toBe(CONNECTION_LOST);
    expect(one.errors[0]!.retryable).toBe(true);
    expect(states.at(-1)).toEqual({ state: "retrying", attempt: 1, delayMs: 1000 });

    // A request asked meanwhile waits for the new connection.
    const two = recorder();
    const b = socket.ask({ action: "send", conversation: SUMMARY.id, content: "again" }, two.handlers);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    // That one fails too: 2 s, then 4 s …
    last().drop();
    expect(states.at(-1)).toEqual({ state: "retrying", attempt: 2, delayMs: 2000 });
    vi.advanceTimersByTime(2000);
    last().drop();
    expect(states.at(-1)).toEqual({ state: "retrying", attempt: 3, delayMs: 4000 });
    expect(two.events).toEqual([]); // never sent: still waiting
    vi.advanceTimersByTime(4000);
    last().accept();
    expect(states.at(-1)).toEqual({ state: "open" });
    expect(last().sent).toEqual([{ action: "send", conversation: SUMMARY.id, content: "again", request: b }]);
    // Opened: the next drop starts again at 1 s.
    last().drop();
    expect(states.at(-1)).toEqual({ state: "retrying", attempt: 1, delayMs: 1000 });
  });

  it("waits 1 s, 2 s, 4 s … and never more than 30 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20, 100].map(retryDelay)).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
  });

  it("can be told to retry at once", () => {
    const socket = client();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    last().drop(); // refused before opening
    expect(sockets).toHaveLength(1);
    socket.retryNow();
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(60_000); // the cancelled backoff opens nothing more
    expect(sockets).toHaveLength(2);
  });

  it("goes idle when closed while nothing waits, and opens again when next needed", () => {
    const socket = client();
    const a = socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    last().accept();
    last().frame({ type: "done", request: a, stopped: false, usage: {} });
    last().drop(); // API Gateway's 10-minute idle close
    expect(states.at(-1)).toEqual({ state: "idle" });
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    expect(sockets).toHaveLength(2);
  });

  it("a refused handshake whose token the API refuses too ends the session, no retries", async () => {
    const ended: ApiError[] = [];
    const socket = client({
      checkSession: async () => new ApiError("session", "Your session has ended. Please sign in again.", 401),
      onSessionEnded: (error) => ended.push(error),
    });
    const one = recorder();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    last().drop();
    await vi.runAllTimersAsync();
    expect(ended.map((e) => e.kind)).toEqual(["session"]);
    expect(one.events).toEqual(["failed session"]);
    expect(states.at(-1)).toEqual({ state: "idle" });
    expect(sockets).toHaveLength(1);
  });

  it("a refused handshake with a good token keeps retrying", async () => {
    const checkSession = vi.fn(async () => null);
    const socket = client({ checkSession });
    socket.ask({ action: "send", conversation: null, content: "Hi" }, recorder().handlers);
    last().drop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(checkSession).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(2);
  });

  it("says when the deployment has no socket", async () => {
    const socket = client({ url: null });
    const one = recorder();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    await Promise.resolve();
    expect(one.errors.map((e) => e.message)).toEqual([NOT_CONFIGURED]);
    expect(sockets).toHaveLength(0);
  });

  it("closing forgets every request without calling back and opens nothing more", () => {
    const socket = client();
    const one = recorder();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    last().accept();
    const ws = last();
    socket.close();
    expect(ws.closedWith).toBe(1000);
    ws.drop();
    vi.advanceTimersByTime(60_000);
    expect(one.events).toEqual([]);
    expect(sockets).toHaveLength(1);
  });
});

describe("frames", () => {
  it("reads the documented shapes", () => {
    expect(parseFrame(JSON.stringify({ type: "done", request: "r1" }))).toEqual({
      type: "done",
      request: "r1",
      stopped: false,
      usage: {},
    });
    expect(parseFrame(JSON.stringify({ type: "error", request: null, status: 400, error: "bad" }))).toEqual({
      type: "error",
      request: null,
      status: 400,
      error: "bad",
    });
    expect(parseFrame(JSON.stringify({ type: "started", request: "r1", conversation: SUMMARY, user_seq: 0 }))).toBeNull();
    expect(parseFrame(JSON.stringify({ type: "started", request: "r1", conversation: {}, user_seq: 0, answer_seq: 1 }))).toBeNull();
    expect(parseFrame(new ArrayBuffer(2))).toBeNull();
    expect(parseFrame("[]")).toBeNull();
  });
});

describe("sizes (API Gateway closes the connection, 1009, on a frame over 32 KB)", () => {
  /** A message of `bytes` bytes of UTF-8 once sent with `socket`'s next request id. */
  function sizedAsk(socket: StreamSocket, bytes: number) {
    const ask = { action: "send" as const, conversation: null, content: "" };
    const overhead = socket.measure(ask);
    // "€" is 3 bytes of UTF-8 (1 UTF-16 unit): fill with it, then ASCII to the exact size.
    const euros = Math.floor((bytes - overhead) / 3);
    return { ...ask, content: "€".repeat(euros) + "x".repeat(bytes - overhead - euros * 3) };
  }

  it("measures the message as sent: UTF-8 bytes, not characters", () => {
    const socket = client();
    const ascii = socket.measure({ action: "send", conversation: null, content: "abc" });
    expect(socket.measure({ action: "send", conversation: null, content: "€😀é" })).toBe(ascii + (3 + 4 + 2) - 3);
    expect(MAX_FRAME_BYTES).toBe(32_768);
  });

  it("sends a message of 32,768 bytes, and refuses one byte more without sending it", async () => {
    const socket = client();
    const fits = sizedAsk(socket, MAX_FRAME_BYTES);
    expect(fits.content.length).toBeLessThan(MAX_FRAME_BYTES / 2); // the characters are few
    const sent = recorder();
    socket.ask(fits, sent.handlers);
    last().accept();
    expect(last().sent).toHaveLength(1);
    expect(new TextEncoder().encode(JSON.stringify(last().sent[0])).length).toBe(MAX_FRAME_BYTES);

    const over = sizedAsk(socket, MAX_FRAME_BYTES + 1);
    expect(socket.measure(over)).toBe(MAX_FRAME_BYTES + 1);
    const refused = recorder();
    socket.ask(over, refused.handlers);
    await Promise.resolve();
    expect(last().sent).toHaveLength(1);
    expect(refused.events).toEqual(["failed invalid"]);
    expect(refused.errors[0]!.message).toBe("This message is too long to send (32.1 kB of 32 kB); shorten it.");
    expect(sent.events).toEqual([]); // the connection and the other request go on
  });

  it("words the size as kB of 32 kB, rounded up", () => {
    expect(tooLargeToSend(40_000)).toBe("This message is too long to send (39.1 kB of 32 kB); shorten it.");
    expect(tooLargeToSend(96_000)).toBe("This message is too long to send (93.8 kB of 32 kB); shorten it.");
  });

  it("a 1009 close says the last message was too large; other answers lost the connection", () => {
    const socket = client();
    const other = recorder();
    socket.ask({ action: "send", conversation: SUMMARY.id, content: "Hi" }, other.handlers);
    last().accept();
    const culprit = recorder();
    socket.ask({ action: "send", conversation: null, content: "big" }, culprit.handlers);
    last().readyState = 3;
    last().onclose?.(new CloseEvent("close", { code: MESSAGE_TOO_BIG }));
    expect(culprit.events).toEqual(["failed invalid"]);
    expect(culprit.errors[0]!.message).toBe(CLOSED_TOO_LARGE);
    expect(culprit.errors[0]!.retryable).toBe(false); // it would be refused again
    expect(other.events).toEqual(["failed network"]);
    expect(other.errors[0]!.message).toBe(CONNECTION_LOST);
  });

  it("a 1009 close of the only request goes idle: no 'connection lost', the next request reconnects", () => {
    const socket = client();
    const culprit = recorder();
    socket.ask({ action: "send", conversation: null, content: "big" }, culprit.handlers);
    last().accept();
    last().readyState = 3;
    last().onclose?.(new CloseEvent("close", { code: MESSAGE_TOO_BIG }));
    expect(culprit.errors.map((e) => e.message)).toEqual([CLOSED_TOO_LARGE]);
    expect(states.at(-1)).toEqual({ state: "idle" });
    socket.ask({ action: "send", conversation: null, content: "short" }, recorder().handlers);
    expect(sockets).toHaveLength(2);
  });

  it("any other close is a lost connection", () => {
    const socket = client();
    const one = recorder();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, one.handlers);
    last().accept();
    last().drop();
    expect(one.errors.map((e) => e.message)).toEqual([CONNECTION_LOST]);
  });
});

describe("models", () => {
  it("sends the model asked for with send and regenerate, and none when not given", () => {
    const socket = client();
    const a = socket.ask({ action: "send", conversation: null, content: "Hi", model: "gpt-4.1" }, recorder().handlers);
    const b = socket.ask({ action: "regenerate", conversation: SUMMARY.id, model: "gpt-4o-mini" }, recorder().handlers);
    const c = socket.ask({ action: "send", conversation: SUMMARY.id, content: "Hi" }, recorder().handlers);
    last().accept();
    expect(last().sent).toEqual([
      { action: "send", conversation: null, content: "Hi", model: "gpt-4.1", request: a },
      { action: "regenerate", conversation: SUMMARY.id, model: "gpt-4o-mini", request: b },
      { action: "send", conversation: SUMMARY.id, content: "Hi", request: c },
    ]);
  });
});
