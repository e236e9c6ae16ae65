// The signed-in session: kept in localStorage until the token's expires_at, so a reload or a
// new tab stays signed in; dropped on logout, expiry, or when the API refuses the token.
import type { Session } from "./api";

export const SESSION_KEY = "chatbot-deploy:session";
/** Treat a token as expired a little early so a request never leaves with a dying token. */
export const EXPIRY_MARGIN_S = 30;

export function nowSeconds(): number {
  return Date.now() / 1000;
}

export function isExpired(session: Session, now: number = nowSeconds()): boolean {
  return session.expiresAt - EXPIRY_MARGIN_S <= now;
}

/** Milliseconds until the session should be treated as expired (0 if already). */
export function msUntilExpiry(session: Session, now: number = nowSeconds()): number {
  return Math.max(0, (session.expiresAt - EXPIRY_MARGIN_S - now) * 1000);
}

function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.token === "string" &&
    v.token !== "" &&
    typeof v.username === "string" &&
    typeof v.expiresAt === "number" &&
    Number.isFinite(v.expiresAt)
  );
}

/** Which sign-out is waiting for the server's answer. */
export type SigningOut = "this session" | "everywhere";

export type LoadedSession =
  | { state: "none" }
  | { state: "expired"; username: string }
  | { state: "valid"; session: Session };

export function loadSession(storage: Storage, now: number = nowSeconds()): LoadedSession {
  let parsed: unknown;
  try {
    parsed = JSON.parse(storage.getItem(SESSION_KEY) ?? "null");
  } catch {
    parsed = null;
  }
  if (!isSession(parsed)) {
    storage.removeItem(SESSION_KEY);
    return { state: "none" };
  }
  if (isExpired(parsed, now)) {
    storage.removeItem(SESSION_KEY);
    return { state: "expired", username: parsed.username };
  }
  return { state: "valid", session: parsed };
}

export function saveSession(storage: Storage, session: Session): void {
  storage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession(storage: Storage): void {
  storage.removeItem(SESSION_KEY);
}

/** The session kept in storage now (null for none), without dropping anything: a page still
 * open after its user signed out (here or in another tab) must not write their data back. */
export function storedSession(storage: Storage): Session | null {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(SESSION_KEY) ?? "null");
    return isSession(parsed) ? parsed : null;
  } catch {
    return null;
  }
}
