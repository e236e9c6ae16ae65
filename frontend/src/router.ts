// Hash routes: every address the app shows is index.html plus a #fragment, so opening or
// reloading any of them works on S3 website hosting, which serves only files.

export type Route =
  | { page: "login" }
  | { page: "chat"; id: null } // a new, empty chat
  | { page: "chat"; id: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  if (path === "/login") return { page: "login" };
  const match = /^\/c\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (match) return { page: "chat", id: match[1]! };
  return { page: "chat", id: null };
}

export function formatRoute(route: Route): string {
  if (route.page === "login") return "#/login";
  return route.id === null ? "#/" : `#/c/${route.id}`;
}
