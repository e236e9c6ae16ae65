// The streaming state: a thread's messages as the frames of an answer come in.
import { describe, expect, it } from "vitest";

import { ApiError, type ConversationSummary, type StoredMessage } from "../src/api";
import type { StartedFrame } from "../src/socket";
import {
  EMPTY_THREAD,
  type Thread,
  type ThreadAction,
  canEdit,
  canRegenerate,
  threadReducer,
  threadsReducer,
} from "../src/thread";

const CONVERSATION: ConversationSummary = {
  id: "0193a6c2e1f4a1b2c3d4e5f6a7b8",
  title: "Haiku",
  model: "gpt-4o-mini",
  created_at: 1,
  updated_at: 2,
};

function started(request: string, user_seq: number, answer_seq: number): ThreadAction {
  const frame: StartedFrame = { type: "started", request, conversation: CONVERSATION, user_seq, answer_seq };
  return { type: "started", request, frame };
}

function run(thread: Thread, ...actions: ThreadAction[]): Thread {
  return actions.reduce(threadReducer, thread);
}

const LOADED = run(EMPTY_THREAD, {
  type: "loaded",
  conversation: CONVERSATION,
  messages: [
    { seq: 0, role: "user", content: "Hi" },
    { seq: 1, role: "assistant", content: "Hello!" },
    { seq: 2, role: "user", content: "Haiku?" },
    { seq: 3, role: "assistant", content: "Functions wake" },
  ],
  earlier: null,
});

const brief = (t: Thread) => t.messages.map((m) => `${m.role[0]}${m.seq ?? "?"}:${m.content}`);

describe("a streamed answer", () => {
  it("grows with each delta, and is stored as a message when done", () => {
    let t = run(EMPTY_THREAD, {
      type: "ask",
      request: "r1",
      ask: { action: "send", conversation: null, content: "Write a haiku" },
    });
    expect(brief(t)).toEqual(["u?:Write a haiku"]);
    expect(t.streaming).toMatchObject({ request: "r1", text: "", phase: "waiting", started: false });
    t = run(t, started("r1", 0, 1));
    expect(t.conversation).toEqual(CONVERSATION);
    expect(brief(t)).toEqual(["u0:Write a haiku"]);
    t = run(t, { type: "delta", request: "r1", text: "Functions " });
    expect(t.streaming).toMatchObject({ text: "Functions ", phase: "streaming" });
    t = run(t, { type: "delta", request: "r1", text: "wake" });
    expect(t.streaming?.text).toBe("Functions wake");
    t = run(t, { type: "done", request: "r1", stopped: false });
    expect(t.streaming).toBeNull();
    expect(brief(t)).toEqual(["u0:Write a haiku", "a1:Functions wake"]);
    expect(canRegenerate(t)).toBe(true);
  });

  it("ignores frames of another request, or of one that is over", () => {
    const t = run(EMPTY_THREAD, { type: "ask", request: "r1", ask: { action: "send", conversation: null, content: "Hi" } });
    expect(run(t, { type: "delta", request: "r0", text: "stale" })).toBe(t);
    const done = run(t, { type: "done", request: "r1", stopped: false });
    expect(run(done, { type: "delta", request: "r1", text: "late" })).toBe(done);
  });

  it("Stop keeps the text so far, marked as stopped", () => {
    const t = run(
      LOADED,
      { type: "ask", request: "r2", ask: { action: "send", conversation: CONVERSATION.id, content: "More" } },
      started("r2", 4, 5),
      { type: "delta", request: "r2", text: "Half an" },
      { type: "stopping", request: "r2" },
    );
    expect(t.streaming?.phase).toBe("stopping");
    const more = run(t, { type: "delta", request: "r2", text: " answer" });
    expect(more.streaming?.phase).toBe("stopping");
    const stopped = run(more, { type: "done", request: "r2", stopped: true });
    expect(stopped.messages.at(-1)).toEqual({ seq: 5, role: "assistant", content: "Half an answer", stopped: true });
  });

  it("a failure keeps the text so far as incomplete; Retry regenerates once the message is stored", () => {
    const t = run(
      LOADED,
      { type: "ask", request: "r2", ask: { action: "send", conversation: CONVERSATION.id, content: "More" } },
      started("r2", 4, 5),
      { type: "delta", request: "r2", text: "Part" },
      { type: "failed", request: "r2", error: new ApiError("network", "The connection was lost") },
    );
    expect(t.streaming).toBeNull();
    expect(t.messages.at(-1)).toEqual({ seq: 5, role: "assistant", content: "Part", interrupted: true });
    expect(t.error?.kind).toBe("network");
    expect(t.retry).toEqual({ action: "regenerate", conversation: CONVERSATION.id });
    // Retrying drops the incomplete answer and streams a new one.
    const again = run(t, { type: "ask", request: "r3", ask: t.retry! });
    expect(brief(again).at(-1)).toBe("u4:More");
    expect(again.error).toBeNull();
  });

  it("Retry after a stored message asks the model the failed request asked", () => {
    const t = run(
      LOADED,
      { type: "ask", request: "r2", ask: { action: "send", conversation: CONVERSATION.id, content: "More", model: "gpt-4.1" } },
      started("r2", 4, 5),
      { type: "failed", request: "r2", error: new ApiError("upstream", "The provider failed") },
    );
    expect(t.retry).toEqual({ action: "regenerate", conversation: CONVERSATION.id, model: "gpt-4.1" });
  });

  it("a failure before the message was stored retries the same send, not a second copy", () => {
    const ask = { action: "send" as const, conversation: null, content: "Hi" };
    const t = run(
      EMPTY_THREAD,
      { type: "ask", request: "r1", ask },
      { type: "failed", request: "r1", error: new ApiError("rate-limit", "Too many answers at once.") },
    );
    expect(t.retry).toEqual(ask);
    expect(brief(t)).toEqual(["u?:Hi"]);
    const again = run(t, { type: "ask", request: "r2", ask: t.retry! });
    expect(brief(again)).toEqual(["u?:Hi"]);
  });
});

