// The one module that talks to the HTTP API (docs/api.md). Everything else sees typed results
// and ApiError. Answers are streamed over the WebSocket API (socket.ts), which words its
// error frames with `errorFor` below, as the HTTP tables do.

export type Role = "user" | "assistant" | "system";

export interface Session {
  token: string;
  username: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** A conversation kept on the server, as `GET /conversations` lists it (times in epoch ms). */
export interface ConversationSummary {
  id: string;
  title: string;
  model: string;
  created_at: number;
  updated_at: number;
}

/** A stored message of a conversation (`GET /conversations/{id}`), oldest first. */
export interface StoredMessage {
  seq: number;
  role: Role;
  content: string;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  /** The cursor of the next page, null on the last. */
  next: string | null;
}

/** A conversation opened: its newest messages (as many as fit in about 1 MB of JSON), or
 * those before a cursor. */
export interface OpenedConversation {
  conversation: ConversationSummary;
  messages: StoredMessage[];
  /** The cursor of the messages before these (`before` reads them), null when there are
   * none. */
  earlier: string | null;
}

/**
 * What went wrong, by what the person can do about it:
 * - `credentials`: wrong username or password (login 401)
 * - `session`: the token is missing, expired or refused (chat/logout 401/403): sign in again
 * - `rate-limit`: too many requests (429: the model provider is throttling, or a username's
 *   failed logins locked it for a while): wait and retry
 * - `upstream`: the model provider failed or timed out (502/503/504)
 * - `invalid`: the request was refused as malformed, too large or in conflict with what is
 *   stored (400/409/411/413/414/421/431)
 * - `not-found`: no such conversation of this user (404)
 * - `server`: anything else from the server (500, unexpected statuses or bodies)
 * - `network`: no answer at all (offline, DNS, CORS, connection reset)
 * - `timeout`: no answer within the client's own deadline
 * - `aborted`: the person cancelled
 */
export type ApiErrorKind =
  | "credentials"
  | "session"
  | "rate-limit"
  | "upstream"
  | "invalid"
  | "not-found"
  | "server"
  | "network"
  | "timeout"
  | "aborted";

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | undefined;
  /** Seconds to wait before trying again, from a `Retry-After` header the app could read
   * (a cross-origin API only shows it when its CORS configuration exposes it). */
  readonly retryAfter: number | undefined;

