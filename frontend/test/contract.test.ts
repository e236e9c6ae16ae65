// The web app's side of docs/api.md: every row of the page's status tables is fed to the API
// client, which must turn it into the right outcome. The server's side is checked against the
// same rows in tests/test_contract_http.py (reading rules: tests/support/contract.py).
import { describe, expect, it, vi } from "vitest";

import apiMd from "../../docs/api.md?raw";
import { ApiError, type ApiErrorKind, createApi } from "../src/api";

interface Row {
  route: string;
  status: number;
  body: unknown;
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
      const literals = [...row[2]!.matchAll(/`([^`]*)`/g)].map((m) => JSON.parse(m[1]!));
      if (row[2]!.includes("as above") || literals.length === 0) {
        rows.push({ route, status, body: examples[examples.length - 1] });
      }
      for (const body of literals) rows.push({ route, status, body });
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
};

function answering(status: number, body: unknown) {
  return vi.fn(
    async () =>
      new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      }),
  ) as unknown as typeof fetch;
}

function call(route: string, status: number, body: unknown) {
  const api = createApi("https://api.example.com", answering(status, body));
  if (route === "POST /login") return api.login("alice", "correct horse battery staple");
  return api.chat("t0k", [{ role: "user", content: "Hi" }]);
}

const rows = documentedRows(apiMd);

describe("docs/api.md as the web app reads it", () => {
  it("documents both routes", () => {
    expect(new Set(rows.map((row) => row.route))).toEqual(new Set(["POST /login", "POST /chat"]));
    expect(rows.length).toBeGreaterThan(12);
  });

  it.each(rows.filter((row) => row.status === 200).map((row) => [row.route, row] as const))(
    "%s: the documented 200 answer is understood",
    async (route, row) => {
      const result = await call(route, 200, row.body);
      if (route === "POST /login") {
        expect(result).toMatchObject({ token: "<JWT>", username: "alice", expiresAt: 1767225600 });
      } else {
        expect(result).toMatchObject({ message: { role: "assistant" }, model: "gpt-4o-mini" });
      }
    },
  );

  it.each(
    rows
      .filter((row) => row.status !== 200)
      .map((row) => [row.route, row.status, JSON.stringify(row.body), row] as const),
  )("%s %i %s: becomes the right error", async (route, status, _body, row) => {
    const kind = EXPECTED_KIND[route]?.[status];
    expect(kind, `docs/api.md documents ${status} for ${route}: decide here how the app treats it`).toBeDefined();
    const error = await call(route, status, row.body).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe(kind);
    expect((error as ApiError).status).toBe(status);
    const text = (row.body as { error?: string }).error;
    // A handler's own complete message is shown to the person (where it helps them).
    if (text && !text.includes("...") && ["rate-limit", "upstream"].includes(kind!)) {
      expect((error as ApiError).message.toLowerCase()).toContain(text.toLowerCase());
    }
  });
});