describe("regenerate and edit", () => {
  it("regenerate drops the last answer while the new one streams", () => {
    const t = run(LOADED, { type: "ask", request: "r2", ask: { action: "regenerate", conversation: CONVERSATION.id } });
    expect(brief(t)).toEqual(["u0:Hi", "a1:Hello!", "u2:Haiku?"]);
    expect(canRegenerate(t)).toBe(false); // streaming
    const done = run(t, started("r2", 2, 3), { type: "delta", request: "r2", text: "Anew" }, { type: "done", request: "r2", stopped: false });
    expect(brief(done)).toEqual(["u0:Hi", "a1:Hello!", "u2:Haiku?", "a3:Anew"]);
  });

  it("an edit replaces the message and truncates everything after it", () => {
    expect(LOADED.messages.map((m) => canEdit(LOADED, m))).toEqual([true, false, true, false]);
    const t = run(LOADED, {
      type: "ask",
      request: "r2",
      ask: { action: "send", conversation: CONVERSATION.id, edit: 0, content: "Hello" },
    });
    expect(brief(t)).toEqual(["u?:Hello"]);
    expect(t.messages.map((m) => canEdit(t, m))).toEqual([false]);
    const done = run(t, started("r2", 0, 1), { type: "delta", request: "r2", text: "Hi!" }, { type: "done", request: "r2", stopped: false });
    expect(brief(done)).toEqual(["u0:Hello", "a1:Hi!"]);
  });
});

