// The browser's cache of the server's conversations: bounded, per user, never the truth.
import { beforeEach, describe, expect, it } from "vitest";

import type { ConversationSummary, OpenedConversation } from "../src/api";
import {
  CACHE_CHARS,
  CACHE_LIST,
  CACHE_OPENED,
  appendPage,
  cacheKey,
  forgetConversations,
  loadCache,
  mergeFirstPage,
  remove,
  replace,
  saveCache,
  titleFor,
  upsert,
  withOpened,
  withoutConversation,
} from "../src/conversations";

function summary(n: number, title = `chat ${n}`): ConversationSummary {
  return { id: `id${n}`, title, model: "m", created_at: n, updated_at: n };
}

function opened(n: number, content = "hello"): OpenedConversation {
  return {
    conversation: summary(n),
    messages: [
      { seq: 0, role: "user", content },
      { seq: 1, role: "assistant", content: "answer" },
    ],
    earlier: null,
  };
}

describe("titles", () => {
  it("uses the first message, whitespace collapsed, shortened with an ellipsis", () => {
    expect(titleFor("  Hello\n  world ")).toBe("Hello world");
    expect(titleFor("")).toBe("New chat");
    const long = titleFor("word ".repeat(40));
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("the list", () => {
  it("puts the last active conversation first; a rename keeps its place; removes by id", () => {
    const list = [summary(1), summary(2), summary(3)];
    expect(upsert(list, summary(3, "new")).map((c) => c.title)).toEqual(["new", "chat 1", "chat 2"]);
    expect(replace(list, summary(2, "renamed")).map((c) => c.title)).toEqual(["chat 1", "renamed", "chat 3"]);
    expect(remove(list, "id2").map((c) => c.id)).toEqual(["id1", "id3"]);
  });

  it("merges the first page read again: new activity first, older pages kept, deleted gone", () => {
    const shown = [summary(5), summary(4), summary(3), summary(2), summary(1)]; // two pages
    const again = [summary(6), summary(5, "renamed"), summary(3)]; // 4 deleted elsewhere
    expect(mergeFirstPage(shown, again).map((c) => c.title)).toEqual([
      "chat 6",
      "renamed",
      "chat 3",
      "chat 2",
      "chat 1",
    ]);
    expect(mergeFirstPage(shown, [])).toEqual([]);
  });

  it("adds a further page, each conversation once", () => {
    expect(appendPage([summary(1), summary(2)], [summary(2), summary(3)]).map((c) => c.id)).toEqual([
      "id1",
      "id2",
      "id3",
    ]);
  });
});

describe("the cache", () => {
  beforeEach(() => localStorage.clear());

  it("round-trips per user", () => {
    saveCache(localStorage, "alice", { list: [summary(1)], opened: [opened(1)] });
    expect(loadCache(localStorage, "alice")).toEqual({ list: [summary(1)], opened: [opened(1)] });
    expect(loadCache(localStorage, "bob")).toEqual({ list: [], opened: [] });
  });

  it("keeps the cursor of a conversation's older messages", () => {
    const paged = { ...opened(1), earlier: "c/0" };
    saveCache(localStorage, "alice", { list: [], opened: [paged, opened(2)] });
    expect(loadCache(localStorage, "alice").opened).toEqual([paged, opened(2)]);
  });

  it("loads a conversation cached by the app before `earlier` as having no older messages", () => {
    const { earlier: _none, ...older } = opened(1);
    localStorage.setItem(cacheKey("alice"), JSON.stringify({ list: [summary(1)], opened: [older, { ...opened(2), earlier: 5 }] }));
    expect(loadCache(localStorage, "alice").opened).toEqual([opened(1), opened(2)]);
  });

  it("ignores malformed data", () => {
    localStorage.setItem(cacheKey("alice"), "{not json");
    expect(loadCache(localStorage, "alice")).toEqual({ list: [], opened: [] });
    localStorage.setItem(
      cacheKey("alice"),
      JSON.stringify({ list: [summary(1), { id: 2 }], opened: [opened(1), { conversation: summary(2), messages: [{}] }] }),
    );
    expect(loadCache(localStorage, "alice")).toEqual({ list: [summary(1)], opened: [opened(1)] });
  });

  it("keeps the most recently opened first, each once, and forgets a deleted one", () => {
    let cache = withOpened({ list: [summary(1), summary(2)], opened: [] }, opened(1));
    cache = withOpened(cache, opened(2));
    cache = withOpened(cache, opened(1, "changed"));
    expect(cache.opened.map((o) => [o.conversation.id, o.messages[0]!.content])).toEqual([
      ["id1", "changed"],
      ["id2", "hello"],
    ]);
    cache = withoutConversation(cache, "id1");
    expect(cache.list.map((c) => c.id)).toEqual(["id2"]);
    expect(cache.opened.map((o) => o.conversation.id)).toEqual(["id2"]);
  });

  it("is bounded: a number of list entries and conversations, and characters in all", () => {
    const list = Array.from({ length: CACHE_LIST + 10 }, (_, n) => summary(n));
    const many = Array.from({ length: CACHE_OPENED + 5 }, (_, n) => opened(n));
    const kept = saveCache(localStorage, "alice", { list, opened: many });
    expect(kept.list).toHaveLength(CACHE_LIST);
    expect(kept.opened.map((o) => o.conversation.id)).toEqual(many.slice(0, CACHE_OPENED).map((o) => o.conversation.id));

    const big = Array.from({ length: 4 }, (_, n) => opened(n, "x".repeat(CACHE_CHARS / 3)));
    const fitted = saveCache(localStorage, "alice", { list: [], opened: big });
    expect(fitted.opened.map((o) => o.conversation.id)).toEqual(["id0", "id1"]);
    expect(localStorage.getItem(cacheKey("alice"))!.length).toBeLessThanOrEqual(CACHE_CHARS);
  });

  it("drops the least recently opened when storage is full", () => {
    const room = 3_000;
    const tight = {
      ...localStorage,
      setItem(key: string, value: string) {
        if (value.length > room) throw new DOMException("full", "QuotaExceededError");
        localStorage.setItem(key, value);
      },
      removeItem: (key: string) => localStorage.removeItem(key),
    } as Storage;
    const kept = saveCache(tight, "alice", {
      list: [summary(1)],
      opened: [opened(1, "a".repeat(1000)), opened(2, "b".repeat(1000)), opened(3, "c".repeat(1000))],
    });
    expect(kept.opened.map((o) => o.conversation.id)).toEqual(["id1", "id2"]);
    expect(loadCache(localStorage, "alice")).toEqual(kept);
  });

  it("is forgotten per user on sign-out, with the conversations the app kept here before", () => {
    saveCache(localStorage, "alice", { list: [summary(1)], opened: [] });
    saveCache(localStorage, "bob", { list: [summary(2)], opened: [] });
    localStorage.setItem("chatbot-deploy:conversations:alice", "[]");
    forgetConversations(localStorage, "alice");
    expect(localStorage.getItem(cacheKey("alice"))).toBeNull();
    expect(localStorage.getItem("chatbot-deploy:conversations:alice")).toBeNull();
    expect(loadCache(localStorage, "bob").list).toEqual([summary(2)]);
  });
});
