import { describe, expect, it, vi } from "vitest";

import { ConfigError, loadConfig, parseConfig } from "../src/config";

describe("runtime config", () => {
  it("accepts the documented shape and drops a trailing slash", () => {
    expect(parseConfig({ apiUrl: "https://abc.execute-api.eu-west-1.amazonaws.com/", stack: "chatbot" })).toEqual({
      apiUrl: "https://abc.execute-api.eu-west-1.amazonaws.com",
      stack: "chatbot",
    });
  });

  it.each([null, [], {}, { apiUrl: "" }, { apiUrl: "not a url" }, { apiUrl: "javascript:alert(1)" }])(
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
