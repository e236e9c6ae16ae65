import "./styles.css";

import { type VNode, render } from "preact";

import { createApi } from "./api";
import { App } from "./App";
import { loadConfig } from "./config";
import { browserStorage } from "./storage";

const root = document.getElementById("app")!;

function StartupError({ message }: { message: string }) {
  return (
    <main class="login-page">
      <div class="login-card" role="alert">
        <h1>The app could not start</h1>
        <p>{message}</p>
        <button type="button" class="primary" onClick={() => void start()}>
          Try again
        </button>
      </div>
    </main>
  );
}

/** Replace what the page shows: the "Loading…" placeholder (which render() would keep, not
 * having made it) or an earlier screen. */
function show(screen: VNode) {
  render(null, root);
  root.replaceChildren();
  render(screen, root);
}

async function start() {
  try {
    const config = await loadConfig();
    show(<App config={config} api={createApi(config.apiUrl)} storage={browserStorage()} />);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    show(<StartupError message={`Could not read the app's configuration: ${detail}.`} />);
  }
}

void start();
