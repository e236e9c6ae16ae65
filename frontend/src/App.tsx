import { useEffect, useRef, useState } from "preact/hooks";

import { type Api, ApiError, type Session } from "./api";
import { ChatPage } from "./ChatPage";
import type { RuntimeConfig } from "./config";
import { forgetConversations } from "./conversations";
import { LoginPage } from "./LoginPage";
import type { WebSocketLike } from "./socket";
import { formatRoute, parseRoute } from "./router";
import {
  SESSION_KEY,
  clearSession,
  loadSession,
  msUntilExpiry,
  type SigningOut,
  saveSession,
  storedSession,
} from "./session";

export const EXPIRED_NOTICE = "Your session has expired. Please sign in again.";
export const SIGNED_OUT_NOTICE = "You have signed out.";
export const SIGNED_OUT_EVERYWHERE_NOTICE = "You have signed out everywhere.";
export const SIGN_OUT_UNCONFIRMED_NOTICE =
  "You have signed out in this browser, but the server did not confirm it: " +
  "the session may stay valid there until it expires.";
export const EVERYWHERE_FAILED_NOTICE =
  "You have signed out in this browser, but your other sessions could not be ended. " +
  "Sign in and choose “Sign out everywhere” again.";
/** How long signing out waits for the server's answer before it goes ahead without it. */
export const LOGOUT_WAIT_MS = 8_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Props {
  config: RuntimeConfig;
  api: Api;
  storage: Storage;
  /** Opens the WebSocket that streams answers (tests give a fake). */
  connectSocket?: (url: string) => WebSocketLike;
}

export function App({ config, api, storage, connectSocket }: Props) {
  const [initial] = useState(() => loadSession(storage));
  const [session, setSession] = useState<Session | null>(
    initial.state === "valid" ? initial.session : null,
  );
  const [notice, setNotice] = useState<string | null>(
    initial.state === "expired" ? EXPIRED_NOTICE : null,
  );
  const [lastUsername, setLastUsername] = useState(
    initial.state === "expired" ? initial.username : "",
  );
  const [signingOut, setSigningOut] = useState<SigningOut | null>(null);
  const [hash, setHash] = useState(() => window.location.hash);
  // Where a person who had to sign in was going (a conversation's address).
  const returnTo = useRef<string | null>(null);
  const route = parseRoute(hash);
  const current = useRef(session);
  current.current = session;

  function navigate(next: string, replace = false) {
    if (replace) {
      window.history.replaceState(null, "", next);
    } else if (window.location.hash !== next) {
      window.location.hash = next;
    }
    setHash(next);
  }

  useEffect(() => {
    const onHashChange = () => setHash(window.location.hash);
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, []);

  // Signed out: every page but login leads to login. Signed in: login leads back.
  useEffect(() => {
    if (!session && route.page !== "login") {
      returnTo.current = hash && hash !== "#" ? hash : null;
      navigate(formatRoute({ page: "login" }), true);
    } else if (session && route.page === "login") {
      navigate(returnTo.current ?? formatRoute({ page: "chat", id: null }), true);
      returnTo.current = null;
    }
  }, [session, hash]);

  function endSession(message: string) {
    clearSession(storage);
    setLastUsername(session?.username ?? "");
    setSession(null);
    setNotice(message);
  }

  // The token is kept for its lifetime and no longer.
  useEffect(() => {
    if (!session) return;
    const timer = window.setTimeout(
      () => endSession(EXPIRED_NOTICE),
      Math.min(msUntilExpiry(session), MAX_TIMER_MS),
    );
    return () => window.clearTimeout(timer);
  }, [session]);

  // Signing in or out in another tab applies here too.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key !== SESSION_KEY && event.key !== null) return;
      const loaded = loadSession(storage);
      if (loaded.state === "valid") {
        setSession(loaded.session);
        setNotice(null);
      } else if (session) {
        setLastUsername(session.username);
        setSession(null);
        setNotice(loaded.state === "expired" ? EXPIRED_NOTICE : SIGNED_OUT_NOTICE);
      }
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [storage, session]);

  function onLogin(next: Session) {
    saveSession(storage, next);
    setNotice(null);
    setSession(next);
  }

  /** This browser forgets the user: the token, then its cache of their conversations
   * (unless that user signed in again meanwhile, e.g. in another tab). Other users' data
   * stays. */
  function forget(ended: Session) {
    if (storedSession(storage)?.token === ended.token) clearSession(storage);
    if (storedSession(storage)?.username !== ended.username) {
      forgetConversations(storage, ended.username);
    }
  }

  /** Sign out on the server (best effort: whatever it answers, and within LOGOUT_WAIT_MS),
   * then here. */
  async function signOut(everywhere: boolean) {
    const ending = session;
    if (!ending || signingOut) return;
    setSigningOut(everywhere ? "everywhere" : "this session");
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), LOGOUT_WAIT_MS);
    let message: string;
    try {
      const ended = await api.logout(ending.token, everywhere, { signal: controller.signal });
      message =
        ended === "everywhere"
          ? SIGNED_OUT_EVERYWHERE_NOTICE
          : everywhere
            ? EVERYWHERE_FAILED_NOTICE
            : SIGNED_OUT_NOTICE;
    } catch (err) {
      // A refused token (401/403) is no session to end; anything else left it valid.
      const refused = err instanceof ApiError && err.kind === "session";
      message = everywhere
        ? EVERYWHERE_FAILED_NOTICE
        : refused
          ? SIGNED_OUT_NOTICE
          : SIGN_OUT_UNCONFIRMED_NOTICE;
    } finally {
      window.clearTimeout(timer);
    }
    setSigningOut(null);
    forget(ending);
    // Still showing the session that was signed out (it may have expired meanwhile)?
    if (current.current && current.current.token !== ending.token) return;
    setLastUsername(ending.username);
    setSession(null);
    setNotice(message);
    returnTo.current = null;
    navigate(formatRoute({ page: "login" }));
  }

  if (!session) {
    return (
      <LoginPage
        key={notice ?? ""}
        api={api}
        stack={config.stack}
        notice={notice}
        initialUsername={lastUsername}
        onLogin={onLogin}
      />
    );
  }
  if (route.page === "login") return null; // redirecting back to the chat
  return (
    <ChatPage
      key={session.username}
      api={api}
      session={session}
      storage={storage}
      socketUrl={config.socketUrl}
      models={config.models}
      {...(connectSocket ? { connectSocket } : {})}
      conversationId={route.id}
      navigate={navigate}
      onSessionEnded={endSession}
      signingOut={signingOut}
      onSignOut={(everywhere) => void signOut(everywhere)}
    />
  );
}
