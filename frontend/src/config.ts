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

export function parseConfig(value: unknown): RuntimeConfig {
  if (typeof value !== "object" || value === null) {
    throw new ConfigError("config.json is not a JSON object");
  }
  const { apiUrl, socketUrl, models, stack } = value as Record<string, unknown>;
  if (typeof apiUrl !== "string" || apiUrl === "") {
    throw new ConfigError("config.json has no apiUrl");
  }
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new ConfigError(`config.json apiUrl is not a URL: ${apiUrl}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`config.json apiUrl must be http(s): ${apiUrl}`);
  }
  return {
    apiUrl: apiUrl.replace(/\/+$/, ""),
    socketUrl: parseSocketUrl(socketUrl),
    models: parseModels(models),
    stack: typeof stack === "string" ? stack : "",
  };
}

function parseSocketUrl(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  let url: URL | null = null;
  try {
    url = typeof value === "string" ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "wss:" && url.protocol !== "ws:")) {
    throw new ConfigError(`config.json socketUrl must be a ws(s) URL: ${String(value)}`);
  }
  return String(value);
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
  return parseConfig(body);
}
