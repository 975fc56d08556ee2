// Builds the portal into dist/: one JavaScript and one CSS bundle with content hashes in their
// names (cached for ever), and index.html naming them (never cached). Nothing is fetched from
// a CDN at run time: everything the page loads is in dist/.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
const result = await build({
  entryPoints: [join(root, "src", "main.tsx"), join(root, "src", "portal.css")],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2022"],
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "linked",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const script = outputs.find((name) => name.startsWith("main-") && name.endsWith(".js"));
const style = outputs.find((name) => name.startsWith("portal-") && name.endsWith(".css"));
const page = readFileSync(join(root, "index.html"), "utf8")
  .replace("{{script}}", `/assets/${script}`)
  .replace("{{style}}", `/assets/${style}`);
writeFileSync(join(dist, "index.html"), page);
console.log(`built ${join("dist", "index.html")} with assets/${script} and assets/${style}`);
