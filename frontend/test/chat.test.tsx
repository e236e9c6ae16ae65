// The chat page in jsdom with a fake API and a fake WebSocket: a streamed answer grows, Stop,
// Regenerate, Edit, a dropped connection, and the server's conversations (open, rename,
// delete, load more, older messages).
import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { type Api, ApiError, type ConversationPage, type ConversationSummary, type OpenedConversation } from "../src/api";
import { App } from "../src/App";
import { cacheKey } from "../src/conversations";
import { EDIT_NOTE } from "../src/Messages";
import { SESSION_KEY } from "../src/session";
import { CLOSED_TOO_LARGE } from "../src/size";
import type { WebSocketLike } from "../src/socket";

const ALICE = { token: "alice-token", username: "alice", expiresAt: Date.now() / 1000 + 3600 };
const ID = "0193a6c2e1f4a1b2c3d4e5f6a7b8";
const HAIKU: ConversationSummary = { id: ID, title: "Write a haiku", model: "m", created_at: 1, updated_at: 2 };
/** HAIKU opened: its two messages, nothing before them. */
const HAIKU_OPENED: OpenedConversation = {
  conversation: HAIKU,
  messages: [
    { seq: 0, role: "user", content: "Write a haiku" },
    { seq: 1, role: "assistant", content: "Functions wake" },
  ],
  earlier: null,
};
const OLDER: ConversationSummary = { id: "0193a6c2e1f4a1b2c3d4e5f6a7aa", title: "Older", model: "m", created_at: 0, updated_at: 0 };

class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
}

let root: HTMLDivElement;
let sockets: FakeWebSocket[];
let frames: FrameRequestCallback[];

function ws(): FakeWebSocket {
  const last = sockets.at(-1);
  if (!last) throw new Error("no WebSocket was opened");
  return last;
}

/** The server's side of the socket, each step rendered. */
async function accept() {
  await act(async () => {
    ws().readyState = 1;
    ws().onopen?.(new Event("open"));
  });
}

async function frame(value: Record<string, unknown>) {
  await act(async () => {
    ws().onmessage?.(new MessageEvent("message", { data: JSON.stringify(value) }));
  });
}

async function drop(code = 1006) {
  await act(async () => {
    ws().readyState = 3;
    ws().onclose?.(new CloseEvent("close", { code }));
  });
}

/** Let the browser paint: the deltas that came since the last frame are applied. */
async function paint() {
  await act(async () => {
    const due = frames.splice(0);
    for (const callback of due) callback(0);
  });
}

async function settle() {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}

function lastSent(): Record<string, unknown> {
  const sent = ws().sent.at(-1);
  if (!sent) throw new Error("nothing was sent");
  return sent;
}

function fakeApi(overrides: Partial<Api> = {}): Api {
  return {
    login: vi.fn(async () => ALICE),
    logout: vi.fn(async () => "this session" as const),
    listConversations: vi.fn(async (): Promise<ConversationPage> => ({ conversations: [], next: null })),
    getConversation: vi.fn(async (): Promise<OpenedConversation> => {
      throw new ApiError("not-found", "Conversation not found.", 404);
    }),
    renameConversation: vi.fn(async (_t: string, _id: string, title: string) => ({ ...HAIKU, title })),
    deleteConversation: vi.fn(async () => {}),
    ...overrides,
  };
}

async function mount(api: Api, models: string[] = []) {
  act(() => {
    render(
      <App
        config={{ apiUrl: "http://api", socketUrl: "ws://app.test/socket", models, stack: "test" }}
        api={api}
        storage={localStorage}
        connectSocket={(url) => {
          const socket = new FakeWebSocket(url);
          sockets.push(socket);
          return socket;
        }}
      />,
      root,
    );
  });
  await settle();
}

