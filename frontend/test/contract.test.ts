// The web app's side of docs/api.md: every row of the page's status tables is fed to the API
// client, which must turn it into the right outcome. The server's side is checked against the
// same rows in tests/test_contract_http.py (reading rules: tests/support/contract.py).
import { describe, expect, it, vi } from "vitest";

import apiMd from "../../docs/api.md?raw";
import { type Api, ApiError, type ApiErrorKind, createApi } from "../src/api";

interface Row {
  route: string;
  status: number;
  body: unknown;
  /** The row's "when" column. */
  when: string;
}

/** The rows of each `## \`POST /path\`` section's status table, as the Python reader does. */
function documentedRows(markdown: string): Row[] {
  const rows: Row[] = [];
  for (const section of markdown.split(/^(?=## )/m)) {
    const heading = /^## `(GET|POST) (\/\S*)`/.exec(section);
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

/** What the person must be able to do about each documented failure. */
const EXPECTED_KIND: Record<string, Record<number, ApiErrorKind>> = {
  "POST /login": {
    400: "invalid",
    401: "credentials",
    411: "invalid",
    413: "invalid",
    421: "invalid",
    431: "invalid",
    429: "rate-limit",
    500: "server",
  },
  "POST /chat": {
    400: "invalid",
    401: "session",
    403: "session",
    411: "invalid",
    413: "invalid",
    421: "invalid",
    431: "invalid",
    429: "rate-limit",
    500: "server",
    502: "upstream",
    503: "upstream",
    504: "upstream",
  },
  // Signing out goes ahead here whatever the answer; these decide what the person is told.
  "POST /logout": {
    400: "invalid",
    401: "session",
    403: "session",
    411: "invalid",
    413: "invalid",
    421: "invalid",
    431: "invalid",
    500: "server",
  },
};

/** The `Retry-After` of an answer whose row says it carries one. */
const RETRY_AFTER_S = 8;

function answering(status: number, body: unknown, headers: Record<string, string>) {
  return vi.fn(
    async () =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json", ...headers },
      }),
  ) as unknown as typeof fetch;
}

type Caller = (api: Api) => Promise<unknown>;

/** How the web app calls each documented route: every way is fed every row of its table. */
const CALLERS: Record<string, Record<string, Caller>> = {
  "POST /login": { login: (api) => api.login("alice", "correct horse battery staple") },
  "POST /chat": { chat: (api) => api.chat("t0k", [{ role: "user", content: "Hi" }]) },
  "POST /logout": {
    "sign out": (api) => api.logout("t0k", false),
    "sign out everywhere": (api) => api.logout("t0k", true),
  },
};

interface Case {
  route: string;
  status: number;
  body: unknown;
  how: string;
  row: Row;
}

function cases(rows: readonly Row[]): Case[] {
  return rows.flatMap((row) =>
    Object.keys(CALLERS[row.route] ?? { "(no caller)": () => Promise.resolve() }).map((how) => ({
      route: row.route,
      status: row.status,
      body: row.body,
      how,
      row,
    })),
  );
}

function call({ route, status, how, row }: Case) {
  const caller = CALLERS[route]?.[how];
  if (!caller) throw new Error(`docs/api.md documents ${route}: say here how the app calls it`);
  // A row that says its answer has a `Retry-After` header gets one.
  const headers: Record<string, string> = row.when.includes("Retry-After")
    ? { "retry-after": String(RETRY_AFTER_S) }
    : {};
  return caller(createApi("https://api.example.com", answering(status, row.body, headers)));
}

const rows = documentedRows(apiMd);

describe("docs/api.md as the web app reads it", () => {
  it("documents the routes", () => {
    expect(new Set(rows.map((row) => row.route))).toEqual(
      new Set(["POST /login", "POST /chat", "POST /logout"]),
    );
    expect(rows.length).toBeGreaterThan(12);
    for (const route of ["POST /login", "POST /chat", "POST /logout"]) {
      expect(rows.filter((row) => row.route === route && row.status !== 200).length).toBeGreaterThan(2);
    }
  });

  it.each(
    cases(rows.filter((row) => row.status === 200)).map(
      (c) => [c.route, JSON.stringify(c.body).slice(0, 40), c.how, c] as const,
    ),
  )("%s 200 %s (%s): the documented answer is understood", async (route, _body, _how, c) => {
    const result = await call(c);
    if (route === "POST /login") {
      expect(result).toMatchObject({ token: "<JWT>", username: "alice", expiresAt: 1767225600 });
    } else if (route === "POST /logout") {
      expect(result).toBe((c.body as { signed_out: string }).signed_out);
    } else {
      expect(result).toMatchObject({ message: { role: "assistant" }, model: "gpt-4o-mini" });
    }
  });

  it.each(
    cases(rows.filter((row) => row.status !== 200)).map(
      (c) => [c.route, c.status, JSON.stringify(c.body), c.how, c] as const,
    ),
  )("%s %i %s (%s): becomes the right error", async (route, status, _body, _how, c) => {
    const kind = EXPECTED_KIND[route]?.[status];
    expect(kind, `docs/api.md documents ${status} for ${route}: decide here how the app treats it`).toBeDefined();
    const error = await call(c).then(
      () => undefined,
      (caught: unknown) => caught,
    );
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
    if (text && ["rate-limit", "upstream"].includes(kind!)) {
      const known = text.includes("...") ? text.slice(0, text.indexOf("...")) : text;
      expect((error as ApiError).message.toLowerCase()).toContain(known.toLowerCase());
    }
  });
});
