// Runs every scenario of every operation with Apollo Client 4 against the BFF, started here on
// 127.0.0.1 with a throw-away SQLite database (`litemaas-bff dev`) and, unless LITELLM_URL is
// set, the LiteLLM emulator served beside it (so scenarios can make it fault). Scenarios that
// need other settings (e.g. a database that is down) get a server of their own
// (`litemaas-bff dev --no-migrate`) on the same database and LiteLLM.
//
//   npm run smoke                    # uses ../.venv/bin/litemaas-bff and the python beside it
//   LITEMAAS_BFF=/path/to/litemaas-bff SMOKE_PORTS=4300-4399 npm run smoke
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import {
  checkScenario,
  emulatorFaults,
  loadOperations,
  unregisteredOperationProblems,
} from "../lib/contract.mjs";
import { EXECUTABLE, LOOPBACK, startServer } from "../lib/service.mjs";

// The emulator is installed with the service (a package beside `app`): run it with the
// service's interpreter.
const PYTHON = join(dirname(EXECUTABLE), "python");
const EMULATOR_MODELS = "m1,m2,ollama/llama2";
const EMULATOR_MASTER_KEY = "sk-smoke-emulator-master";
const PORTS = (process.env.SMOKE_PORTS ?? "4300-4399").split("-").map(Number);

function startEmulator(workDir) {
  return startServer({
    launch: (port) => ({
      program: PYTHON,
      args: [
        "-m",
        "litellm_emulator",
        "--port",
        String(port),
        "--master-key",
        EMULATOR_MASTER_KEY,
        "--models",
        EMULATOR_MODELS,
        "--log-level",
        "warning",
      ],
      env: { ENV: "development" },
    }),
    workDir,
    label: "litellm-emulator",
    readyPath: "/health/liveliness",
    ports: PORTS,
  });
}

function startService({ args, workDir, settings, label }) {
  return startServer({
    launch: (port) => ({
      program: EXECUTABLE,
      args,
      env: {
        ENV: "development",
        AUTH_MODE: "dev",
        HOST: LOOPBACK,
        PORT: String(port),
        WEB_CONCURRENCY: "1",
        DATABASE_URL: `sqlite+aiosqlite:///${join(workDir, "smoke.db")}`,
        ...settings,
      },
    }),
    workDir,
    label: `litemaas-bff-${label}`,
    readyPath: "/healthz",
    ports: PORTS,
  });
}

// The secret of a new key is shown to its owner only, never in a log.
function summary(data) {
  const text = JSON.stringify(data, (key, value) => (key === "secret" ? "[secret]" : value));
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

const workDir = mkdtempSync(join(tmpdir(), "litemaas-smoke-"));
const operations = loadOperations();
const operationsByName = new Map(operations.map((operation) => [operation.name, operation]));
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
let skipped = 0;
let emulatorServer = null;
try {
  let litellm = {};
  let emulator = null;
  if (!process.env.LITELLM_URL) {
    emulatorServer = await startEmulator(workDir);
    emulator = { url: emulatorServer.baseUrl, masterKey: EMULATOR_MASTER_KEY };
    litellm = { LITELLM_URL: emulator.url, LITELLM_MASTER_KEY: EMULATOR_MASTER_KEY };
    console.log(`LiteLLM emulator on ${emulator.url} (models ${EMULATOR_MODELS})`);
  }
  let index = 0;
  for (const [key, runs] of groups) {
    const settings = { ...litellm, ...JSON.parse(key) };
    // The first server migrates the database; later ones share it as it is (one of them has
    // a database that is down). `serve` is production only: dev sign-in needs `dev`.
    const first = index === 0;
    const args = first ? ["dev"] : ["dev", "--no-migrate"];
    const service = await startService({ args, workDir, settings, label: String(index) });
    index += 1;
    console.log(`litemaas-bff ${args.join(" ")} on ${service.baseUrl} ${key === "{}" ? "" : key}`.trimEnd());
    try {
      if (first) {
        // The check that every operation went by its hash can tell when one did not.
        const problems = await unregisteredOperationProblems(service.baseUrl);
        if (problems.length > 0) {
          failed += 1;
          console.log(`FAIL  an unregistered operation\n      ${problems.join("\n      ")}`);
        } else {
          console.log("ok    an unregistered operation: refused by hash, resent with its document");
        }
      }
      for (const { operation, scenario } of runs) {
        const title = `${operation.name} / ${scenario.name}`;
        const faults = (scenario.steps ?? []).some((step) => step.emulatorFaults);
        if (faults && emulator === null) {
          skipped += 1;
          console.log(`skip  ${title}: makes the LiteLLM emulator fault, and LITELLM_URL is set`);
          continue;
        }
        let outcome;
        try {
          outcome = await checkScenario({
            baseUrl: service.baseUrl,
            operation,
            scenario,
            operations: operationsByName,
            emulator,
          });
        } finally {
          if (faults) outcome?.problems.push(...(await emulatorFaults(emulator, null)));
        }
        const { problems, apollo } = outcome;
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
  await emulatorServer?.stop();
  rmSync(workDir, { recursive: true, force: true });
}
console.log(`smoke: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
