// Starting a server for the Node checks: on 127.0.0.1, on the first free port of a range, in
// a directory of its own (no developer's .env is read), stopped by its own process.
import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

import { CONTRACT_DIR } from "./contract.mjs";

export const LOOPBACK = "127.0.0.1";
export const EXECUTABLE =
  process.env.LITEMAAS_BFF ?? join(CONTRACT_DIR, "..", ".venv", "bin", "litemaas-bff");
const START_TIMEOUT_MS = 60_000;

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer()
      .once("error", () => resolve(false))
      .once("listening", () => probe.close(() => resolve(true)))
      .listen(port, LOOPBACK);
  });
}

async function freePort([first, last]) {
  for (let port = first; port <= last; port += 1) {
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port in ${first}-${last}`);
}

/**
 * Starts what `launch(port)` names in `workDir` on a free port of `ports` ([first, last]);
 * resolves with `{ baseUrl, stop }` once `readyPath` answers 200.
 */
export async function startServer({ launch, workDir, label, readyPath, ports }) {
  const port = await freePort(ports);
  const { program, args, env } = launch(port);
  const logPath = join(workDir, `${label}.log`);
  const log = openSync(logPath, "w");
  const child = spawn(program, args, {
    cwd: workDir, // empty: no developer's .env is read
    env: { ...process.env, ...env },
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
      if ((await fetch(`${baseUrl}${readyPath}`)).ok) return { baseUrl, stop, logPath };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`${label} did not start:\n${readFileSync(logPath, "utf8")}`);
}
