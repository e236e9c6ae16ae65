import { describe, expect, it, vi } from "vitest";

import { ConfigError, loadConfig, parseConfig } from "../src/config";

describe("runtime config", () => {
  it("accepts the documented shape and drops a trailing slash", () => {
    expect(
      parseConfig({
        apiUrl: "https://abc.execute-api.eu-west-1.amazonaws.com/",
        socketUrl: "wss://def456.execute-api.eu-west-1.amazonaws.com/live",
        models: ["gpt-4o-mini", "gpt-4.1"],
        stack: "chatbot",
      }),
    ).toEqual({
      apiUrl: "https://abc.execute-api.eu-west-1.amazonaws.com",
      socketUrl: "wss://def456.execute-api.eu-west-1.amazonaws.com/live",
      models: ["gpt-4o-mini", "gpt-4.1"],
      stack: "chatbot",
    });
  });

  it("offers no models (no picker, no model sent) for a stack deployed before models", () => {
    expect(parseConfig({ apiUrl: "https://a.example" }).models).toEqual([]);
    expect(parseConfig({ apiUrl: "https://a.example", models: null }).models).toEqual([]);
    // The first stays the default; a name listed twice is offered once.
    expect(parseConfig({ apiUrl: "https://a.example", models: ["b", "a", "b"] }).models).toEqual(["b", "a"]);
  });

  it("takes local's ws: socket, and none from a stack deployed before streaming", () => {
    expect(parseConfig({ apiUrl: "http://127.0.0.1:8000", socketUrl: "ws://127.0.0.1:8000/socket" }).socketUrl).toBe(
      "ws://127.0.0.1:8000/socket",
    );
    expect(parseConfig({ apiUrl: "http://127.0.0.1:8000" }).socketUrl).toBeNull();
  });

  it.each([
    null,
    [],
    {},
    { apiUrl: "" },
    { apiUrl: "not a url" },
    { apiUrl: "javascript:alert(1)" },
    { apiUrl: "https://a.example", socketUrl: "https://a.example/live" },
    { apiUrl: "https://a.example", socketUrl: "not a url" },
    { apiUrl: "https://a.example", socketUrl: 5 },
    { apiUrl: "https://a.example", models: "gpt-4.1" },
    { apiUrl: "https://a.example", models: ["gpt-4.1", 5] },
    { apiUrl: "https://a.example", models: [""] },
  ])(
    "refuses %j",
    (value) => {
      expect(() => parseConfig(value)).toThrow(ConfigError);
    },
  );

  it("is fetched next to the page, uncached", async () => {
    const fetchImpl = vi.fn(async () => Response.json({ apiUrl: "http://127.0.0.1:8000", stack: "local" }));
    const config = await loadConfig(fetchImpl as unknown as typeof fetch, "http://site.example/app/index.html#/c/1");
    expect(config.apiUrl).toBe("http://127.0.0.1:8000");
    expect(fetchImpl).toHaveBeenCalledWith("http://site.example/app/config.json", { cache: "no-store" });
  });

  it("explains a missing file", async () => {
    const fetchImpl = async () => new Response("no", { status: 404 });
    await expect(loadConfig(fetchImpl as unknown as typeof fetch, "http://x/")).rejects.toThrow(
      "config.json answered HTTP 404",
    );
  });
});
