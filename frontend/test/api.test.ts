import { describe, expect, it, vi } from "vitest";

import { ApiError, createApi, errorFor } from "../src/api";

type Call = { url: string; init: RequestInit };

function fakeFetch(status: number, body: unknown, calls: Call[] = []) {
  return vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const text = typeof body === "string" ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { "content-type": "application/json" } });
  }) as unknown as typeof fetch;
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error("expected the call to fail");
}

describe("login", () => {
  it("posts the credentials as JSON and maps the session", async () => {
    const calls: Call[] = [];
    const api = createApi(
      "https://api.example.com/",
      fakeFetch(200, { token: "t0k", expires_at: 1767225600, username: "alice" }, calls),
    );
    const session = await api.login("alice", "pw");
    expect(session).toEqual({ token: "t0k", username: "alice", expiresAt: 1767225600 });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe("https://api.example.com/login");
    expect(calls[0]!.init.method).toBe("POST");
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ username: "alice", password: "pw" });
    expect((calls[0]!.init.headers as Record<string, string>)["content-type"]).toBe(
      "application/json",
    );
  });

  it("says wrong username or password on 401", async () => {
    const api = createApi("http://x", fakeFetch(401, { error: "invalid username or password" }));
    const error = await failure(api.login("alice", "nope"));
    expect(error.kind).toBe("credentials");
    expect(error.message).toBe("Wrong username or password.");
    expect(error.retryable).toBe(false);
  });

  it("shows the handler's own text for a 400", async () => {
    const api = createApi("http://x", fakeFetch(400, { error: "username is too long" }));
    const error = await failure(api.login("a".repeat(65), "pw"));
    expect(error.kind).toBe("invalid");
    expect(error.message).toBe("Username is too long.");
  });

  it("refuses a 200 that is not a login answer", async () => {
    const api = createApi("http://x", fakeFetch(200, "<html>oops</html>"));
    const error = await failure(api.login("alice", "pw"));
    expect(error.kind).toBe("server");
  });
});

const SUMMARY = {
  id: "0193a6c2e1f4a1b2c3d4e5f6a7b8",
  title: "Haiku",
  model: "gpt-4o-mini",
  created_at: 1767225600000,
  updated_at: 1767225660000,
};

