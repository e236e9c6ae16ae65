// The WebSocket client that streams answers (docs/api.md, "WebSocket: streamed answers").
// One connection per signed-in page, opened when first needed with the token in the query
// string. Each request gets its own id and handlers; frames are routed to them by that id.
// A connection that drops is opened again with backoff (1 s, 2 s, 4 s … at most 30 s) while
// something waits for it, and the page is told so it can say "connection lost — retrying".
import { ApiError, type ConversationSummary, errorFor, isObject, isSummary } from "./api";
import { CLOSED_TOO_LARGE, MAX_FRAME_BYTES, MESSAGE_TOO_BIG, tooLargeToSend, utf8Bytes } from "./size";

/** What the page asks for; the client adds the `request` id. `model`: one of config.json's
 * models (absent: the conversation's own, or the default for a new one). */
export type Ask =
  | { action: "send"; conversation: string | null; content: string; edit?: number; model?: string }
  | { action: "regenerate"; conversation: string; model?: string };

export type ClientMessage = (Ask & { request: string }) | { action: "stop"; request: string };

export interface StartedFrame {
  type: "started";
  request: string;
  conversation: ConversationSummary;
  user_seq: number;
  answer_seq: number;
}

export interface DeltaFrame {
  type: "delta";
  request: string;
  text: string;
}

export interface DoneFrame {
  type: "done";
  request: string;
  stopped: boolean;
  usage: Record<string, unknown>;
}

export interface ErrorFrame {
  type: "error";
  request: string | null;
  status: number;
  error: string;
}

export type ServerFrame = StartedFrame | DeltaFrame | DoneFrame | ErrorFrame;

/** What a request's frames become. Exactly one of `done` and `failed` ends it. */
export interface StreamHandlers {
  started(frame: StartedFrame): void;
  delta(text: string): void;
  done(frame: DoneFrame): void;
  failed(error: ApiError): void;
}

export type ConnectionState =
  | { state: "idle" } // no connection, none needed
  | { state: "connecting" }
  | { state: "open" }
  | { state: "retrying"; attempt: number; delayMs: number }; // dropped; opens again after delayMs

/** The part of the browser's WebSocket this client uses (tests give a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
}

const OPEN = 1;
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 30_000;

/** The wait before reconnect attempt `attempt` (0 first): 1 s, 2 s, 4 s … at most 30 s. */
export function retryDelay(attempt: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.min(attempt, 15), MAX_RETRY_MS);
}

export const CONNECTION_LOST =
  "The connection was lost before the answer was complete. Try again.";
export const NOT_CONFIGURED =
  "This deployment does not stream answers (its config.json has no socketUrl). " +
  "Deploy it again with this version of chatbot-deploy.";

export interface SocketOptions {
  /** `socketUrl` from config.json (null: this deployment has none). */
  url: string | null;
  token: string;
  connect?: (url: string) => WebSocketLike;
  onState?: (state: ConnectionState) => void;
  /** A connection refused before it opened (the browser cannot see the handshake's status):
   * ask the HTTP API whether the token is still good; a `session` error ends the retries. */
  checkSession?: () => Promise<ApiError | null>;
  /** The token was refused (a refused handshake, or an error frame without a request). */
  onSessionEnded?: (error: ApiError) => void;
}

interface Pending {
  message: Ask & { request: string };
  handlers: StreamHandlers;
  sent: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A frame of ours, or null for anything else (API Gateway's own `{"message": ...}` frames,
 * text that is not JSON, frames of a shape this app does not know). */
export function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(value)) return null;
  const { type, request } = value;
  if (type === "error") {
    if (typeof value.status !== "number" || typeof value.error !== "string") return null;
    if (request !== null && typeof request !== "string") return null;
    return { type, request, status: value.status, error: value.error };
  }
  if (typeof request !== "string") return null;
  switch (type) {
    case "started":
      if (
        !isSummary(value.conversation) ||
        !Number.isInteger(value.user_seq) ||
        !Number.isInteger(value.answer_seq)
      ) {
        return null;
      }
      return {
        type,
        request,
        conversation: value.conversation,
        user_seq: value.user_seq as number,
        answer_seq: value.answer_seq as number,
      };
    case "delta":
      return typeof value.text === "string" ? { type, request, text: value.text } : null;
    case "done":
      return {
        type,
        request,
        stopped: value.stopped === true,
        usage: isObject(value.usage) ? value.usage : {},
      };
    default:
      return null;
  }
}