async function type(text: string, area = root.querySelector<HTMLTextAreaElement>("#prompt")!) {
  await act(async () => {
    area.value = text;
    area.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function sendMessage(text: string) {
  await type(text);
  await act(async () => {
    root
      .querySelector("#prompt")!
      .dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
  });
}

function button(name: string): HTMLButtonElement {
  const found = [...root.querySelectorAll("button")].find(
    (b) => (b.getAttribute("aria-label") ?? b.textContent?.trim()) === name,
  );
  if (!found) throw new Error(`no button named ${name}`);
  return found;
}

function hasButton(name: string): boolean {
  return [...root.querySelectorAll("button")].some(
    (b) => (b.getAttribute("aria-label") ?? b.textContent?.trim()) === name,
  );
}

async function click(name: string) {
  await act(async () => {
    button(name).click();
  });
  await settle();
}

function answers(): string[] {
  return [...root.querySelectorAll("article.msg-assistant")].map((a) => (a.textContent ?? "").trim());
}

function said(): string[] {
  return [...root.querySelectorAll("article.msg-user")].map((a) => a.textContent ?? "");
}

function streamingText(): string | null {
  return root.querySelector("article.streaming")?.textContent?.trim() ?? null;
}

function alertText(): string {
  return [...root.querySelectorAll("[role=alert]")].map((a) => a.textContent).join(" ");
}

function sidebarTitles(): string[] {
  return [...root.querySelectorAll(".history a")].map((a) => a.textContent ?? "");
}

beforeEach(() => {
  localStorage.clear();
  localStorage.setItem(SESSION_KEY, JSON.stringify(ALICE));
  window.location.hash = "#/";
  window.matchMedia = vi.fn(() => ({
    matches: false,
    addEventListener: () => {},
    removeEventListener: () => {},
  })) as unknown as typeof window.matchMedia;
  sockets = [];
  frames = [];
  vi.stubGlobal("requestAnimationFrame", (callback: FrameRequestCallback) => frames.push(callback));
  vi.stubGlobal("cancelAnimationFrame", () => {});
  root = document.createElement("div");
  document.body.append(root);
});

afterEach(() => {
  act(() => render(null, root));
  root.remove();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/** A new chat asked "Write a haiku", started as HAIKU (user 0, answer 1), deltas given. */
async function streamNewChat(...deltas: string[]): Promise<string> {
  await sendMessage("Write a haiku");
  await accept();
  const request = lastSent().request as string;
  await frame({ type: "started", request, conversation: HAIKU, user_seq: 0, answer_seq: 1 });
  for (const text of deltas) await frame({ type: "delta", request, text });
  await paint();
  return request;
}

describe("a streamed answer", () => {
  it("opens the socket with the token, grows with each delta, renders Markdown, then is kept", async () => {
    await mount(fakeApi());
    expect(sockets).toHaveLength(0); // opened when first needed
    await sendMessage("Write a haiku");
    expect(ws().url).toBe("ws://app.test/socket?token=alice-token");
    expect(root.textContent).toContain("Waiting for the answer…");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({ action: "send", conversation: null, content: "Write a haiku", request });

    // The new chat adopts its id: the address and the sidebar show it.
    await frame({ type: "started", request, conversation: HAIKU, user_seq: 0, answer_seq: 1 });
    expect(window.location.hash).toBe(`#/c/${ID}`);
    expect(sidebarTitles()).toEqual(["Write a haiku (answering)"]);

    await frame({ type: "delta", request, text: "Functions " });
    await frame({ type: "delta", request, text: "**wake**" });
    // Both deltas wait for the next frame, and are rendered once then.
    expect(streamingText()).toBeNull();
    expect(frames).toHaveLength(1);
    await paint();
    expect(streamingText()).toBe("Functions wake");
    expect(root.querySelector("article.streaming strong")?.textContent).toBe("wake");
    expect(root.querySelector("article.streaming")?.getAttribute("aria-busy")).toBe("true");
    await frame({ type: "delta", request, text: " <img src=x onerror=alert(1)>softly" });
    await paint();
    expect(root.querySelector("article.streaming img[onerror]")).toBeNull(); // sanitized

    await frame({ type: "done", request, stopped: false, usage: {} });
    expect(streamingText()).toBeNull();
    expect(answers()).toEqual(["Functions wake softly"]);
    expect(root.querySelector("[aria-live=polite]")?.textContent).toBe("Answer: Functions wake softly");
    expect(sidebarTitles()).toEqual(["Write a haiku"]);
    expect(hasButton("Regenerate the answer")).toBe(true);
    expect(hasButton("Send")).toBe(true);
  });

  it("Stop asks the server to stop and keeps the text so far", async () => {
    await mount(fakeApi());
    const request = await streamNewChat("Half a ");
    await click("Stop");
    expect(lastSent()).toEqual({ action: "stop", request });
    expect(button("Stopping").disabled).toBe(true);
    await frame({ type: "delta", request, text: "haiku" });
    await frame({ type: "done", request, stopped: true, usage: {} });
    expect(answers()).toEqual(["Half a haiku"]);
    expect(root.textContent).toContain("Stopped: the answer so far is kept.");
    expect(hasButton("Send")).toBe(true);
  });

  it("Regenerate asks for a new last answer in its place", async () => {
    await mount(fakeApi());
    const first = await streamNewChat("One");
    await frame({ type: "done", request: first, stopped: false, usage: {} });
    await click("Regenerate the answer");
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({ action: "regenerate", conversation: ID, request });
    expect(answers()).toEqual([]);
    expect(document.activeElement?.id).toBe("prompt"); // where Stop is, not lost
    await frame({ type: "started", request, conversation: HAIKU, user_seq: 0, answer_seq: 1 });
    await frame({ type: "delta", request, text: "Two" });
    await frame({ type: "done", request, stopped: false, usage: {} });
    expect(said()).toEqual(["Write a haiku"]);
    expect(answers()).toEqual(["Two"]);
  });

  it("Edit says later messages will be replaced, then sends the edit and truncates", async () => {
    await mount(fakeApi());
    const first = await streamNewChat("One");
    await frame({ type: "done", request: first, stopped: false, usage: {} });
    await click("Edit message");
    const area = root.querySelector<HTMLTextAreaElement>("#edit-message")!;
    expect(area.value).toBe("Write a haiku");
    expect(document.getElementById(area.getAttribute("aria-describedby")!)?.textContent).toBe(EDIT_NOTE);
    expect(EDIT_NOTE).toMatch(/later messages will be replaced/);
    await type("Write a limerick", area);
    await act(async () => {
      area.form!.requestSubmit();
    });
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({ action: "send", conversation: ID, edit: 0, content: "Write a limerick", request });
    expect(said()).toEqual(["Write a limerick"]);
    expect(answers()).toEqual([]);
    expect(hasButton("Edit message")).toBe(false); // not while streaming
  });

  it("Cancel leaves the message as it was", async () => {
    await mount(fakeApi());
    const first = await streamNewChat("One");
    await frame({ type: "done", request: first, stopped: false, usage: {} });
    const sent = ws().sent.length;
    await click("Edit message");
    await click("Cancel");
    expect(said()).toEqual(["Write a haiku"]);
    expect(ws().sent).toHaveLength(sent);
  });
});

describe("when things go wrong", () => {
  it("a dropped connection keeps the text, says it is retrying, and Retry asks again", async () => {
    await mount(fakeApi());
    await streamNewChat("Part");
    await drop();
    expect(answers()).toEqual(["Part"]);
    expect(root.textContent).toContain("The answer is incomplete.");
    expect(alertText()).toContain("The connection was lost");
    expect(root.querySelector(".connection")?.textContent).toContain("Connection lost — retrying in 1 s…");
    await click("Retry now");
    expect(sockets).toHaveLength(2);
    await accept();
    expect(root.querySelector(".connection")).toBeNull();
    await click("Retry");
    expect(lastSent()).toMatchObject({ action: "regenerate", conversation: ID });
    expect(answers()).toEqual([]); // the incomplete answer makes way for the new one
  });

  it("an error frame is shown in place of the answer, with Retry when it helps", async () => {
    await mount(fakeApi());
    await sendMessage("Hi");
    await accept();
    const request = lastSent().request as string;
    await frame({ type: "error", request, status: 429, error: "too many answers at once; wait for one to finish" });
    expect(alertText()).toContain("Too many answers at once; wait for one to finish.");
    await click("Retry");
    // Nothing was stored: the same message is sent again, shown once.
    expect(lastSent()).toMatchObject({ action: "send", conversation: null, content: "Hi" });
    expect(said()).toEqual(["Hi"]);
  });

  it("a 401 error frame sends the person to sign in again", async () => {
    await mount(fakeApi());
    await sendMessage("Hi");
    await accept();
    const request = lastSent().request as string;
    await frame({ type: "error", request, status: 401, error: "session ended; log in again" });
    await settle();
    expect(window.location.hash).toBe("#/login");
    expect(root.querySelector(".notice")?.textContent).toBe("Your session has ended. Please sign in again.");
  });
});

describe("conversations on the server", () => {
  const opened = HAIKU_OPENED;

  it("lists them, loads more, and opens one", async () => {
    const listConversations = vi.fn(async (_token: string, cursor?: string | null) =>
      cursor ? { conversations: [OLDER], next: null } : { conversations: [HAIKU], next: "page-2" },
    );
    const api = fakeApi({ listConversations, getConversation: vi.fn(async () => opened) });
    await mount(api);
    expect(sidebarTitles()).toEqual(["Write a haiku"]);
    await click("Load more");
    expect(listConversations).toHaveBeenLastCalledWith("alice-token", "page-2");
    expect(sidebarTitles()).toEqual(["Write a haiku", "Older"]);
    expect(hasButton("Load more")).toBe(false);

    await act(async () => {
      window.location.hash = `#/c/${ID}`;
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    await settle();
    expect(api.getConversation).toHaveBeenCalledWith("alice-token", ID);
    expect(said()).toEqual(["Write a haiku"]);
    expect(answers()).toEqual(["Functions wake"]);
    // Kept in this browser's cache, for the next visit.
    expect(JSON.parse(localStorage.getItem(cacheKey("alice"))!).opened[0]).toEqual(opened);
  });

  it("shows what other devices did when the tab is visible again", async () => {
    const listConversations = vi
      .fn<Api["listConversations"]>()
      .mockResolvedValueOnce({ conversations: [OLDER], next: null })
      .mockResolvedValue({ conversations: [HAIKU, OLDER], next: null });
    await mount(fakeApi({ listConversations }));
    expect(sidebarTitles()).toEqual(["Older"]);
    await act(async () => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await settle();
    expect(sidebarTitles()).toEqual(["Write a haiku", "Older"]);
  });

  it("says when a conversation is not there", async () => {
    window.location.hash = `#/c/${ID}`;
    await mount(fakeApi());
    expect(root.querySelector("h1")?.textContent).toBe("Conversation not found");
    expect(root.textContent).toContain("This conversation was not found.");
  });

  it("renames one from the sidebar", async () => {
    const api = fakeApi({ listConversations: vi.fn(async () => ({ conversations: [HAIKU, OLDER], next: null })) });
    await mount(api);
    await click("Rename “Write a haiku”");
    const input = root.querySelector<HTMLInputElement>("#rename-title")!;
    expect(input.value).toBe("Write a haiku");
    await act(async () => {
      input.value = "  Haiku about Lambda ";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await click("Save");
    expect(api.renameConversation).toHaveBeenCalledWith("alice-token", ID, "Haiku about Lambda");
    expect(sidebarTitles()).toEqual(["Haiku about Lambda", "Older"]); // its place stays
    expect(document.activeElement?.textContent).toBe("Haiku about Lambda");
  });

  it("shows why a rename was refused, keeping what was typed", async () => {
    const api = fakeApi({
      listConversations: vi.fn(async () => ({ conversations: [HAIKU], next: null })),
      renameConversation: vi.fn(async () => {
        throw new ApiError("invalid", "Title is over 200 characters.", 400);
      }),
    });
    await mount(api);
    await click("Rename “Write a haiku”");
    const input = root.querySelector<HTMLInputElement>("#rename-title")!;
    await act(async () => {
      input.value = "New";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await click("Save");
    expect(alertText()).toContain("Title is over 200 characters.");
    expect(root.querySelector<HTMLInputElement>("#rename-title")!.value).toBe("New");
  });

  it.each([
    ["deleted", async () => {}],
    ["already gone (404)", async () => Promise.reject(new ApiError("not-found", "Conversation not found.", 404))],
  ])("deletes one after asking: %s", async (_what, deleteConversation) => {
    const api = fakeApi({
      listConversations: vi.fn(async () => ({ conversations: [HAIKU, OLDER], next: null })),
      getConversation: vi.fn(async () => opened),
      deleteConversation: vi.fn(deleteConversation),
    });
    window.location.hash = `#/c/${ID}`;
    await mount(api);
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    await click("Delete “Write a haiku”");
    expect(api.deleteConversation).not.toHaveBeenCalled();
    await click("Delete “Write a haiku”");
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(api.deleteConversation).toHaveBeenCalledWith("alice-token", ID);
    expect(sidebarTitles()).toEqual(["Older"]);
    expect(window.location.hash).toBe("#/"); // it was open: a new chat instead
    expect(JSON.parse(localStorage.getItem(cacheKey("alice"))!).list).toEqual([OLDER]);
  });

  it("keeps one whose delete failed, and says so", async () => {
    const api = fakeApi({
      listConversations: vi.fn(async () => ({ conversations: [HAIKU], next: null })),
      deleteConversation: vi.fn(async () => Promise.reject(new ApiError("network", "Could not reach the server."))),
    });
    await mount(api);
    vi.spyOn(window, "confirm").mockReturnValue(true);
    await click("Delete “Write a haiku”");
    expect(sidebarTitles()).toEqual(["Write a haiku"]);
    expect(alertText()).toContain("Could not delete “Write a haiku”: Could not reach the server.");
  });
});

describe("older messages", () => {
  const OLDEST = HAIKU_OPENED; // the first page: nothing before it
  const NEWEST: OpenedConversation = {
    conversation: HAIKU,
    messages: [
      { seq: 2, role: "user", content: "Another" },
      { seq: 3, role: "assistant", content: "Cold starts fade" },
    ],
    earlier: "c/2",
  };

  /** The server: the newest page, or the one before `c/2`, each when `answer` says. */
  function pages(older: () => Promise<OpenedConversation> = async () => OLDEST) {
    return vi.fn<Api["getConversation"]>(async (_token, _id, options) =>
      options?.before === "c/2" ? older() : NEWEST,
    );
  }

  async function openPaged(getConversation: Api["getConversation"]) {
    window.location.hash = `#/c/${ID}`;
    await mount(fakeApi({ getConversation }));
  }

  /** The scroller as a browser lays it out: 400 px high, each message 500 px. */
  function layout() {
    const scroller = root.querySelector<HTMLDivElement>(".scroller")!;
    const height = () => 500 * scroller.querySelectorAll("article").length;
    let top = 0;
    Object.defineProperty(scroller, "scrollHeight", { configurable: true, get: height });
    Object.defineProperty(scroller, "clientHeight", { configurable: true, get: () => 400 });
    Object.defineProperty(scroller, "scrollTop", {
      configurable: true,
      get: () => top,
      set: (value: number) => {
        top = Math.max(0, Math.min(value, height() - 400));
      },
    });
    return scroller;
  }

  it("a button above the messages shows them, then goes when none older remain", async () => {
    let answer!: (page: OpenedConversation) => void;
    const getConversation = pages(() => new Promise((resolve) => (answer = resolve)));
    await openPaged(getConversation);
    expect(said()).toEqual(["Another"]);
    const more = button("Show earlier messages");
    expect(more.type).toBe("button");
    // Above the messages.
    const first = root.querySelector("article.msg-user")!;
    expect(more.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();

    await click("Show earlier messages");
    expect(getConversation).toHaveBeenLastCalledWith("alice-token", ID, { before: "c/2" });
    expect(button("Loading earlier messages…").disabled).toBe(true);
    expect(hasButton("Show earlier messages")).toBe(false);

    await act(async () => answer(OLDEST));
    await settle();
    expect(said()).toEqual(["Write a haiku", "Another"]);
    expect(answers()).toEqual(["Functions wake", "Cold starts fade"]);
    expect(hasButton("Show earlier messages")).toBe(false);
    expect(hasButton("Loading earlier messages…")).toBe(false);
    expect(root.querySelector("[aria-live=polite]")?.textContent).toBe("Earlier messages shown.");
    // Kept in the cache with the messages shown, and no cursor left.
    expect(JSON.parse(localStorage.getItem(cacheKey("alice"))!).opened[0]).toEqual({
      conversation: HAIKU,
      messages: [...OLDEST.messages, ...NEWEST.messages],
      earlier: null,
    });
  });

  it("keeps the older messages shown when the newest are read again and nothing changed", async () => {
    const getConversation = pages();
    await openPaged(getConversation);
    await click("Show earlier messages");
    expect(said()).toEqual(["Write a haiku", "Another"]);
    await act(async () => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await settle();
    expect(getConversation).toHaveBeenLastCalledWith("alice-token", ID);
    expect(said()).toEqual(["Write a haiku", "Another"]);
    expect(hasButton("Show earlier messages")).toBe(false);
  });

  it("has no button when the conversation has no older messages", async () => {
    await openPaged(vi.fn(async () => OLDEST));
    expect(said()).toEqual(["Write a haiku"]);
    expect(hasButton("Show earlier messages")).toBe(false);
  });

  it("keeps the reader where they were: the messages they read stay in view", async () => {
    let answer!: (page: OpenedConversation) => void;
    await openPaged(pages(() => new Promise((resolve) => (answer = resolve))));
    const scroller = layout();
    await act(async () => {
      scroller.scrollTop = 100; // scrolled up, near the button
      scroller.dispatchEvent(new Event("scroll"));
    });
    await click("Show earlier messages");
    await act(async () => answer(OLDEST));
    await settle();
    expect(said()).toEqual(["Write a haiku", "Another"]);
    // The older messages take 1,000 px above: the ones read are where they were, not at the
    // bottom (1,600).
    expect(scroller.scrollTop).toBe(1100);
  });

  it("a failure is said by the button, which tries again", async () => {
    const older = vi
      .fn<() => Promise<OpenedConversation>>()
      .mockRejectedValueOnce(new ApiError("network", "Could not reach the server."))
      .mockResolvedValue(OLDEST);
    const getConversation = pages(older);
    await openPaged(getConversation);
    await click("Show earlier messages");
    expect(alertText()).toContain("Could not show earlier messages. Could not reach the server.");
    expect(said()).toEqual(["Another"]);
    await click("Show earlier messages");
    expect(getConversation).toHaveBeenLastCalledWith("alice-token", ID, { before: "c/2" });
    expect(said()).toEqual(["Write a haiku", "Another"]);
    expect(alertText()).toBe("");
  });

  it("a cursor refused (400) opens the conversation again from its newest messages", async () => {
    const getConversation = pages(async () => {
      throw new ApiError("invalid", "'before' is not one this API gave; open the conversation again without it.", 400);
    });
    await openPaged(getConversation);
    const calls = getConversation.mock.calls.length;
    await click("Show earlier messages");
    expect(getConversation.mock.calls.slice(calls).map((call) => call[2])).toEqual([{ before: "c/2" }, undefined]);
    expect(said()).toEqual(["Another"]);
    expect(hasButton("Show earlier messages")).toBe(true);
    expect(alertText()).toBe("");
  });

  it("a session refused ends it, as elsewhere", async () => {
    await openPaged(
      pages(async () => {
        throw new ApiError("session", "Your session has ended. Please sign in again.", 401);
      }),
    );
    await click("Show earlier messages");
    expect(window.location.hash).toBe("#/login");
    expect(root.querySelector(".notice")?.textContent).toBe("Your session has ended. Please sign in again.");
  });
});

describe("the model picker", () => {
  const MODELS = ["gpt-4o-mini", "gpt-4.1"];
  const ON_41: ConversationSummary = { ...HAIKU, model: "gpt-4.1" };
  const opened = (conversation: ConversationSummary): OpenedConversation => ({
    conversation,
    messages: [
      { seq: 0, role: "user", content: "Write a haiku" },
      { seq: 1, role: "assistant", content: "Functions wake" },
    ],
    earlier: null,
  });

  function picker(): HTMLSelectElement | null {
    const label = [...root.querySelectorAll("label")].find((l) => l.textContent === "Model");
    return label ? root.querySelector<HTMLSelectElement>(`#${label.htmlFor}`) : null;
  }

  async function pick(model: string) {
    await act(async () => {
      picker()!.value = model;
      picker()!.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  async function openConversation(conversation: ConversationSummary) {
    const api = fakeApi({ getConversation: vi.fn(async () => opened(conversation)) });
    window.location.hash = `#/c/${conversation.id}`;
    await mount(api, MODELS);
  }

  it("is not there without models (an older deployment), and sends no model", async () => {
    await mount(fakeApi());
    expect(picker()).toBeNull();
    await sendMessage("Hi");
    await accept();
    expect(lastSent()).not.toHaveProperty("model");
  });

  it("is not there with one model", async () => {
    await mount(fakeApi(), ["gpt-4o-mini"]);
    expect(picker()).toBeNull();
    expect(root.querySelector("select")).toBeNull();
  });

  it("offers the models, the first by default, and a new chat asks the default", async () => {
    await mount(fakeApi(), MODELS);
    expect([...picker()!.options].map((o) => o.value)).toEqual(MODELS);
    expect(picker()!.value).toBe("gpt-4o-mini");
    await sendMessage("Write a haiku");
    await accept();
    expect(lastSent()).toMatchObject({ action: "send", conversation: null, model: "gpt-4o-mini" });
  });

  it("a new chat asks the model picked", async () => {
    await mount(fakeApi(), MODELS);
    await pick("gpt-4.1");
    await sendMessage("Write a haiku");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({ action: "send", conversation: null, content: "Write a haiku", model: "gpt-4.1", request });
    await frame({ type: "started", request, conversation: ON_41, user_seq: 0, answer_seq: 1 });
    expect(picker()!.value).toBe("gpt-4.1");
  });

  it("shows an opened conversation's model; another picked and sent switches it", async () => {
    await openConversation(ON_41);
    expect(picker()!.value).toBe("gpt-4.1");
    await pick("gpt-4o-mini");
    await sendMessage("Shorter");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({ action: "send", conversation: ID, content: "Shorter", model: "gpt-4o-mini", request });
    await frame({ type: "started", request, conversation: { ...ON_41, model: "gpt-4o-mini" }, user_seq: 2, answer_seq: 3 });
    expect(picker()!.value).toBe("gpt-4o-mini");
  });

  it("shows what `started` says: the server answered with the default instead", async () => {
    await openConversation(ON_41);
    await sendMessage("Again");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toMatchObject({ model: "gpt-4.1" });
    // config.json changed meanwhile: the server no longer offers gpt-4.1.
    await frame({ type: "started", request, conversation: HAIKU_ON("gpt-4o-mini"), user_seq: 2, answer_seq: 3 });
    expect(picker()!.value).toBe("gpt-4o-mini");
  });

  it("a model picked and sent, answered by the default instead, shows the default", async () => {
    await openConversation(HAIKU_ON("gpt-4o-mini"));
    await pick("gpt-4.1");
    await sendMessage("Again");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toMatchObject({ model: "gpt-4.1" });
    await frame({ type: "started", request, conversation: HAIKU_ON("gpt-4o-mini"), user_seq: 2, answer_seq: 3 });
    expect(picker()!.value).toBe("gpt-4o-mini");
  });

  it("a conversation's model no longer offered is shown as such; sending leaves it to the server", async () => {
    await openConversation(HAIKU_ON("gpt-3.5-turbo"));
    expect(picker()!.value).toBe("gpt-3.5-turbo");
    const shown = [...picker()!.options].find((o) => o.value === "gpt-3.5-turbo")!;
    expect(shown.textContent).toBe("gpt-3.5-turbo (no longer offered)");
    expect(shown.disabled).toBe(true);
    await sendMessage("Again");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).not.toHaveProperty("model");
    await frame({ type: "started", request, conversation: HAIKU_ON("gpt-4o-mini"), user_seq: 2, answer_seq: 3 });
    expect(picker()!.value).toBe("gpt-4o-mini");
    expect([...picker()!.options].map((o) => o.value)).toEqual(MODELS);
  });

  it("Regenerate asks the model picked", async () => {
    await openConversation(HAIKU_ON("gpt-4o-mini"));
    await pick("gpt-4.1");
    await click("Regenerate the answer");
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({ action: "regenerate", conversation: ID, model: "gpt-4.1", request });
  });

  it("an edit asks the model picked", async () => {
    await openConversation(ON_41);
    await pick("gpt-4o-mini");
    await click("Edit message");
    const area = root.querySelector<HTMLTextAreaElement>("#edit-message")!;
    await type("Write a limerick", area);
    await act(async () => {
      area.form!.requestSubmit();
    });
    await accept();
    const request = lastSent().request as string;
    expect(lastSent()).toEqual({
      action: "send",
      conversation: ID,
      edit: 0,
      content: "Write a limerick",
      model: "gpt-4o-mini",
      request,
    });
  });

  it("a pick belongs to its conversation: a new chat keeps its own", async () => {
    await openConversation(HAIKU_ON("gpt-4o-mini"));
    await pick("gpt-4.1");
    await click("New chat");
    expect(picker()!.value).toBe("gpt-4o-mini");
  });
});

function HAIKU_ON(model: string): ConversationSummary {
  return { ...HAIKU, model };
}

describe("message sizes", () => {
  it("refuses a message over 32 kB of UTF-8 before sending it, says so, and keeps the text", async () => {
    await mount(fakeApi());
    // 11,000 characters (under the 32,000-character limit), 33,000 bytes of UTF-8.
    const text = "€".repeat(11_000);
    await sendMessage(text);
    expect(sockets).toHaveLength(0); // nothing sent, no connection opened
    expect(alertText()).toMatch(/^This message is too long to send \(32\.\d kB of 32 kB\); shorten it\.$/);
    expect(root.querySelector<HTMLTextAreaElement>("#prompt")!.value).toBe(text);
    expect(said()).toEqual([]);
    // Shortened, it goes.
    await sendMessage("€".repeat(10_000));
    await accept();
    expect(lastSent()).toMatchObject({ action: "send", content: "€".repeat(10_000) });
    expect(alertText()).toBe("");
  });

  it("refuses an edit over 32 kB, keeping the edit open with its text", async () => {
    await mount(fakeApi());
    const first = await streamNewChat("One");
    await frame({ type: "done", request: first, stopped: false, usage: {} });
    const sent = ws().sent.length;
    await click("Edit message");
    const area = root.querySelector<HTMLTextAreaElement>("#edit-message")!;
    await type("😀".repeat(8_300), area);
    await act(async () => {
      area.form!.requestSubmit();
    });
    expect(ws().sent).toHaveLength(sent);
    expect(alertText()).toMatch(/This message is too long to send \(\d+\.\d kB of 32 kB\); shorten it\./);
    expect(root.querySelector<HTMLTextAreaElement>("#edit-message")!.value).toBe("😀".repeat(8_300));
  });

  it("a 1009 close says the last message was too large, not that the connection was lost", async () => {
    await mount(fakeApi());
    await sendMessage("Hi");
    await accept();
    await drop(1009);
    expect(alertText()).toContain(CLOSED_TOO_LARGE);
    expect(alertText()).not.toContain("The connection was lost");
    expect(root.querySelector(".connection")).toBeNull(); // no "connection lost — retrying"
    expect(hasButton("Retry")).toBe(false); // the same message would be refused again
    expect(root.querySelector<HTMLTextAreaElement>("#prompt")!.disabled).toBe(false);
  });
});
