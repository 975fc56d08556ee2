// Copies GraphiQL and React, as installed from the npm registry, into the service's package so
// the development IDE loads nothing from a CDN. The copies are committed; their versions are
// the ones pinned in package.json.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const ASSETS_DIR = join(here, "..", "..", "app", "graphql", "graphiql", "assets");

// [package, file inside the package, name served by the BFF]
const VENDORED = [
  ["react", "umd/react.production.min.js", "react.production.min.js"],
  ["react", "LICENSE", "react.LICENSE.txt"],
  ["react-dom", "umd/react-dom.production.min.js", "react-dom.production.min.js"],
  ["react-dom", "LICENSE", "react-dom.LICENSE.txt"],
  ["graphiql", "graphiql.min.js", "graphiql.min.js"],
  ["graphiql", "graphiql.min.css", "graphiql.min.css"],
  ["graphiql", "LICENSE", "graphiql.LICENSE.txt"],
];

function packageDir(name) {
  return dirname(require.resolve(`${name}/package.json`));
}

mkdirSync(ASSETS_DIR, { recursive: true });
for (const [name, source, target] of VENDORED) {
  copyFileSync(join(packageDir(name), source), join(ASSETS_DIR, target));
}
console.log(`vendored ${VENDORED.length} GraphiQL files into app/graphql/graphiql/assets`);