describe("conversations", () => {
  it("lists a page with the bearer token, and the next with its cursor", async () => {
    const calls: Call[] = [];
    const api = createApi("https://api.example.com/", fakeFetch(200, { conversations: [SUMMARY, { id: 5 }], next: "c/2+" }, calls));
    const page = await api.listConversations("tok");
    expect(page).toEqual({ conversations: [SUMMARY], next: "c/2+" }); // an odd entry is left out
    await api.listConversations("tok", "c/2+");
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([
      ["GET", "https://api.example.com/conversations"],
      ["GET", "https://api.example.com/conversations?cursor=c%2F2%2B"],
    ]);
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer tok");
    expect(calls[0]!.init.body).toBeUndefined();
  });

  it("opens one with its messages", async () => {
    const calls: Call[] = [];
    const messages = [
      { seq: 0, role: "user", content: "Hi" },
      { seq: 1, role: "assistant", content: "Hello!" },
    ];
    const api = createApi("https://api.example.com", fakeFetch(200, { conversation: SUMMARY, messages, earlier: null }, calls));
    expect(await api.getConversation("tok", SUMMARY.id)).toEqual({ conversation: SUMMARY, messages, earlier: null });
    expect(calls[0]!.url).toBe(`https://api.example.com/conversations/${SUMMARY.id}`);
  });

  it("reads the cursor of older messages, and asks for them with it URL-encoded", async () => {
    const calls: Call[] = [];
    const messages = [{ seq: 7, role: "user", content: "Older" }];
    const api = createApi("https://api.example.com", fakeFetch(200, { conversation: SUMMARY, messages, earlier: "p/7+&x=1" }, calls));
    expect(await api.getConversation("tok", SUMMARY.id)).toEqual({ conversation: SUMMARY, messages, earlier: "p/7+&x=1" });
    const signal = new AbortController().signal;
    await api.getConversation("tok", SUMMARY.id, { before: "p/7+&x=1", signal });
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([
      ["GET", `https://api.example.com/conversations/${SUMMARY.id}`],
      ["GET", `https://api.example.com/conversations/${SUMMARY.id}?before=p%2F7%2B%26x%3D1`],
    ]);
    expect(new URL(calls[1]!.url).searchParams.get("before")).toBe("p/7+&x=1");
    // An empty cursor is no cursor: the newest messages.
    await api.getConversation("tok", SUMMARY.id, { before: "" });
    expect(calls[2]!.url).toBe(`https://api.example.com/conversations/${SUMMARY.id}`);
  });

  it("refuses a 200 whose messages are not messages", async () => {
    const api = createApi("http://x", fakeFetch(200, { conversation: SUMMARY, messages: [{ seq: "0" }], earlier: null }));
    expect((await failure(api.getConversation("tok", SUMMARY.id))).kind).toBe("server");
  });

  it.each([
    ["missing", {}],
    ["a number", { earlier: 7 }],
    ["empty", { earlier: "" }],
  ])("refuses a 200 whose `earlier` is %s", async (_what, earlier) => {
    const body = { conversation: SUMMARY, messages: [{ seq: 0, role: "user", content: "Hi" }], ...earlier };
    const api = createApi("http://x", fakeFetch(200, body));
    expect((await failure(api.getConversation("tok", SUMMARY.id))).kind).toBe("server");
  });

  it("says a cursor the API did not give was refused (400), with the server's text", async () => {
    const error = "'before' is not one this API gave; open the conversation again without it";
    const api = createApi("http://x", fakeFetch(400, { error }));
    const refused = await failure(api.getConversation("tok", SUMMARY.id, { before: "nope" }));
    expect([refused.kind, refused.status, refused.retryable]).toEqual(["invalid", 400, false]);
  });

  it("renames with PATCH and a JSON title; deletes with DELETE", async () => {
    const calls: Call[] = [];
    const renamed = { ...SUMMARY, title: "A new title" };
    const api = createApi("https://api.example.com", fakeFetch(200, { conversation: renamed }, calls));
    expect(await api.renameConversation("tok", SUMMARY.id, "A new title")).toEqual(renamed);
    expect(calls[0]!.init.method).toBe("PATCH");
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ title: "A new title" });
    expect((calls[0]!.init.headers as Record<string, string>)["content-type"]).toBe("application/json");

    const deleting = createApi("https://api.example.com", fakeFetch(200, { deleted: SUMMARY.id }, calls));
    await deleting.deleteConversation("tok", SUMMARY.id);
    expect([calls[1]!.init.method, calls[1]!.url]).toEqual([
      "DELETE",
      `https://api.example.com/conversations/${SUMMARY.id}`,
    ]);
  });

  it("puts an odd id in the path as one escaped segment", async () => {
    const calls: Call[] = [];
    const api = createApi("http://x", fakeFetch(404, { error: "conversation not found" }, calls));
    const error = await failure(api.getConversation("tok", "../login?x"));
    expect(calls[0]!.url).toBe("http://x/conversations/..%2Flogin%3Fx");
    expect(error.kind).toBe("not-found");
    expect(error.message).toBe("Conversation not found.");
    expect(error.retryable).toBe(false);
  });

  it.each([
    [401, { message: "Unauthorized" }, "session"],
    [403, { message: "Forbidden" }, "session"],
    [401, { error: "session ended; log in again" }, "session"],
    [400, { error: "cursor is not one this API gave" }, "invalid"],
    [404, { error: "conversation not found" }, "not-found"],
    [404, { message: "Not Found" }, "server"], // API Gateway: no such route
    [409, { error: "a request id already streaming" }, "invalid"],
    [429, { error: "too many answers at once; wait for one to finish" }, "rate-limit"],
    [502, { error: "the model provider failed" }, "upstream"],
    [503, { error: "no OpenAI API key is configured: set OPENAI_API_KEY" }, "upstream"],
    [504, { error: "the model provider did not answer in time; try again" }, "upstream"],
    [413, { error: "body too large" }, "invalid"],
    [413, { message: "Request Entity Too Large" }, "invalid"],
    [411, { message: "Length Required" }, "invalid"],
    [421, { message: "Misdirected Request: this server does not answer for that host name" }, "invalid"],
    [431, { message: "Request Header Fields Too Large" }, "invalid"],
    [500, { error: "internal error" }, "server"],
    [500, { message: "Internal Server Error" }, "server"],
  ])("maps HTTP %i %j to %s", async (status, body, kind) => {
    const api = createApi("http://x", fakeFetch(status, body));
    const error = await failure(api.listConversations("tok"));
    expect(error.kind).toBe(kind);
    expect(error.status).toBe(status);
  });

  it("words errors for people", () => {
    expect(errorFor(429, { error: "the model provider is rate limiting requests; try again soon" }).message).toBe(
      "The model provider is rate limiting requests; try again soon.",
    );
    expect(errorFor(403, { message: "Forbidden" }).message).toMatch(/sign in again/);
    expect(errorFor(500, { error: "internal error" }).message).toBe(
      "The server had a problem (HTTP 500). Try again.",
    );
    expect(errorFor(502, "not json").message).toMatch(/did not answer/);
    expect(errorFor(431, { message: "Request Header Fields Too Large" }).message).toBe(
      "The request was refused (HTTP 431).",
    );
    expect(errorFor(421, undefined).retryable).toBe(false);
    expect(errorFor(429, undefined).retryable).toBe(true);
    expect(errorFor(403, undefined).retryable).toBe(false);
  });

  it("reports a network failure", async () => {
    const api = createApi("http://x", (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch);
    const error = await failure(api.listConversations("tok"));
    expect(error.kind).toBe("network");
    expect(error.retryable).toBe(true);
  });

  function hangingFetch() {
    return ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () =>
          reject(new DOMException("aborted", "AbortError")),
        );
      })) as unknown as typeof fetch;
  }

  it("gives up after its own deadline", async () => {
    const api = createApi("http://x", hangingFetch(), 20);
    const error = await failure(api.getConversation("tok", SUMMARY.id));
    expect(error.kind).toBe("timeout");
  });

  it("can be cancelled", async () => {
    const api = createApi("http://x", hangingFetch(), 10_000);
    const controller = new AbortController();
    const pending = api.listConversations("tok", null, { signal: controller.signal });
    controller.abort();
    const error = await failure(pending);
    expect(error.kind).toBe("aborted");
  });
});
