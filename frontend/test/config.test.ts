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
    expect(parseConfig({ apiUrl: "http://127.0.0.1:8000", socketUrl: "ws://127.0.0.1:8000/live" }).socketUrl).toBe(
      "ws://127.0.0.1:8000/live",
    );
    expect(parseConfig({ apiUrl: "http://127.0.0.1:8000" }).socketUrl).toBeNull();
  });

  describe("behind the CDN: paths on the page's own origin", () => {
    const cdn = { apiUrl: "/", socketUrl: "/live", models: ["gpt-4o-mini"], stack: "chatbot" };

    it("resolves them against an https page: the origin, and wss:", () => {
      expect(parseConfig(cdn, "https://d1.cloudfront.net/")).toEqual({
        apiUrl: "https://d1.cloudfront.net",
        socketUrl: "wss://d1.cloudfront.net/live",
        models: ["gpt-4o-mini"],
        stack: "chatbot",
      });
    });

    it("takes ws: on an http page, and keeps its port", () => {
      const config = parseConfig(cdn, "http://127.0.0.1:8000/index.html#/c/1");
      expect(config.apiUrl).toBe("http://127.0.0.1:8000");
      expect(config.socketUrl).toBe("ws://127.0.0.1:8000/live");
    });

    it("means the origin itself for a page below a path prefix", () => {
      const config = parseConfig(cdn, "https://chat.example.com/app/index.html?x=1#/login");
      expect(config.apiUrl).toBe("https://chat.example.com");
      expect(config.socketUrl).toBe("wss://chat.example.com/live");
      // A longer path is kept (without its trailing slash), still on the page's origin.
      expect(parseConfig({ apiUrl: "/api/", socketUrl: "/api/live" }, "https://c.example/app/").apiUrl).toBe(
        "https://c.example/api",
      );
    });

    it("mixes with an absolute value", () => {
      const config = parseConfig(
        { apiUrl: "https://api.example", socketUrl: "/live" },
        "https://site.example/",
      );
      expect(config).toMatchObject({ apiUrl: "https://api.example", socketUrl: "wss://site.example/live" });
    });

    it("is resolved by loadConfig against the page it was fetched for", async () => {
      const fetchImpl = async () => Response.json(cdn);
      const config = await loadConfig(fetchImpl as unknown as typeof fetch, "https://d1.cloudfront.net/app/");
      expect(config.apiUrl).toBe("https://d1.cloudfront.net");
      expect(config.socketUrl).toBe("wss://d1.cloudfront.net/live");
    });

    it.each([
      [{ apiUrl: "api", socketUrl: "/live" }, "config.json apiUrl is not a URL: api"],
      [{ apiUrl: "./", socketUrl: "/live" }, "config.json apiUrl is not a URL: ./"],
      [{ apiUrl: "//evil.example", socketUrl: "/live" }, "config.json apiUrl is not a URL: //evil.example"],
      [{ apiUrl: "/", socketUrl: "live" }, "config.json socketUrl must be a ws(s) URL: live"],
      [{ apiUrl: "/", socketUrl: "./live" }, "config.json socketUrl must be a ws(s) URL: ./live"],
      [{ apiUrl: "/", socketUrl: "//evil.example/live" }, "config.json socketUrl must be a ws(s) URL: //evil.example/live"],
      [{ apiUrl: "/", socketUrl: "" }, "config.json socketUrl must be a ws(s) URL: "],
    ])("refuses a relative value that is not a path: %j", (value, message) => {
      expect(() => parseConfig(value, "https://d1.cloudfront.net/")).toThrow(new ConfigError(message));
    });

    it("refuses paths when there is no page to resolve them against", () => {
      expect(() => parseConfig(cdn)).toThrow(new ConfigError("config.json apiUrl is not a URL: /"));
      expect(() => parseConfig({ apiUrl: "https://a.example", socketUrl: "/live" })).toThrow(
        new ConfigError("config.json socketUrl must be a ws(s) URL: /live"),
      );
    });

    it("refuses a path on a page that has no http(s) origin", () => {
      expect(() => parseConfig({ apiUrl: "/" }, "about:blank")).toThrow(ConfigError);
      expect(() => parseConfig({ apiUrl: "https://a.example", socketUrl: "/live" }, "file:///tmp/index.html")).toThrow(
        new ConfigError("config.json socketUrl must be a ws(s) URL: /live"),
      );
    });
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
