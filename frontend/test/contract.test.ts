// The web app's side of docs/api.md: every row of the page's status tables is fed to the API
// client, and every message, frame and error frame of its WebSocket section to the socket
// client, which must turn it into the right outcome. The server's side is checked against the
// same rows in tests/test_contract_http.py (reading rules: tests/support/contract.py).
import { describe, expect, it, vi } from "vitest";

import apiMd from "../../docs/api.md?raw";
import { type Api, ApiError, type ApiErrorKind, createApi } from "../src/api";
import { parseConfig } from "../src/config";
import { CLOSED_TOO_LARGE, MAX_FRAME_BYTES, MESSAGE_TOO_BIG } from "../src/size";
import {
  type DoneFrame,
  type StartedFrame,
  type StreamHandlers,
  StreamSocket,
  type WebSocketLike,
} from "../src/socket";

interface Row {
  route: string;
  status: number;
  body: unknown;
  /** The row's "when" column. */
  when: string;
}

/** A route heading: `## \`METHOD /path\`` (a path may hold templates such as `{id}`). */
const ROUTE_HEADING = /^## `(GET|POST|PATCH|DELETE) (\/\S*)`/;

/** The rows of each route section's status table, as the Python reader does. */
function documentedRows(markdown: string): Row[] {
  const rows: Row[] = [];
  for (const section of markdown.split(/^(?=## )/m)) {
    const heading = ROUTE_HEADING.exec(section);
    if (!heading) continue;
    const route = `${heading[1]} ${heading[2]}`;
    const examples = [...section.matchAll(/```json\n([\s\S]*?)\n```/g)].map((m) => JSON.parse(m[1]!));
    for (const line of section.split("\n")) {
      const row = /^\| (\d{3}) \| (.*?) \| (.*) \|$/.exec(line);
      if (!row) continue;
      const status = Number(row[1]);
      const when = row[3]!;
      const literals = [...row[2]!.matchAll(/`([^`]*)`/g)].map((m) => JSON.parse(m[1]!));
      if (row[2]!.includes("as above") || literals.length === 0) {
        rows.push({ route, status, body: examples[examples.length - 1], when });
      }
      for (const body of literals) rows.push({ route, status, body, when });
    }
  }
  return rows;
}

type Handling = [kind: ApiErrorKind, treatment: string];

const SIGN_IN_AGAIN: Handling = ["session", "the page goes to sign-in, saying the session ended"];
const REFUSED: Handling = ["invalid", "the server's text is shown, no retry (it would be refused again)"];
const BROKEN: Handling = ["server", "'the server had a problem', with a retry"];

/** How the app treats each documented failure of each route it calls: what the person is
 * told and can do. A row the page adds fails here until it is decided. */
const HANDLING: Record<string, Record<number, Handling>> = {
  "POST /login": {
    400: ["invalid", "the login form shows the server's text"],
    401: ["credentials", "'wrong username or password', the password is emptied"],
    411: REFUSED,
    413: REFUSED,
    421: REFUSED,
    431: REFUSED,
    429: ["rate-limit", "the server's text and, from Retry-After, when to try again; the password stays"],
    500: BROKEN,
  },
  // Signing out goes ahead here whatever the answer; these decide what the person is told.
  "POST /logout": {
    400: ["invalid", "signed out here; 'the server did not confirm it'"],
    401: ["session", "signed out here ('you have signed out'): the token was refused anyway"],
    403: ["session", "signed out here ('you have signed out'): the token was refused anyway"],
    411: ["invalid", "signed out here; 'the server did not confirm it'"],
    413: ["invalid", "signed out here; 'the server did not confirm it'"],
    421: ["invalid", "signed out here; 'the server did not confirm it'"],
    431: ["invalid", "signed out here; 'the server did not confirm it'"],
    500: ["server", "signed out here; 'the server did not confirm it'"],
  },
  "GET /conversations": {
    400: ["invalid", "a cursor no longer taken: the list is read again from its first page"],
    401: SIGN_IN_AGAIN,
    403: SIGN_IN_AGAIN,
  },
  "GET /conversations/{id}": {
    400: ["invalid", "a cursor no longer taken: the conversation is read again from its newest messages"],
    404: ["not-found", "'this conversation was not found', a link to a new chat; it leaves the list"],
    401: SIGN_IN_AGAIN,
    403: SIGN_IN_AGAIN,
  },
  "PATCH /conversations/{id}": {
    400: ["invalid", "the rename form shows the server's text and keeps the title typed"],
    413: ["invalid", "the rename form shows the server's text and keeps the title typed"],
    404: ["not-found", "'no longer exists' in the rename form; it leaves the list"],
    401: SIGN_IN_AGAIN,
    403: SIGN_IN_AGAIN,
  },
  "DELETE /conversations/{id}": {
    404: ["not-found", "already gone: removed from the list as if deleted now"],
    401: SIGN_IN_AGAIN,
    403: SIGN_IN_AGAIN,
  },
};

/** Routes of the page the web app does not call, and why. */
const NOT_CALLED: Record<string, string> = {
  "POST /chat": "answers stream over the WebSocket; POST /chat stays for scripts",
};

/** The `Retry-After` of an answer whose row says it carries one. */
const RETRY_AFTER_S = 8;
const ID = "0193a6c2e1f4a1b2c3d4e5f6a7b8";
/** An `earlier` cursor (opaque to the app: sent back as given). */
const EARLIER = "42";

interface Sent {
  method: string;
  url: URL;
}

function answering(status: number, body: unknown, headers: Record<string, string>, sent: Sent[]) {
  return vi.fn(async (url: string, init?: RequestInit) => {
    sent.push({ method: init?.method ?? "GET", url: new URL(url) });
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  }) as unknown as typeof fetch;
}

type Caller = (api: Api) => Promise<unknown>;

/** How the web app calls each documented route: every way is fed every row of its table. */
const CALLERS: Record<string, Record<string, Caller>> = {
  "POST /login": { login: (api) => api.login("alice", "correct horse battery staple") },
  "POST /logout": {
    "sign out": (api) => api.logout("t0k", false),
    "sign out everywhere": (api) => api.logout("t0k", true),
  },
  "GET /conversations": {
    "first page": (api) => api.listConversations("t0k"),
    "load more": (api) => api.listConversations("t0k", "eyJuZXh0IjoxfQ"),
  },
  "GET /conversations/{id}": {
    open: (api) => api.getConversation("t0k", ID),
    "show earlier": (api) => api.getConversation("t0k", ID, { before: EARLIER }),
  },
  "PATCH /conversations/{id}": { rename: (api) => api.renameConversation("t0k", ID, "A new title") },
  "DELETE /conversations/{id}": { delete: (api) => api.deleteConversation("t0k", ID) },
};

interface Case {
  route: string;
  status: number;
  body: unknown;
  how: string;
  row: Row;
}

function cases(rows: readonly Row[]): Case[] {
  return rows
    .filter((row) => !(row.route in NOT_CALLED))
    .flatMap((row) =>
      Object.keys(CALLERS[row.route] ?? { "(no caller)": () => Promise.resolve() }).map((how) => ({
        route: row.route,
        status: row.status,
        body: row.body,
        how,
        row,
      })),
    );
}

async function call({ route, status, how, row }: Case) {
  const caller = CALLERS[route]?.[how];
  if (!caller) throw new Error(`docs/api.md documents ${route}: say here how the app calls it`);
  // A row that says its answer has a `Retry-After` header gets one.
  const headers: Record<string, string> = row.when.includes("Retry-After")
    ? { "retry-after": String(RETRY_AFTER_S) }
    : {};
  const sent: Sent[] = [];
  const outcome = await caller(createApi("https://api.example.com", answering(status, row.body, headers, sent))).then(
    (result) => ({ result, error: undefined as unknown }),
    (error: unknown) => ({ result: undefined as unknown, error }),
  );
  // The request is the route's: its method and path, a template filled with the id.
  const [method, path] = route.split(" ");
  expect(sent.map((s) => [s.method, s.url.pathname])).toEqual([[method, path!.replace("{id}", ID)]]);
  // Older messages are asked for with the cursor the API gave, as `before`.
  if (how === "show earlier") expect(sent[0]!.url.searchParams.get("before")).toBe(EARLIER);
  return outcome;
}

const rows = documentedRows(apiMd);
const ROUTES = [
  "POST /login",
  "POST /chat",
  "POST /logout",
  "GET /conversations",
  "GET /conversations/{id}",
  "PATCH /conversations/{id}",
  "DELETE /conversations/{id}",
];

describe("docs/api.md as the web app reads it", () => {
  it("documents the routes", () => {
    expect(new Set(rows.map((row) => row.route))).toEqual(new Set(ROUTES));
    expect(rows.length).toBeGreaterThan(30);
    for (const route of ROUTES) {
      expect(rows.filter((row) => row.route === route && row.status !== 200).length).toBeGreaterThan(1);
    }
    // Every route is called by the app, or said here why not.
    for (const route of ROUTES) expect(route in CALLERS || route in NOT_CALLED, route).toBe(true);
  });

  it.each(
    cases(rows.filter((row) => row.status === 200)).map(
      (c) => [c.route, JSON.stringify(c.body).slice(0, 40), c.how, c] as const,
    ),
  )("%s 200 %s (%s): the documented answer is understood", async (route, _body, _how, c) => {
    const { result, error } = await call(c);
    expect(error).toBeUndefined();
    const body = c.body as Record<string, unknown>;
    if (route === "POST /login") {
      expect(result).toMatchObject({ token: "<JWT>", username: "alice", expiresAt: 1767225600 });
    } else if (route === "POST /logout") {
      expect(result).toBe(body.signed_out);
    } else if (route === "GET /conversations") {
      expect(result).toEqual({ conversations: body.conversations, next: null });
    } else if (route === "GET /conversations/{id}") {
      // `earlier` is always there: a cursor, or null when no older messages remain.
      expect(body).toHaveProperty("earlier");
      expect(result).toEqual({ conversation: body.conversation, messages: body.messages, earlier: body.earlier });
    } else if (route === "PATCH /conversations/{id}") {
      expect(result).toEqual(body.conversation);
    } else {
      expect(route).toBe("DELETE /conversations/{id}");
      expect(result).toBeUndefined();
    }
  });

  it.each(
    cases(rows.filter((row) => row.status !== 200)).map(
      (c) => [c.route, c.status, JSON.stringify(c.body), c.how, c] as const,
    ),
  )("%s %i %s (%s): becomes the right error", async (route, status, _body, _how, c) => {
    const handling = HANDLING[route]?.[status];
    expect(handling, `docs/api.md documents ${status} for ${route}: decide here how the app treats it`).toBeDefined();
    const [kind] = handling!;
    const { error } = await call(c);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe(kind);
    expect((error as ApiError).status).toBe(status);
    // When to try again reaches the app where the answer says it (the 429 of /login).
    expect((error as ApiError).retryAfter).toBe(
      c.row.when.includes("Retry-After") && kind === "rate-limit" ? RETRY_AFTER_S : undefined,
    );
    const text = (c.body as { error?: string }).error;
    // A handler's own message is shown to the person (where it helps them): all of it, or
    // the documented beginning of a text that goes on ("... try again in ...").
    if (text && ["rate-limit", "upstream", "not-found"].includes(kind)) {
      expect((error as ApiError).message.toLowerCase()).toContain(documentedBeginning(text));
    }
  });
});

function documentedBeginning(text: string): string {
  return (text.includes("...") ? text.slice(0, text.indexOf("...")) : text).toLowerCase();
}

// --- The WebSocket section: client messages, server frames, error frames ----------------------

interface SocketTable {
  /** The first column (an action, a frame type, or a status). */
  key: string;
  /** The JSON in the second column's backticks. */
  value: unknown;
  when: string;
}

/** The rows of the table under `### <title>` in the "WebSocket" section. */
function socketTable(markdown: string, title: string): SocketTable[] {
  const section = markdown.split(/^(?=## )/m).find((s) => s.startsWith("## WebSocket"));
  const table = section?.split(/^(?=### )/m).find((s) => s.startsWith(`### ${title}`));
  if (!table) throw new Error(`docs/api.md has no "### ${title}" in its WebSocket section`);
  const found: SocketTable[] = [];
  for (const line of table.split("\n")) {
    const row = /^\| `?([^|`]+?)`?(?: \(([^)]*)\))? \| `([^`]*)` \| (.*) \|$/.exec(line);
    if (row) found.push({ key: row[2] ? `${row[1]} (${row[2]})` : row[1]!, value: JSON.parse(row[3]!), when: row[4]! });
  }
  return found;
}

class ContractSocket implements WebSocketLike {
  readyState = 1;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {}
  frame(value: unknown) {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(value) }));
  }
}

function connected() {
  let ws: ContractSocket | undefined;
  const socket = new StreamSocket({
    url: "wss://ws.example.com/live",
    token: "t0k",
    connect: () => (ws = new ContractSocket()),
  });
  return {
    socket,
    ws: () => {
      if (!ws) throw new Error("not connected");
      return ws;
    },
  };
}

function recording() {
  const seen: { started: StartedFrame[]; deltas: string[]; done: DoneFrame[]; failed: ApiError[] } = {
    started: [],
    deltas: [],
    done: [],
    failed: [],
  };
  const handlers: StreamHandlers = {
    started: (frame) => seen.started.push(frame),
    delta: (text) => seen.deltas.push(text),
    done: (frame) => seen.done.push(frame),
    failed: (error) => seen.failed.push(error),
  };
  return { seen, handlers };
}

/** The same keys, and values of the same JSON types (ids and texts are examples). */
function sameShape(actual: Record<string, unknown>, documented: Record<string, unknown>) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(documented).sort());
  for (const [key, value] of Object.entries(documented)) {
    expect(value === null ? null : typeof actual[key], key).toBe(value === null ? actual[key] : typeof value);
  }
}

/** How the app treats each documented error frame (by status). */
const FRAME_HANDLING: Record<number, Handling> = {
  400: ["invalid", "the error shown in place of the answer, no retry"],
  413: ["invalid", "the error shown in place of the answer, no retry (the composer already stops at 32,000 characters and 32 KB of UTF-8)"],
  404: ["not-found", "'conversation not found' in place of the answer, no retry"],
  409: ["invalid", "the server's text, no retry"],
  429: ["rate-limit", "the server's text with a retry"],
  401: SIGN_IN_AGAIN,
  502: ["upstream", "the server's text with a retry; any text so far stays, marked incomplete"],
  503: ["upstream", "the server's text with a retry"],
  504: ["upstream", "the server's text with a retry; any text so far stays, marked incomplete"],
  500: BROKEN,
};

describe("docs/api.md's WebSocket section as the web app reads it", () => {
  const clientMessages = socketTable(apiMd, "Client messages");
  const serverFrames = socketTable(apiMd, "Server frames");
  const errorFrames = socketTable(apiMd, "Error frames");

  it("documents every message, frame and error", () => {
    expect(clientMessages.map((m) => m.key)).toEqual(["send", "send (edit)", "regenerate", "stop"]);
    expect(serverFrames.map((f) => f.key)).toEqual(["started", "delta", "done", "error"]);
    expect(errorFrames.length).toBeGreaterThan(8);
  });

  it.each(clientMessages.map((m) => [m.key, m] as const))(
    "the app sends %s as documented",
    (_key, documented) => {
      const doc = documented.value as Record<string, unknown>;
      const { socket, ws } = connected();
      // A documented `model` is sent as the picker sends it (one of config.json's models).
      const model = typeof doc.model === "string" ? { model: doc.model } : {};
      const request = socket.ask(
        doc.action === "regenerate"
          ? { action: "regenerate", conversation: ID, ...model }
          : doc.edit !== undefined
            ? { action: "send", conversation: ID, edit: 4, content: "Write a limerick instead.", ...model }
            : { action: "send", conversation: null, content: "Write a haiku about Lambda.", ...model },
        recording().handlers,
      );
      ws().onopen?.(new Event("open"));
      if (doc.action === "stop") socket.stop(request);
      const sent = ws().sent.at(-1)!;
      expect(sent.request).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      sameShape(sent, doc);
      expect(sent.action).toBe(doc.action);
    },
  );

  it.each(serverFrames.map((f) => [f.key, f] as const))(
    "the documented %s frame reaches its request's handler",
    (type, documented) => {
      const { socket, ws } = connected();
      const { seen, handlers } = recording();
      const request = socket.ask({ action: "send", conversation: null, content: "Hi" }, handlers);
      ws().onopen?.(new Event("open"));
      ws().frame({ ...(documented.value as object), request });
      if (type === "started") {
        expect(seen.started).toHaveLength(1);
        expect(seen.started[0]!.conversation.id).toMatch(/^[0-9a-f]+$/);
      } else if (type === "delta") {
        expect(seen.deltas).toEqual([(documented.value as { text: string }).text]);
      } else if (type === "done") {
        expect(seen.done.map((d) => d.stopped)).toEqual([false]);
      } else {
        expect(type).toBe("error");
        expect(seen.failed).toHaveLength(1);
        // The statuses an error frame may carry (its "when" column) are each decided below.
        const statuses = [...documented.when.matchAll(/\b\d{3}\b/g)].map((m) => Number(m[0]));
        expect(statuses.length).toBeGreaterThan(8);
        for (const status of statuses) expect(FRAME_HANDLING[status], String(status)).toBeDefined();
      }
    },
  );

  it("ignores API Gateway's own frames", () => {
    const { socket, ws } = connected();
    const { seen, handlers } = recording();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, handlers);
    ws().onopen?.(new Event("open"));
    ws().frame({ message: "Endpoint request timed out", connectionId: "x=", requestId: "y" });
    expect(seen).toEqual({ started: [], deltas: [], done: [], failed: [] });
  });

  it.each(errorFrames.map((f) => [f.key, JSON.stringify(f.value), f] as const))(
    "error frame %s %s becomes the right error",
    (status, _text, documented) => {
      const handling = FRAME_HANDLING[Number(status)];
      expect(handling, `docs/api.md documents error frame ${status}: decide here how the app treats it`).toBeDefined();
      const [kind] = handling!;
      const { socket, ws } = connected();
      const { seen, handlers } = recording();
      const request = socket.ask({ action: "send", conversation: ID, content: "Hi" }, handlers);
      ws().onopen?.(new Event("open"));
      ws().frame({ type: "error", request, status: Number(status), error: documented.value });
      expect(seen.failed).toHaveLength(1);
      const error = seen.failed[0]!;
      expect(error.kind).toBe(kind);
      expect(error.status).toBe(Number(status));
      expect(socket.has(request)).toBe(false);
      const text = documented.value as string;
      if (["rate-limit", "upstream", "not-found"].includes(kind)) {
        expect(error.message.toLowerCase()).toContain(documentedBeginning(text));
      }
    },
  );
});

describe("docs/api.md's runtime configuration and sizes as the web app reads them", () => {
  function section(heading: string): string {
    const found = apiMd.split(/^(?=## )/m).find((s) => s.startsWith(`## ${heading}`));
    if (!found) throw new Error(`docs/api.md has no "## ${heading}"`);
    return found;
  }

  it("reads the documented config.json, models and all (the first is the default)", () => {
    const example = /```json\n([\s\S]*?)\n```/.exec(section("Runtime configuration"));
    const documented = JSON.parse(example![1]!) as { models: string[] };
    expect(documented.models.length).toBeGreaterThan(1);
    expect(parseConfig(documented).models).toEqual(documented.models);
  });

  it("the send and regenerate messages take an optional model", () => {
    const text = section("WebSocket");
    expect(text).toMatch(/`model` \(optional, on `send` and\s+`regenerate`\)/);
  });

  it("holds each message to the documented frame limit, and knows its close code", () => {
    const sizes = /\*\*Sizes\.\*\*([\s\S]*?)\n\n/.exec(section("WebSocket"));
    expect(sizes, 'docs/api.md has no "**Sizes.**" paragraph').not.toBeNull();
    const paragraph = sizes![1]!.replace(/\s+/g, " ");
    const frameKb = /a frame over (\d+) KB/.exec(paragraph);
    const code = /close code (\d{4})/.exec(paragraph);
    expect(Number(frameKb![1]) * 1024).toBe(MAX_FRAME_BYTES);
    expect(Number(code![1])).toBe(MESSAGE_TOO_BIG);

    // A connection closed with that code fails the request sent last as too large.
    const { socket, ws } = connected();
    const { seen, handlers } = recording();
    socket.ask({ action: "send", conversation: null, content: "Hi" }, handlers);
    ws().onopen?.(new Event("open"));
    ws().onclose?.(new CloseEvent("close", { code: MESSAGE_TOO_BIG }));
    expect(seen.failed.map((e) => [e.kind, e.message])).toEqual([["invalid", CLOSED_TOO_LARGE]]);
  });
});
