// Fails when `npm run generate` would change a committed file: the TypeScript types, the
// possibleTypes map, the persisted documents (trusted documents) manifest, or the GraphiQL
// assets vendored into the service.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const GENERATED_DIRS = [
  join(root, "src", "generated"),
  join(root, "..", "app", "graphql", "graphiql", "assets"),
];

const GENERATED_FILES = [join(root, "persisted-documents.json")];

function snapshot() {
  const digests = new Map();
  for (const path of GENERATED_FILES) {
    if (existsSync(path)) {
      digests.set(relative(root, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  }
  for (const dir of GENERATED_DIRS) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      digests.set(relative(root, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  }
  return digests;
}

const before = snapshot();
execFileSync("npm", ["run", "--silent", "generate"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const after = snapshot();

const changed = [...new Set([...before.keys(), ...after.keys()])]
  .filter((path) => before.get(path) !== after.get(path))
  .sort();
if (changed.length > 0) {
  console.error("Regenerating changed committed files; run `npm run generate` and commit them:");
  for (const path of changed) console.error(`  ${path}`);
  process.exit(1);
}
console.log(`generated files are up to date (${after.size} files checked)`);