describe("loading", () => {
  it("does not replace an answer streaming in with what the server had before", () => {
    const t = run(LOADED, { type: "ask", request: "r2", ask: { action: "regenerate", conversation: CONVERSATION.id } });
    const loaded = run(t, { type: "loaded", conversation: { ...CONVERSATION, title: "Renamed" }, messages: [], earlier: null });
    expect(loaded.messages).toEqual(t.messages);
    expect(loaded.conversation?.title).toBe("Renamed");
  });

  it("does not replace an exchange asked for after the server was read", () => {
    const asks = LOADED.asks;
    const t = run(
      LOADED,
      { type: "ask", request: "r2", ask: { action: "send", conversation: CONVERSATION.id, content: "More" } },
      started("r2", 4, 5),
      { type: "delta", request: "r2", text: "Yes" },
      { type: "done", request: "r2", stopped: false },
    );
    const stale = run(t, { type: "loaded", conversation: CONVERSATION, messages: [], earlier: null, asks });
    expect(stale.messages).toEqual(t.messages);
    const fresh = run(t, { type: "loaded", conversation: CONVERSATION, messages: [], earlier: null, asks: t.asks });
    expect(fresh.messages).toEqual([]);
  });

  it("says a conversation that is not there, and keeps what it showed on other failures", () => {
    const missing = run(EMPTY_THREAD, { type: "loading" }, { type: "load-failed", error: new ApiError("not-found", "Conversation not found.", 404) });
    expect(missing.load).toBe("missing");
    const offline = run(EMPTY_THREAD, { type: "loading" }, { type: "load-failed", error: new ApiError("network", "offline") });
    expect(offline.load).toBeInstanceOf(ApiError);
    const cached = run(LOADED, { type: "loading" }, { type: "load-failed", error: new ApiError("network", "offline") });
    expect(cached.load).toBe("ready");
    expect(cached.messages).toEqual(LOADED.messages);
  });
});

