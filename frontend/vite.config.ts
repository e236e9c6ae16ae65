/// <reference types="vitest/config" />
import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";

// Defence in depth behind the Markdown sanitizer: no inline or foreign scripts, no images
// from elsewhere (a model's answer must not beacon data out), API calls only to https or
// this origin (`local`), the streaming WebSocket only to wss: or this origin (`local`'s
// ws://<host>/live: 'self' covers ws: on the page's own host). Only in the build: the dev
// server needs its websocket.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' https: wss:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join("; ");

function contentSecurityPolicy(): Plugin {
  return {
    name: "chatbot-csp",
    apply: "build",
    transformIndexHtml: () => [
      {
        tag: "meta",
        attrs: { "http-equiv": "Content-Security-Policy", content: CSP },
        injectTo: "head-prepend",
      },
    ],
  };
}

// `npm run dev` talks to `chatbot-deploy local` on port 8000 (override with API_TARGET):
// the API routes are proxied, and /config.json points the app at the dev server itself so
// every call stays same-origin.
const apiTarget = process.env.API_TARGET ?? "http://127.0.0.1:8000";

// The API's routes, read from the contract (docs/api.md's "## `METHOD /path`" headings, which
// tests/test_contract_http.py checks against the route table in chatbot_deploy/app_spec.py):
// a new route is proxied without editing this file.
const apiPaths = [
  ...readFileSync(new URL("../docs/api.md", import.meta.url), "utf8").matchAll(
    /^## `(?:GET|POST|PUT|PATCH|DELETE) (\/\S*)`/gm,
  ),
]
  // A templated path (`/conversations/{id}`) is proxied by its fixed beginning.
  .map((match) => match[1]!.replace(/\/\{[^}]*\}.*$/, ""))
  .filter((path, index, all) => path !== "/config.json" && all.indexOf(path) === index);

/** `local`'s WebSocket endpoint (docs/api.md: `ws://<host>/live`, app_spec.SOCKET_PATH, the same
 * path as behind the CDN), proxied too. */
const SOCKET_PATH = "/live";

function devConfig(): Plugin {
  return {
    name: "chatbot-dev-config",
    apply: "serve",
    configureServer(server) {
      server.middlewares.use("/config.json", (req, res) => {
        res.setHeader("content-type", "application/json");
        res.setHeader("cache-control", "no-store");
        res.end(
          JSON.stringify({
            apiUrl: `http://${req.headers.host}`,
            socketUrl: `ws://${req.headers.host}${SOCKET_PATH}`,
            stack: "dev",
          }),
        );
      });
    },
  };
}

export default defineConfig({
  // Relative asset URLs: the same build works at a site's root or below a prefix.
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  plugins: [contentSecurityPolicy(), devConfig()],
  build: { target: "es2022", sourcemap: false, assetsInlineLimit: 0 },
  server: {
    // The contract test reads ../docs/api.md (the page both sides are tested against).
    fs: { allow: [".", "../docs"] },
    // changeOrigin: `local` sees its own address as Host, whatever name the dev server was
    // opened by (`local` answers only for its own names, 421 otherwise; docs/api.md).
    proxy: {
      ...Object.fromEntries(
        apiPaths.map((path) => [path, { target: apiTarget, changeOrigin: true }]),
      ),
      [SOCKET_PATH]: { target: apiTarget, changeOrigin: true, ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
  },
});
