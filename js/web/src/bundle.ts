// Bundles the page (dist/src/page.js, built by tsc) with esbuild into dist/www/app.js, next to
// static/index.html and static/style.css. No CDN: everything the page loads is in dist/www.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/src
const root = path.resolve(here, "../..");
const out = path.resolve(here, "../www");
await mkdir(out, { recursive: true });
await build({
  entryPoints: [path.join(here, "page.js")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  minify: true,
  outfile: path.join(out, "app.js"),
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) await copyFile(path.join(root, "static", f), path.join(out, f));
// ProseMirror's own stylesheet, from the installed package
const require = createRequire(import.meta.url);
await copyFile(require.resolve("prosemirror-view/style/prosemirror.css"), path.join(out, "prosemirror.css"));
process.stdout.write(`bundled ${path.join(out, "app.js")}\n`);
