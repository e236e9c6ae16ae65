// Signing out (App + ChatPage + Sidebar in jsdom, with a fake API): the server is told, and
// whatever it answers this browser forgets the user's token and conversations, not others'.
import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { type Api, ApiError, type ConversationPage, type SignedOut } from "../src/api";
import {
  App,
  EVERYWHERE_FAILED_NOTICE,
  LOGOUT_WAIT_MS,
  SIGNED_OUT_EVERYWHERE_NOTICE,
  SIGNED_OUT_NOTICE,
  SIGN_OUT_UNCONFIRMED_NOTICE,
} from "../src/App";
import { cacheKey } from "../src/conversations";
import { LoginPage, messageFor } from "../src/LoginPage";
import { SESSION_KEY } from "../src/session";

const ALICE = { token: "alice-token", username: "alice", expiresAt: Date.now() / 1000 + 3600 };
const CONVERSATION = { id: "c1", title: "hello", model: "m", created_at: 1, updated_at: 1 };
const PAGE: ConversationPage = { conversations: [CONVERSATION], next: null };

let root: HTMLDivElement;

beforeEach(() => {
  localStorage.clear();
  localStorage.setItem(SESSION_KEY, JSON.stringify(ALICE));
  localStorage.setItem(cacheKey("alice"), JSON.stringify({ list: [CONVERSATION], opened: [] }));
  localStorage.setItem(cacheKey("bob"), JSON.stringify({ list: [{ ...CONVERSATION, id: "c2" }], opened: [] }));
  window.location.hash = "#/";
  // jsdom has no matchMedia (ChatPage watches the screen width).
  window.matchMedia = vi.fn(() => ({
    matches: false,
    addEventListener: () => {},
    removeEventListener: () => {},
  })) as unknown as typeof window.matchMedia;
  root = document.createElement("div");
  document.body.append(root);
});

