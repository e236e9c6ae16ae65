import { describe, expect, it } from "vitest";

import { formatRoute, parseRoute } from "../src/router";

describe("hash routes", () => {
  it("round-trips every page", () => {
    for (const route of [
      { page: "login" } as const,
      { page: "chat", id: null } as const,
      { page: "chat", id: "0123abcd" } as const,
    ]) {
      expect(parseRoute(formatRoute(route))).toEqual(route);
    }
  });

  it("treats an empty or unknown address as a new chat", () => {
    for (const hash of ["", "#", "#/", "#/nope", "#/c/", "#/c/<script>", "#/c/a/b"]) {
      expect(parseRoute(hash)).toEqual({ page: "chat", id: null });
    }
  });
});
