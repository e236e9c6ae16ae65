import { beforeEach, describe, expect, it } from "vitest";

import {
  type Conversation,
  MAX_BODY_BYTES,
  MAX_MESSAGES,
  MAX_MESSAGE_CHARS,
  MAX_TOTAL_CHARS,
  type StoredMessage,
  appendMessage,
  awaitsAnswer,
  contextFor,
  loadConversations,
  newConversation,
  newId,
  remove,
  saveConversations,
  storageKey,
  titleFor,
  upsert,
} from "../src/conversations";

function msg(role: "user" | "assistant", content: string): StoredMessage {
  return { role, content, at: 0 };
}

describe("titles", () => {
  it("uses the first message, whitespace collapsed, shortened with an ellipsis", () => {
    expect(titleFor("  Hello\n  world ")).toBe("Hello world");
    expect(titleFor("")).toBe("New chat");
    const long = titleFor("word ".repeat(40));
    expect(long.length).toBeLessThanOrEqual(60);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("ids", () => {
  it("are unique hex strings the router accepts", () => {
    const ids = new Set(Array.from({ length: 200 }, newId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/);
  });
});

describe("context sent with a request", () => {
  it("is the whole conversation while it fits", () => {
    const messages = [msg("user", "a"), msg("assistant", "b"), msg("user", "c")];
    expect(contextFor(messages)).toEqual([
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
    ]);
  });

  it("keeps the most recent messages within the API's message count", () => {
    const messages = Array.from({ length: 150 }, (_, i) =>
      msg(i % 2 === 0 ? "user" : "assistant", `m${i}`),
    );
    messages.push(msg("user", "last"));
    const context = contextFor(messages);
    expect(context).toHaveLength(MAX_MESSAGES);
    expect(context.at(-1)).toEqual({ role: "user", content: "last" });
    expect(context[0]!.content).toBe(`m${151 - MAX_MESSAGES}`);
  });

  it("keeps the most recent messages within the API's character budget, never a half", () => {
    const big = "x".repeat(30_000);
    const messages = [msg("user", big), msg("assistant", big), msg("user", big), msg("assistant", big), msg("user", "now")];
    const context = contextFor(messages);
    const total = context.reduce((n, m) => n + m.content.length, 0);
    expect(total).toBeLessThanOrEqual(MAX_TOTAL_CHARS);
    expect(context).toHaveLength(4);
    expect(context.every((m) => m.content === big || m.content === "now")).toBe(true);
  });

  it("keeps the JSON body within the API's byte limit (non-ASCII text is 3 bytes a char)", () => {
    const cjk = "語".repeat(30_000); // 30,000 characters, 90,000 bytes
    const messages = [msg("user", cjk), msg("assistant", cjk), msg("user", cjk), msg("user", "now")];
    const context = contextFor(messages);
    const body = new TextEncoder().encode(JSON.stringify({ messages: context })).length;
    expect(body).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(context).toHaveLength(3); // chars alone (90,003) would have allowed all four
    expect(context.at(-1)).toEqual({ role: "user", content: "now" });
  });

  it("stops at a message over the per-message limit", () => {
    const messages = [msg("user", "old"), msg("assistant", "y".repeat(MAX_MESSAGE_CHARS + 1)), msg("user", "new")];
    expect(contextFor(messages)).toEqual([{ role: "user", content: "new" }]);
  });

  it("is empty when it would not end with the user's message", () => {
    expect(contextFor([msg("user", "a"), msg("assistant", "b")])).toEqual([]);
    expect(contextFor([msg("user", "z".repeat(MAX_MESSAGE_CHARS + 1))])).toEqual([]);
  });
});

describe("conversation list", () => {
  it("puts the last used conversation first and removes by id", () => {
    const a = newConversation("first", 1);
    const b = newConversation("second", 2);
    let list = upsert(upsert([], a), b);
    expect(list.map((c) => c.title)).toEqual(["second", "first"]);
    const a2 = appendMessage(a, msg("assistant", "hi"));
    list = upsert(list, a2);
    expect(list.map((c) => c.id)).toEqual([a.id, b.id]);
    expect(list[0]!.messages).toHaveLength(2);
    expect(remove(list, a.id).map((c) => c.id)).toEqual([b.id]);
  });

  it("knows when the last message still waits for an answer", () => {
    const c = newConversation("q");
    expect(awaitsAnswer(c)).toBe(true);
    expect(awaitsAnswer(appendMessage(c, { role: "assistant", content: "a", at: 5 }))).toBe(false);
  });
});

describe("storage", () => {
  beforeEach(() => localStorage.clear());

  it("round-trips per user", () => {
    const c = newConversation("hello", 10);
    saveConversations(localStorage, "alice", [c]);
    expect(loadConversations(localStorage, "alice")).toEqual([c]);
    expect(loadConversations(localStorage, "bob")).toEqual([]);
  });

  it("ignores malformed data", () => {
    localStorage.setItem(storageKey("alice"), "{not json");
    expect(loadConversations(localStorage, "alice")).toEqual([]);
    const good = newConversation("ok");
    localStorage.setItem(
      storageKey("alice"),
      JSON.stringify([good, { id: 3 }, { ...good, id: "x", messages: [{ role: "evil", content: 1 }] }]),
    );
    expect(loadConversations(localStorage, "alice")).toEqual([good]);
  });

  it("drops the oldest conversations when storage is full", () => {
    const writes: string[] = [];
    const small: Storage = {
      ...localStorage,
      length: 0,
      clear() {},
      getItem: () => null,
      key: () => null,
      removeItem() {},
      setItem(_key: string, value: string) {
        if (value.length > 600) throw new DOMException("full", "QuotaExceededError");
        writes.push(value);
      },
    };
    const list: Conversation[] = Array.from({ length: 6 }, (_, i) => newConversation(`c${i} ${"x".repeat(100)}`, i));
    const kept = saveConversations(small, "alice", list);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(6);
    expect(kept).toEqual(list.slice(0, kept.length));
    expect(JSON.parse(writes.at(-1)!)).toEqual(kept);
  });
});