function randomPrefix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class StreamSocket {
  private readonly options: SocketOptions;
  private ws: WebSocketLike | null = null;
  private opened = false;
  private readonly pending = new Map<string, Pending>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private counter = 0;
  private readonly prefix = randomPrefix();
  private current: ConnectionState = { state: "idle" };
  /** The request whose message was sent last (a 1009 close is about it). */
  private lastSent: string | null = null;

  constructor(options: SocketOptions) {
    this.options = options;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The size in bytes (UTF-8) of the message `ask` would be sent as now: over
   * MAX_FRAME_BYTES, `ask` refuses it. */
  measure(ask: Ask): number {
    return utf8Bytes(JSON.stringify({ ...ask, request: `${this.prefix}-${this.counter + 1}` }));
  }

  /** Send `ask` (now, or once connected) and route its frames to `handlers`; returns its
   * request id. A message over API Gateway's frame limit is not sent: it fails as `invalid`
   * (the page checks `measure` first, to keep the person's text). */
  ask(ask: Ask, handlers: StreamHandlers): string {
    const request = `${this.prefix}-${++this.counter}`;
    const bytes = utf8Bytes(JSON.stringify({ ...ask, request }));
    if (this.closed || this.options.url === null || bytes > MAX_FRAME_BYTES) {
      const error = this.closed
        ? new ApiError("aborted", "Cancelled.")
        : this.options.url === null
          ? new ApiError("server", NOT_CONFIGURED)
          : new ApiError("invalid", tooLargeToSend(bytes));
      queueMicrotask(() => handlers.failed(error));
      return request;
    }
    this.pending.set(request, { message: { ...ask, request }, handlers, sent: false });
    if (this.ws && this.opened) this.flush();
    else if (!this.ws && this.timer === undefined) this.connect();
    return request;
  }

  /** Stop an answer: the server keeps the text so far and ends it with `done` (stopped). A
   * request not yet sent is dropped here and fails as `aborted`. */
  stop(request: string): void {
    const entry = this.pending.get(request);
    if (!entry) return;
    if (!entry.sent) {
      this.pending.delete(request);
      entry.handlers.failed(new ApiError("aborted", "Stopped before it was sent."));
      return;
    }
    this.transmit({ action: "stop", request });
  }

  /** Is this request still waiting for frames? */
  has(request: string): boolean {
    return this.pending.has(request);
  }

  /** Reconnect now instead of waiting for the backoff. */
  retryNow(): void {
    if (this.closed || this.ws || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.connect();
  }

  /** The page is going away: close, and forget every request without calling them back. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onerror = ws.onmessage = null;
      ws.close(1000, "page closed");
    }
    this.setState({ state: "idle" });
  }

  private setState(state: ConnectionState) {
    this.current = state;
    this.options.onState?.(state);
  }

  private connect() {
    const url = new URL(this.options.url!);
    url.searchParams.set("token", this.options.token);
    const connect = this.options.connect ?? ((to: string) => new WebSocket(to));
    let ws: WebSocketLike;
    try {
      ws = connect(url.toString());
    } catch {
      this.dropped(false);
      return;
    }
    this.ws = ws;
    this.opened = false;
    this.setState({ state: "connecting" });
    ws.onopen = () => {
      this.opened = true;
      this.attempt = 0;
      this.setState({ state: "open" });
      this.flush();
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.dropped(this.opened, event.code);
    };
    ws.onerror = () => {}; // a close event follows
  }

  private flush() {
    for (const [request, entry] of this.pending) {
      if (!entry.sent && this.transmit(entry.message)) {
        entry.sent = true;
        this.lastSent = request;
      }
    }
  }

  private transmit(message: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || !this.opened || ws.readyState !== OPEN) return false;
    try {
      ws.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  private receive(data: unknown) {
    const frame = parseFrame(data);
    if (!frame) return; // not ours: API Gateway's own frames are ignored
    if (frame.request === null || !REQUEST_ID.test(frame.request)) {
      if (frame.type === "error") {
        const error = errorFor(frame.status, { error: frame.error });
        if (error.kind === "session") this.options.onSessionEnded?.(error);
      }
      return;
    }
    const entry = this.pending.get(frame.request);
    if (!entry) return; // an answer this page no longer waits for
    switch (frame.type) {
      case "started":
        entry.handlers.started(frame);
        break;
      case "delta":
        entry.handlers.delta(frame.text);
        break;
      case "done":
        this.pending.delete(frame.request);
        entry.handlers.done(frame);
        break;
      case "error":
        this.pending.delete(frame.request);
        entry.handlers.failed(errorFor(frame.status, { error: frame.error }));
        break;
    }
  }

  /** The connection closed (`wasOpen`, with `code`) or could not be opened. */
  private dropped(wasOpen: boolean, code?: number) {
    this.opened = false;
    // A 1009 close is the server refusing the message sent last as too large: that request
    // is told so (sending it again would be refused again); the others lost the connection.
    const tooLarge = wasOpen && code === MESSAGE_TOO_BIG ? this.lastSent : null;
    // What was sent is lost with the connection (the server keeps what it had stored).
    let lost = 0;
    for (const [request, entry] of [...this.pending]) {
      if (!entry.sent) continue;
      this.pending.delete(request);
      if (request === tooLarge) {
        entry.handlers.failed(new ApiError("invalid", CLOSED_TOO_LARGE));
        continue;
      }
      lost += 1;
      entry.handlers.failed(new ApiError("network", CONNECTION_LOST));
    }
    if (this.closed) return;
    if (this.pending.size === 0 && (lost === 0 || !wasOpen)) {
      // Nothing waits for it (API Gateway closes a connection after 10 minutes idle and 2
      // hours in all): the next request opens a new one.
      this.setState({ state: "idle" });
      return;
    }
    this.scheduleRetry();
    const check = wasOpen ? undefined : this.options.checkSession;
    if (!check) return;
    void check().then(
      (refused) => {
        if (!refused || refused.kind !== "session" || this.closed || this.ws) return;
        clearTimeout(this.timer);
        this.timer = undefined;
        const waiting = [...this.pending.values()];
        this.pending.clear();
        this.setState({ state: "idle" });
        for (const entry of waiting) entry.handlers.failed(refused);
        this.options.onSessionEnded?.(refused);
      },
      () => {},
    );
  }

  private scheduleRetry() {
    const delayMs = retryDelay(this.attempt);
    this.attempt += 1;
    this.setState({ state: "retrying", attempt: this.attempt, delayMs });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delayMs);
  }
}