afterEach(() => {
  act(() => render(null, root));
  root.remove();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function fakeApi(logout: Api["logout"]): Api {
  return {
    login: vi.fn(async () => ALICE),
    logout: vi.fn(logout),
    listConversations: vi.fn(async () => PAGE),
    getConversation: vi.fn(async () => ({ conversation: CONVERSATION, messages: [], earlier: null })),
    renameConversation: vi.fn(async () => CONVERSATION),
    deleteConversation: vi.fn(async () => {}),
  };
}

function mount(api: Api) {
  act(() => {
    render(<App config={{ apiUrl: "http://api", socketUrl: null, models: [], stack: "test" }} api={api} storage={localStorage} />, root);
  });
}

function button(name: string): HTMLButtonElement {
  const found = [...root.querySelectorAll("button")].find((b) => b.textContent?.trim() === name);
  if (!found) throw new Error(`no button named ${name}`);
  return found;
}

async function click(name: string) {
  await act(async () => {
    button(name).click();
  });
}

/** Let the fake API's answer and the re-renders after it happen. */
async function settle() {
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
}

function notice(): string | undefined {
  return root.querySelector(".notice")?.textContent ?? undefined;
}

function signedOutLocally() {
  expect(localStorage.getItem(SESSION_KEY)).toBeNull();
  expect(localStorage.getItem(cacheKey("alice"))).toBeNull();
  // Another user's cached conversations in this browser stay.
  expect(JSON.parse(localStorage.getItem(cacheKey("bob"))!).list).toHaveLength(1);
  expect(root.querySelector("#username")).not.toBeNull();
  expect(window.location.hash).toBe("#/login");
}

describe("sign out", () => {
  it("offers both sign-outs, each with a name and a note on what it removes", () => {
    mount(fakeApi(async () => "this session"));
    for (const name of ["Sign out", "Sign out everywhere"]) {
      const note = document.getElementById(button(name).getAttribute("aria-describedby")!);
      expect(note?.textContent).toMatch(/removes your conversations from this browser/);
    }
  });

  it("ends this session on the server, then forgets the user here", async () => {
    const api = fakeApi(async () => "this session");
    mount(api);
    expect(root.textContent).toContain("hello");
    await click("Sign out");
    await settle();
    expect(api.logout).toHaveBeenCalledWith("alice-token", false, expect.anything());
    signedOutLocally();
    expect(notice()).toBe(SIGNED_OUT_NOTICE);
    expect((root.querySelector("#username") as HTMLInputElement).value).toBe("alice");
  });

  it("shows that it is waiting, and cannot be sent twice", async () => {
    let answer: (value: SignedOut) => void = () => {};
    const api = fakeApi(() => new Promise<SignedOut>((resolve) => (answer = resolve)));
    mount(api);
    await click("Sign out");
    expect(button("Signing out…").disabled).toBe(true);
    expect(button("Sign out everywhere").disabled).toBe(true);
    button("Signing out…").click();
    expect(api.logout).toHaveBeenCalledTimes(1);
    expect(localStorage.getItem(SESSION_KEY)).not.toBeNull();
    answer("this session");
    await settle();
    signedOutLocally();
  });

  it.each([
    ["the network fails", new ApiError("network", "Could not reach the server."), SIGN_OUT_UNCONFIRMED_NOTICE],
    ["the server fails", new ApiError("server", "The server had a problem (HTTP 500).", 500), SIGN_OUT_UNCONFIRMED_NOTICE],
    ["the token was already refused", new ApiError("session", "Your session has ended.", 403), SIGNED_OUT_NOTICE],
  ])("still signs out here when %s", async (_when, error, expected) => {
    mount(fakeApi(async () => Promise.reject(error)));
    await click("Sign out");
    await settle();
    signedOutLocally();
    expect(notice()).toBe(expected);
  });

  it("does not wait for a server that does not answer", async () => {
    vi.useFakeTimers();
    const api = fakeApi(
      (_token, _everywhere, options) =>
        new Promise<SignedOut>((_resolve, reject) =>
          options?.signal?.addEventListener("abort", () => reject(new ApiError("aborted", "Cancelled."))),
        ),
    );
    mount(api);
    await click("Sign out");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(LOGOUT_WAIT_MS - 100);
    });
    expect(localStorage.getItem(SESSION_KEY)).not.toBeNull();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    signedOutLocally();
    expect(notice()).toBe(SIGN_OUT_UNCONFIRMED_NOTICE);
  });

  it("signs out everywhere after asking, and says so", async () => {
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    const api = fakeApi(async () => "everywhere");
    mount(api);
    await click("Sign out everywhere");
    await settle();
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining("everywhere"));
    expect(api.logout).toHaveBeenCalledWith("alice-token", true, expect.anything());
    signedOutLocally();
    expect(notice()).toBe(SIGNED_OUT_EVERYWHERE_NOTICE);
  });

  it("does nothing when signing out everywhere is not confirmed", async () => {
    vi.spyOn(window, "confirm").mockReturnValue(false);
    const api = fakeApi(async () => "everywhere");
    mount(api);
    await click("Sign out everywhere");
    await settle();
    expect(api.logout).not.toHaveBeenCalled();
    expect(localStorage.getItem(SESSION_KEY)).not.toBeNull();
    expect(localStorage.getItem(cacheKey("alice"))).not.toBeNull();
  });

  it.each([
    ["fails", async () => Promise.reject(new ApiError("network", "Could not reach the server."))],
    ["ends only this session", async (): Promise<SignedOut> => "this session"],
  ])("says so when signing out everywhere %s, and signs out here", async (_what, logout) => {
    vi.spyOn(window, "confirm").mockReturnValue(true);
    mount(fakeApi(logout));
    await click("Sign out everywhere");
    await settle();
    signedOutLocally();
    expect(notice()).toBe(EVERYWHERE_FAILED_NOTICE);
  });

  it("does not write the conversations back when the list comes in after sign-out", async () => {
    let answerList: () => void = () => {};
    const api = fakeApi(async () => "this session");
    api.listConversations = vi.fn(
      () =>
        new Promise<ConversationPage>((resolve) => {
          answerList = () => resolve(PAGE);
        }),
    );
    mount(api);
    expect(api.listConversations).toHaveBeenCalledTimes(1);
    await click("Sign out");
    await settle();
    signedOutLocally();
    answerList();
    await settle();
    expect(localStorage.getItem(cacheKey("alice"))).toBeNull();
  });
});

describe("login refused for too many failed logins", () => {
  const text = "Too many failed logins for this username; try again in 8 s.";

  it("shows the server's text, and for a long lock the time it ends", () => {
    const now = new Date(2026, 0, 1, 14, 5, 10).getTime();
    expect(messageFor(new ApiError("rate-limit", text, 429, 8), now)).toBe(text);
    expect(messageFor(new ApiError("rate-limit", text, 429), now)).toBe(text);
    const long = messageFor(new ApiError("rate-limit", "Locked; try again in 900 s.", 429, 900), now);
    const at = new Date(2026, 0, 1, 14, 21).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    expect(long).toBe(`Locked; try again in 900 s. You can sign in again from ${at}.`);
  });

  it("says it on the login page as an alert, keeping the password", async () => {
    const api = fakeApi(async () => "this session");
    api.login = vi.fn(async () => Promise.reject(new ApiError("rate-limit", text, 429, 8)));
    act(() => {
      render(
        <LoginPage api={api} stack="test" notice={null} initialUsername="alice" onLogin={() => {}} />,
        root,
      );
    });
    const password = root.querySelector<HTMLInputElement>("#password")!;
    await act(async () => {
      password.value = "guess";
      password.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => {
      root.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    });
    await settle();
    expect(root.querySelector('[role="alert"]')?.textContent).toBe(text);
    expect(password.value).toBe("guess");
  });
});