  constructor(kind: ApiErrorKind, message: string, status?: number, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** Worth offering a retry button for. */
  get retryable(): boolean {
    return !["credentials", "session", "invalid", "not-found"].includes(this.kind);
  }
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface OpenOptions extends RequestOptions {
  /** An `earlier` cursor the API gave: the messages just before those it followed. */
  before?: string;
}

/** What `POST /logout` ended. */
export type SignedOut = "this session" | "everywhere";

export interface Api {
  login(username: string, password: string, options?: RequestOptions): Promise<Session>;
  /** One page of the user's conversations, newest activity first. */
  listConversations(
    token: string,
    cursor?: string | null,
    options?: RequestOptions,
  ): Promise<ConversationPage>;
  /** A conversation and its newest messages, or with `before` the messages before those. */
  getConversation(token: string, id: string, options?: OpenOptions): Promise<OpenedConversation>;
  renameConversation(
    token: string,
    id: string,
    title: string,
    options?: RequestOptions,
  ): Promise<ConversationSummary>;
  deleteConversation(token: string, id: string, options?: RequestOptions): Promise<void>;
  /** End this session on the server (its token is refused from now on), or with
   * `everywhere` every session of the user. */
  logout(token: string, everywhere: boolean, options?: RequestOptions): Promise<SignedOut>;
}

/** API Gateway ends a request after 30 s; give up a little later than that. */
export const CLIENT_TIMEOUT_MS = 35_000;

type Fetch = typeof fetch;

export function createApi(
  apiUrl: string,
  fetchImpl: Fetch = (...args) => fetch(...args),
  timeoutMs = CLIENT_TIMEOUT_MS,
): Api {
  const base = apiUrl.replace(/\/+$/, "");

  type Method = "GET" | "POST" | "PATCH" | "DELETE";

  /** `body` undefined sends an empty body (GET, DELETE, POST /logout's "this session"). */
  async function send(
    method: Method,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    options?: RequestOptions,
  ) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const outer = options?.signal;
    const onAbort = () => controller.abort();
    if (outer?.aborted) controller.abort();
    outer?.addEventListener("abort", onAbort);
    try {
      const response = await fetchImpl(`${base}${path}`, {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
      const text = await response.text();
      return {
        status: response.status,
        body: parseJson(text),
        retryAfter: parseRetryAfter(response.headers.get("retry-after")),
      };
    } catch (error) {
      if (timedOut) {
        throw new ApiError("timeout", "The server did not answer in time. Try again.");
      }
      if (controller.signal.aborted) throw new ApiError("aborted", "Cancelled.");
      throw new ApiError(
        "network",
        "Could not reach the server. Check your connection and try again.",
      );
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    }
  }

  return {
    async login(username, password, options) {
      const { status, body, retryAfter } = await send(
        "POST",
        "/login",
        { username, password },
        {},
        options,
      );
      if (status === 200 && isLoginBody(body)) {
        return { token: body.token, username: body.username, expiresAt: body.expires_at };
      }
      if (status === 401) {
        throw new ApiError("credentials", "Wrong username or password.", status);
      }
      throw errorFor(status, body, retryAfter);
    },

    async logout(token, everywhere, options) {
      const { status, body, retryAfter } = await send(
        "POST",
        "/logout",
        everywhere ? { everywhere: true } : undefined,
        { authorization: `Bearer ${token}` },
        options,
      );
      if (status === 200 && isLogoutBody(body)) return body.signed_out;
      throw errorFor(status, body, retryAfter);
    },

    async listConversations(token, cursor, options) {
      const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
      const { status, body, retryAfter } = await send(
        "GET",
        `/conversations${query}`,
        undefined,
        bearer(token),
        options,
      );
      if (status === 200 && isObject(body) && Array.isArray(body.conversations)) {
        const next = typeof body.next === "string" && body.next !== "" ? body.next : null;
        return { conversations: body.conversations.filter(isSummary), next };
      }
      throw errorFor(status, body, retryAfter);
    },

    async getConversation(token, id, options) {
      const query = options?.before ? `?before=${encodeURIComponent(options.before)}` : "";
      const { status, body, retryAfter } = await send(
        "GET",
        `${conversationPath(id)}${query}`,
        undefined,
        bearer(token),
        options,
      );
      if (
        status === 200 &&
        isObject(body) &&
        isSummary(body.conversation) &&
        Array.isArray(body.messages) &&
        body.messages.every(isStoredMessage) &&
        isEarlier(body.earlier)
      ) {
        return { conversation: body.conversation, messages: body.messages, earlier: body.earlier };
      }
      throw errorFor(status, body, retryAfter);
    },

    async renameConversation(token, id, title, options) {
      const { status, body, retryAfter } = await send(
        "PATCH",
        conversationPath(id),
        { title },
        bearer(token),
        options,
      );
      if (status === 200 && isObject(body) && isSummary(body.conversation)) {
        return body.conversation;
      }
      throw errorFor(status, body, retryAfter);
    },

    async deleteConversation(token, id, options) {
      const { status, body, retryAfter } = await send(
        "DELETE",
        conversationPath(id),
        undefined,
        bearer(token),
        options,
      );
      if (status === 200 && isObject(body) && typeof body.deleted === "string") return;
      throw errorFor(status, body, retryAfter);
    },
  };
}

/** `Retry-After`: delay-seconds or an HTTP date (RFC 9110); undefined when absent or odd. */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^[A-Za-z]{3}/.test(text)) return undefined; // dates start with the day's name
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isLoginBody(
  body: unknown,
): body is { token: string; username: string; expires_at: number } {
  return (
    isObject(body) &&
    typeof body.token === "string" &&
    body.token !== "" &&
    typeof body.username === "string" &&
    typeof body.expires_at === "number" &&
    Number.isFinite(body.expires_at)
  );
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function conversationPath(id: string): string {
  return `/conversations/${encodeURIComponent(id)}`;
}

export function isSummary(value: unknown): value is ConversationSummary {
  return (
    isObject(value) &&
    typeof value.id === "string" &&
    value.id !== "" &&
    typeof value.title === "string" &&
    typeof value.model === "string" &&
    typeof value.created_at === "number" &&
    typeof value.updated_at === "number"
  );
}

function isStoredMessage(value: unknown): value is StoredMessage {
  return (
    isObject(value) &&
    typeof value.seq === "number" &&
    Number.isInteger(value.seq) &&
    (value.role === "user" || value.role === "assistant" || value.role === "system") &&
    typeof value.content === "string"
  );
}

/** A cursor of older messages, or null. Missing, or empty (it could not be sent back), it is
 * not an answer of this API: whether older messages remain would be a guess. */
function isEarlier(value: unknown): value is string | null {
  return value === null || (typeof value === "string" && value !== "");
}

function isLogoutBody(body: unknown): body is { signed_out: SignedOut } {
  return isObject(body) && (body.signed_out === "this session" || body.signed_out === "everywhere");
}

/** Our handlers' `{"error": ...}` text is safe to show; API Gateway's `{"message"}` is not
 * meant for people, so statuses decide and the text is ours. */
function handlerText(body: unknown): string | undefined {
  if (isObject(body) && typeof body.error === "string" && body.error.trim() !== "") {
    const text = body.error.trim();
    return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
  }
  return undefined;
}

/** Refused as a request (malformed, too large, sent to a host the server does not answer for,
 * in conflict with what is stored; docs/api.md): the same request again would be refused
 * again. */
const REFUSED = new Set([400, 409, 411, 413, 414, 421, 431]);

export function errorFor(status: number, body: unknown, retryAfter?: number): ApiError {
  const text = handlerText(body);
  switch (true) {
    case status === 401 || status === 403:
      return new ApiError("session", "Your session has ended. Please sign in again.", status);
    case status === 429:
      return new ApiError(
        "rate-limit",
        text ?? "Too many requests right now. Wait a moment and try again.",
        status,
        retryAfter,
      );
    case REFUSED.has(status):
      return new ApiError("invalid", text ?? `The request was refused (HTTP ${status}).`, status);
    case status === 404 && text !== undefined:
      // Our handlers' 404 is a conversation that is not there (API Gateway's own 404, no
      // route, is a fault of this app: "server" below).
      return new ApiError("not-found", text, status);
    case status === 502 || status === 503 || status === 504:
      return new ApiError(
        "upstream",
        text ?? "The model provider did not answer. Try again.",
        status,
      );
    case status === 200:
      return new ApiError("server", "The server sent an answer this app does not understand.", status);
    default:
      return new ApiError(
        "server",
        text && status !== 500 ? text : `The server had a problem (HTTP ${status}). Try again.`,
        status,
      );
  }
}
