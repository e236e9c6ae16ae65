import "./styles.css";

import { render } from "preact";

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

async function start() {
  try {
    const config = await loadConfig();
    render(
      <App config={config} api={createApi(config.apiUrl)} storage={browserStorage()} />,
      root,
    );
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    render(<StartupError message={`Could not read the app's configuration: ${detail}.`} />, root);
  }
}

void start();
