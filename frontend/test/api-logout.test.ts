// POST /logout through the API client, and the `Retry-After` of a 429 (docs/api.md).
import { describe, expect, it, vi } from "vitest";

import { ApiError, createApi, parseRetryAfter } from "../src/api";

type Call = { url: string; init: RequestInit };

function fakeFetch(status: number, body: unknown, calls: Call[] = [], headers: Record<string, string> = {}) {
  return vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  }) as unknown as typeof fetch;
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(ApiError);
  return caught as ApiError;
}

describe("logout", () => {
  it("ends this session with the bearer token and an empty body", async () => {
    const calls: Call[] = [];
    const api = createApi("https://api.example.com/", fakeFetch(200, { signed_out: "this session" }, calls));
    expect(await api.logout("t0k", false)).toBe("this session");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe("https://api.example.com/logout");
    expect(calls[0]!.init.method).toBe("POST");
    expect(calls[0]!.init.body).toBeUndefined();
    const headers = calls[0]!.init.headers as Record<string, string>;
    expect(headers.authorization).toBe("Bearer t0k");
    expect(headers["content-type"]).toBeUndefined();
    expect(calls[0]!.init.credentials).toBe("omit");
  });

  it("ends every session with {everywhere: true}", async () => {
    const calls: Call[] = [];
    const api = createApi("https://api.example.com", fakeFetch(200, { signed_out: "everywhere" }, calls));
    expect(await api.logout("t0k", true)).toBe("everywhere");
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ everywhere: true });
    expect((calls[0]!.init.headers as Record<string, string>)["content-type"]).toBe("application/json");
  });

  it.each([
    [200, { signed_out: "somewhere" }, "server"],
    [200, "<html></html>", "server"],
    [401, { message: "Unauthorized" }, "session"],
    [403, { message: "Forbidden" }, "session"],
    [400, { error: "field 'everywhere' must be true or false" }, "invalid"],
    [404, { message: "Not Found" }, "server"],
    [500, { message: "Internal Server Error" }, "server"],
  ])("maps HTTP %i %j to %s", async (status, body, kind) => {
    const api = createApi("http://x", fakeFetch(status, body));
    const error = await failure(api.logout("t0k", false));
    expect(error.kind).toBe(kind);
  });

  it("reports a network failure as such", async () => {
    const api = createApi("http://x", (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch);
    expect((await failure(api.logout("t0k", true))).kind).toBe("network");
  });
});

describe("Retry-After", () => {
  it("reaches a 429's error when the browser lets the app read it", async () => {
    const body = { error: "too many failed logins for this username; try again in 8 s" };
    const api = createApi("http://x", fakeFetch(429, body, [], { "retry-after": "8" }));
    const error = await failure(api.login("alice", "guess"));
    expect(error.kind).toBe("rate-limit");
    expect(error.message).toBe("Too many failed logins for this username; try again in 8 s.");
    expect(error.retryAfter).toBe(8);
    expect(error.retryable).toBe(true);
  });

  it("is undefined when absent (a cross-origin API that does not expose it)", async () => {
    const api = createApi("http://x", fakeFetch(429, { error: "too many failed logins" }));
    expect((await failure(api.login("alice", "guess"))).retryAfter).toBeUndefined();
  });

  it("reads seconds or an HTTP date", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter(" 15 ")).toBe(15);
    expect(parseRetryAfter("0")).toBe(0);
    expect(parseRetryAfter("Thu, 01 Jan 2026 12:01:00 GMT", now)).toBe(60);
    expect(parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("-5")).toBeUndefined();
  });
});
