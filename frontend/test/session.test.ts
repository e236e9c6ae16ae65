import { beforeEach, describe, expect, it } from "vitest";

import {
  EXPIRY_MARGIN_S,
  SESSION_KEY,
  clearSession,
  isExpired,
  loadSession,
  msUntilExpiry,
  saveSession,
} from "../src/session";

const session = { token: "t", username: "alice", expiresAt: 10_000 };

describe("session", () => {
  beforeEach(() => localStorage.clear());

  it("is valid until shortly before expires_at", () => {
    expect(isExpired(session, 10_000 - EXPIRY_MARGIN_S - 1)).toBe(false);
    expect(isExpired(session, 10_000 - EXPIRY_MARGIN_S)).toBe(true);
    expect(msUntilExpiry(session, 10_000 - EXPIRY_MARGIN_S - 2)).toBe(2000);
    expect(msUntilExpiry(session, 20_000)).toBe(0);
  });

  it("is kept in storage and read back", () => {
    saveSession(localStorage, session);
    expect(loadSession(localStorage, 5_000)).toEqual({ state: "valid", session });
    clearSession(localStorage);
    expect(loadSession(localStorage, 5_000)).toEqual({ state: "none" });
  });

  it("is dropped when expired, remembering who it was", () => {
    saveSession(localStorage, session);
    expect(loadSession(localStorage, 10_000)).toEqual({ state: "expired", username: "alice" });
    expect(localStorage.getItem(SESSION_KEY)).toBeNull();
  });

  it("is dropped when malformed", () => {
    localStorage.setItem(SESSION_KEY, '{"token": 5}');
    expect(loadSession(localStorage, 0)).toEqual({ state: "none" });
    localStorage.setItem(SESSION_KEY, "nope");
    expect(loadSession(localStorage, 0)).toEqual({ state: "none" });
    expect(localStorage.getItem(SESSION_KEY)).toBeNull();
  });
});
