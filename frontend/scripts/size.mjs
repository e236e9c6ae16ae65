// Prints the gzipped size of all JavaScript and CSS in dist/ and fails over the budget.
// Usage: npm run size [-- dist-dir]
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";

const BUDGET_BYTES = 80 * 1000; // 80 kB gzipped, JS + CSS together

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = resolve(process.argv[2] ?? join(here, "..", "dist"));

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (/\.(m?js|css)$/.test(entry.name)) yield path;
  }
}

let files;
try {
  files = [...walk(dist)].sort();
} catch {
  console.error(`size: ${dist} does not exist; run \`npm run build\` first`);
  process.exit(2);
}
if (files.length === 0) {
  console.error(`size: no .js or .css files in ${dist}`);
  process.exit(2);
}

const kb = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
let raw = 0;
let gzipped = 0;
for (const file of files) {
  const data = readFileSync(file);
  const size = gzipSync(data, { level: constants.Z_BEST_COMPRESSION }).length;
  raw += data.length;
  gzipped += size;
  console.log(`${relative(dist, file).padEnd(40)} ${kb(data.length).padStart(10)} ${kb(size).padStart(10)} gzip`);
}
const verdict = gzipped <= BUDGET_BYTES ? "within" : "OVER";
console.log(
  `${"total JS+CSS".padEnd(40)} ${kb(raw).padStart(10)} ${kb(gzipped).padStart(10)} gzip ` +
    `(${verdict} the ${kb(BUDGET_BYTES)} budget)`,
);
if (gzipped > BUDGET_BYTES) process.exit(1);