describe("older messages", () => {
  const msg = (seq: number, content = `m${seq}`): StoredMessage => ({
    seq,
    role: seq % 2 === 0 ? "user" : "assistant",
    content,
  });
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => msg(from + i));
  /** The newest page: 4..7, with older messages before it. */
  const NEWEST = run(EMPTY_THREAD, { type: "loaded", conversation: CONVERSATION, messages: range(4, 8), earlier: "4" });
  const seqs = (t: Thread) => t.messages.map((m) => m.seq);

  it("a new chat has none; the newest page says whether there are", () => {
    expect([EMPTY_THREAD.earlier, EMPTY_THREAD.earlierLoad]).toEqual([null, "idle"]);
    expect([NEWEST.earlier, NEWEST.earlierLoad]).toEqual(["4", "idle"]);
    expect(LOADED.earlier).toBeNull();
  });

  it("are added before those shown, each once, with the cursor of those before them", () => {
    const loading = run(NEWEST, { type: "earlier-loading", before: "4" });
    expect(loading.earlierLoad).toBe("loading");
    // The page read overlaps what is shown (5 and 4 again): those are not added twice.
    const t = run(loading, {
      type: "earlier-loaded",
      before: "4",
      messages: range(1, 6),
      earlier: "1",
    });
    expect(seqs(t)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([t.earlier, t.earlierLoad]).toEqual(["1", "idle"]);
    // The first page: a system message (not shown), and the first of the conversation.
    const all = run(t, { type: "earlier-loading", before: "1" }, {
      type: "earlier-loaded",
      before: "1",
      messages: [{ seq: 0, role: "system", content: "You are terse." }, msg(1, "again")],
      earlier: null,
    });
    expect(seqs(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all.messages[0]!.content).toBe("m1");
    expect([all.earlier, all.earlierLoad]).toEqual([null, "idle"]);
  });

  it("read with a cursor the thread no longer has, they are left out", () => {
    const reread = run(NEWEST, { type: "earlier-loading", before: "4" }, {
      type: "loaded",
      conversation: CONVERSATION,
      messages: range(6, 10),
      earlier: "6",
      fresh: true,
    });
    expect(reread.earlierLoad).toBe("idle");
    expect(run(reread, { type: "earlier-loaded", before: "4", messages: range(0, 4), earlier: null })).toBe(reread);
    expect(run(reread, { type: "earlier-failed", before: "4", error: new ApiError("network", "offline") })).toBe(reread);
  });

  it("a failure is kept to be shown by the button; a refused cursor is not (the newest are read again)", () => {
    const offline = run(NEWEST, { type: "earlier-loading", before: "4" }, { type: "earlier-failed", before: "4", error: new ApiError("network", "offline") });
    expect(offline.earlierLoad).toBeInstanceOf(ApiError);
    expect(seqs(offline)).toEqual(seqs(NEWEST));
    expect(run(offline, { type: "earlier-loading", before: "4" }).earlierLoad).toBe("loading"); // again
    const refused = run(NEWEST, { type: "earlier-loading", before: "4" }, {
      type: "earlier-failed",
      before: "4",
      error: new ApiError("invalid", "'before' is not one this API gave", 400),
    });
    expect(refused.earlierLoad).toBe("idle");
  });

  it("edits and regenerate still find messages by seq once older ones are added", () => {
    const t = run(NEWEST, { type: "earlier-loaded", before: "4", messages: range(0, 4), earlier: null });
    const edited = run(t, { type: "ask", request: "r1", ask: { action: "send", conversation: CONVERSATION.id, edit: 2, content: "Again" } });
    expect(brief(edited)).toEqual(["u0:m0", "a1:m1", "u?:Again"]);
    const regenerated = run(t, { type: "ask", request: "r2", ask: { action: "regenerate", conversation: CONVERSATION.id } });
    expect(seqs(regenerated)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(canEdit(t, t.messages[0]!)).toBe(true);
  });

  describe("the newest page read again", () => {
    const SHOWN = run(NEWEST, { type: "earlier-loaded", before: "4", messages: range(2, 4), earlier: "2" });

    it("keeps the older messages shown, and their cursor, when only newer ones came since", () => {
      const same = run(SHOWN, { type: "loaded", conversation: CONVERSATION, messages: range(4, 8), earlier: "4" });
      expect(seqs(same)).toEqual([2, 3, 4, 5, 6, 7]);
      expect(same.earlier).toBe("2");
      const newer = run(SHOWN, { type: "loaded", conversation: CONVERSATION, messages: range(5, 10), earlier: "5" });
      expect(seqs(newer)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect(newer.earlier).toBe("2");
    });

    it("replaces them all when what is shown changed (edited or regenerated elsewhere), or when fresh", () => {
      const regenerated = [...range(4, 7), msg(7, "another answer")];
      const changed = run(SHOWN, { type: "loaded", conversation: CONVERSATION, messages: regenerated, earlier: "4" });
      expect(brief(changed)).toEqual(["u4:m4", "a5:m5", "u6:m6", "a7:another answer"]);
      expect(changed.earlier).toBe("4");
      const edited = run(SHOWN, { type: "loaded", conversation: CONVERSATION, messages: [msg(4, "edited")], earlier: "4" });
      expect(brief(edited)).toEqual(["u4:edited"]);
      const fresh = run(SHOWN, { type: "loaded", conversation: CONVERSATION, messages: range(4, 8), earlier: "4", fresh: true });
      expect(seqs(fresh)).toEqual([4, 5, 6, 7]);
      expect(fresh.earlier).toBe("4");
    });
  });
});

describe("threads", () => {
  it("a new chat moves from its draft key to its conversation's id on started", () => {
    let threads = threadsReducer({}, {
      key: "draft-1",
      action: { type: "ask", request: "r1", ask: { action: "send", conversation: null, content: "Hi" } },
    });
    threads = threadsReducer(threads, { key: "draft-1", action: started("r1", 0, 1) });
    expect(Object.keys(threads)).toEqual([CONVERSATION.id]);
    threads = threadsReducer(threads, { key: CONVERSATION.id, action: { type: "delta", request: "r1", text: "Hey" } });
    expect(threads[CONVERSATION.id]!.streaming?.text).toBe("Hey");
    threads = threadsReducer(threads, { key: CONVERSATION.id, action: { type: "forget" } });
    expect(threads).toEqual({});
  });
});
