// Runs every scenario of every operation with Apollo Client 4 against the BFF, started here on
// 127.0.0.1 with a throw-away SQLite database (`litemaas-bff dev`). Scenarios that need other
// settings (e.g. a database that is down) get a server of their own (`litemaas-bff serve`).
//
//   npm run smoke                    # uses ../.venv/bin/litemaas-bff
//   LITEMAAS_BFF=/path/to/litemaas-bff SMOKE_PORTS=4300-4399 npm run smoke
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CONTRACT_DIR, checkScenario, loadOperations } from "../lib/contract.mjs";

const LOOPBACK = "127.0.0.1";
const EXECUTABLE = process.env.LITEMAAS_BFF ?? join(CONTRACT_DIR, "..", ".venv", "bin", "litemaas-bff");
const [FIRST_PORT, LAST_PORT] = (process.env.SMOKE_PORTS ?? "4300-4399").split("-").map(Number);
const START_TIMEOUT_MS = 60_000;

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer()
      .once("error", () => resolve(false))
      .once("listening", () => probe.close(() => resolve(true)))
      .listen(port, LOOPBACK);
  });
}

async function freePort() {
  for (let port = FIRST_PORT; port <= LAST_PORT; port += 1) {
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port in ${FIRST_PORT}-${LAST_PORT}`);
}

async function startService({ command, workDir, settings, label }) {
  const port = await freePort();
  const logPath = join(workDir, `${label}.log`);
  const log = openSync(logPath, "w");
  const child = spawn(EXECUTABLE, [command], {
    cwd: workDir, // empty: no developer's .env is read
    env: {
      ...process.env,
      ENV: "development",
      AUTH_MODE: "dev",
      HOST: LOOPBACK,
      PORT: String(port),
      WEB_CONCURRENCY: "1",
      DATABASE_URL: `sqlite+aiosqlite:///${join(workDir, "smoke.db")}`,
      ...settings,
    },
    stdio: ["ignore", log, log],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const baseUrl = `http://${LOOPBACK}:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) return { baseUrl, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`litemaas-bff ${command} did not start:\n${readFileSync(logPath, "utf8")}`);
}

function summary(data) {
  const text = JSON.stringify(data);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

const workDir = mkdtempSync(join(tmpdir(), "litemaas-smoke-"));
const operations = loadOperations();
// Scenarios grouped by the settings their server needs; the default settings first.
const groups = new Map([["{}", []]]);
for (const operation of operations) {
  for (const scenario of operation.scenarios) {
    const key = JSON.stringify(scenario.settings ?? {});
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ operation, scenario });
  }
}

let passed = 0;
let failed = 0;
try {
  let index = 0;
  for (const [key, runs] of groups) {
    const settings = JSON.parse(key);
    // `dev` migrates the database first; later servers share it as it is.
    const command = index === 0 ? "dev" : "serve";
    const service = await startService({ command, workDir, settings, label: `service-${index}` });
    index += 1;
    console.log(`litemaas-bff ${command} on ${service.baseUrl} ${key === "{}" ? "" : key}`.trimEnd());
    try {
      for (const { operation, scenario } of runs) {
        const title = `${operation.name} / ${scenario.name}`;
        const { problems, apollo } = await checkScenario({
          baseUrl: service.baseUrl,
          operation,
          scenario,
        });
        if (problems.length === 0) {
          passed += 1;
          console.log(`ok    ${title}: ${summary(apollo)}`);
        } else {
          failed += 1;
          console.log(`FAIL  ${title}\n      ${problems.join("\n      ")}`);
        }
      }
    } finally {
      await service.stop();
    }
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
