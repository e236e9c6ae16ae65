// The runtime configuration, /config.json next to index.html (docs/api.md): the same build
// works for every stack and for `chatbot-deploy local`.

export interface RuntimeConfig {
  apiUrl: string;
  /** The WebSocket API that streams answers (ws: or wss:); null when config.json has none
   * (a stack deployed before streamed answers): the app then says so when asked to chat. */
  socketUrl: string | null;
  /** The models this chatbot offers, the first being the default; empty when config.json
   * lists none (a stack deployed before models could be chosen): no picker, no `model` sent. */
  models: string[];
  stack: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Check config.json's value. `apiUrl` and `socketUrl` are absolute URLs (`--no-cdn`: API
 * Gateway's; `local`: its own host), or paths on the website's own origin (behind the CDN:
 * `"/"` and `"/live"`), which are resolved against `baseUrl`, the page's URL: `apiUrl` to the
 * origin (or path) without a trailing slash, `socketUrl` with ws: on an http page and wss: on
 * an https one. What the app gets is always absolute. Without `baseUrl`, paths are refused.
 */
export function parseConfig(value: unknown, baseUrl?: string): RuntimeConfig {
  if (typeof value !== "object" || value === null) {
    throw new ConfigError("config.json is not a JSON object");
  }
  const { apiUrl, socketUrl, models, stack } = value as Record<string, unknown>;
  if (typeof apiUrl !== "string" || apiUrl === "") {
    throw new ConfigError("config.json has no apiUrl");
  }
  const url = resolve(apiUrl, baseUrl);
  if (!url) throw new ConfigError(`config.json apiUrl is not a URL: ${apiUrl}`);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`config.json apiUrl must be http(s): ${apiUrl}`);
  }
  return {
    apiUrl: (isPath(apiUrl) ? url.href : apiUrl).replace(/\/+$/, ""),
    socketUrl: parseSocketUrl(socketUrl, baseUrl),
    models: parseModels(models),
    stack: typeof stack === "string" ? stack : "",
  };
}

/** A path on the page's own origin ("/live"), not a protocol-relative URL ("//host/live"). */
function isPath(value: string): boolean {
  return value.startsWith("/") && !value.startsWith("//");
}

/** `value` as an absolute URL: itself, or a path resolved against `baseUrl`; else null. */
function resolve(value: string, baseUrl: string | undefined): URL | null {
  try {
    if (!isPath(value)) return new URL(value);
    return baseUrl === undefined ? null : new URL(value, baseUrl);
  } catch {
    return null;
  }
}

const SOCKET_SCHEMES: Record<string, string> = { "https:": "wss:", "http:": "ws:" };

function parseSocketUrl(value: unknown, baseUrl: string | undefined): string | null {
  if (value === undefined || value === null) return null;
  const url = typeof value === "string" ? resolve(value, baseUrl) : null;
  if (url && typeof value === "string" && isPath(value)) {
    // The page's own origin, its scheme mapped (a file: or other page has no WebSocket).
    const scheme = SOCKET_SCHEMES[url.protocol];
    if (scheme) return `${scheme}//${url.host}${url.pathname}${url.search}`;
  } else if (url && (url.protocol === "wss:" || url.protocol === "ws:")) {
    return String(value);
  }
  throw new ConfigError(`config.json socketUrl must be a ws(s) URL: ${String(value)}`);
}

function parseModels(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((m) => typeof m === "string" && m !== "")) {
    throw new ConfigError("config.json models must be a list of model names");
  }
  return [...new Set(value as string[])];
}

/** Fetch and check config.json, relative to the page (works below a path prefix too). */
export async function loadConfig(
  fetchImpl: typeof fetch = (...args) => fetch(...args),
  baseUrl: string = document.baseURI,
): Promise<RuntimeConfig> {
  let response: Response;
  try {
    response = await fetchImpl(new URL("config.json", baseUrl).toString(), { cache: "no-store" });
  } catch {
    throw new ConfigError("could not fetch config.json (network error)");
  }
  if (!response.ok) throw new ConfigError(`config.json answered HTTP ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ConfigError("config.json is not valid JSON");
  }
  return parseConfig(body, baseUrl);
}
