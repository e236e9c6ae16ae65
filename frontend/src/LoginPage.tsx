import { useEffect, useRef, useState } from "preact/hooks";

import { type Api, ApiError, type Session } from "./api";

interface Props {
  api: Api;
  stack: string;
  /** Why the person is here (session expired, signed out ...). */
  notice: string | null;
  initialUsername: string;
  onLogin: (session: Session) => void;
}

type FieldErrors = { username?: string; password?: string };

/** A lock of a minute or more (failed logins, 429) also says at what time it ends. */
const SAY_WHEN_FROM_S = 60;

/** What the person reads: the API's text, and for a lock that is not short, when it ends
 * (from `Retry-After`, when the browser lets the app read it). */
export function messageFor(error: ApiError, now: number = Date.now()): string {
  if (error.kind !== "rate-limit" || error.retryAfter === undefined) return error.message;
  if (error.retryAfter < SAY_WHEN_FROM_S) return error.message;
  // Rounded up to the minute, so that the time shown is never too early.
  const minute = 60_000;
  const end = Math.ceil((now + error.retryAfter * 1000) / minute) * minute;
  const at = new Date(end).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
  });
  return `${error.message} You can sign in again from ${at}.`;
}

export function LoginPage({ api, stack, notice, initialUsername, onLogin }: Props) {
  const [username, setUsername] = useState(initialUsername);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const usernameRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = "Sign in · Chatbot";
    (initialUsername ? passwordRef : usernameRef).current?.focus();
  }, [initialUsername]);

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    const errors: FieldErrors = {};
    if (username.trim() === "") errors.username = "Enter your username.";
    if (password === "") errors.password = "Enter your password.";
    setFieldErrors(errors);
    setError(null);
    if (errors.username || errors.password) {
      (errors.username ? usernameRef : passwordRef).current?.focus();
      return;
    }
    setBusy(true);
    try {
      onLogin(await api.login(username.trim(), password));
    } catch (err) {
      const message =
        err instanceof ApiError ? messageFor(err) : "Something went wrong. Try again.";
      setError(message);
      if (err instanceof ApiError && err.kind === "credentials") {
        setPassword("");
        passwordRef.current?.focus();
      }
      setBusy(false);
    }
  }

  return (
    <main class="login-page">
      <form class="login-card" onSubmit={submit} noValidate aria-busy={busy} aria-labelledby="login-title">
        <h1 id="login-title">Sign in</h1>
        <p class="login-sub">{stack ? `to chatbot “${stack}”` : "to your chatbot"}</p>
        {notice && !error && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <label for="username">Username</label>
        <input
          ref={usernameRef}
          id="username"
          name="username"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          maxLength={64}
          value={username}
          readOnly={busy}
          aria-invalid={fieldErrors.username ? true : undefined}
          aria-describedby={fieldErrors.username ? "username-error" : undefined}
          onInput={(e) => setUsername(e.currentTarget.value)}
        />
        {fieldErrors.username && (
          <p class="field-error" id="username-error">
            {fieldErrors.username}
          </p>
        )}
        <label for="password">Password</label>
        <input
          ref={passwordRef}
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          maxLength={1024}
          value={password}
          readOnly={busy}
          aria-invalid={fieldErrors.password ? true : undefined}
          aria-describedby={fieldErrors.password ? "password-error" : undefined}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {fieldErrors.password && (
          <p class="field-error" id="password-error">
            {fieldErrors.password}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy && <span class="spinner" aria-hidden="true" />}
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
