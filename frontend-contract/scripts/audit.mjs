// GraphQL over HTTP conformance: graphql-http's `auditServer` against the BFF, started here on
// 127.0.0.1 with a throw-away SQLite database, first as `litemaas-bff dev`, then as in
// production with GRAPHQL_ALLOW_ARBITRARY_DOCUMENTS=true. (Production without it runs the
// frontend's registered operations only and refuses the audit's own documents by design.)
// Fails on any error or warning; notices are printed.
//
//   npm run audit                    # uses ../.venv/bin/litemaas-bff
//   LITEMAAS_BFF=/path/to/litemaas-bff AUDIT_PORTS=4500-4599 npm run audit
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { auditServer } from "graphql-http";

import { EXECUTABLE, LOOPBACK, startServer } from "../lib/service.mjs";

const PORTS = (process.env.AUDIT_PORTS ?? "4500-4599").split("-").map(Number);
// These two send `{ __type(name:) { name } }`: production refuses introspection, so they
// must fail there, and with that refusal; anything else failing fails the audit.
const NEEDS_INTROSPECTION = new Set(["2EA1", "28B9"]);

function production() {
  return {
    ENV: "production",
    GRAPHQL_ALLOW_ARBITRARY_DOCUMENTS: "true",
    AUTH_MODE: "oidc",
    // Sign-in is not exercised: the provider only has to be configured.
    OIDC_ISSUER: `http://${LOOPBACK}:9/`,
    OIDC_CLIENT_ID: "litemaas-audit",
    OIDC_CLIENT_SECRET: randomBytes(24).toString("base64url"),
    PUBLIC_URL: "https://litemaas.example.com",
    SESSION_SECRET: randomBytes(48).toString("base64url"),
    // Nothing listens there: the audit's documents never reach LiteLLM.
    LITELLM_URL: `http://${LOOPBACK}:9`,
    LITELLM_MASTER_KEY: `sk-${randomBytes(24).toString("base64url")}`,
  };
}

const workDir = mkdtempSync(join(tmpdir(), "litemaas-audit-"));
const runs = [
  // `dev` migrates the database (with the LiteLLM emulator in-process unless LITELLM_URL is
  // set); `serve` reuses the database.
  { command: "dev", label: "development", env: { ENV: "development", AUTH_MODE: "dev" } },
  { command: "serve", label: "production", env: production() },
];
let failed = 0;
try {
  for (const { command, label, env } of runs) {
    const service = await startServer({
      launch: (port) => ({
        program: EXECUTABLE,
        args: [command],
        env: {
          HOST: LOOPBACK,
          PORT: String(port),
          WEB_CONCURRENCY: "1",
          DATABASE_URL: `sqlite+aiosqlite:///${join(workDir, "audit.db")}`,
          ...env,
        },
      }),
      workDir,
      label: `litemaas-bff-${label}`,
      readyPath: "/healthz",
      ports: PORTS,
    });
    try {
      const results = await auditServer({ url: `${service.baseUrl}/graphql` });
      const counts = { ok: 0, notice: 0, warn: 0, error: 0, expected: 0 };
      for (const result of results) {
        let { status } = result;
        if (command === "serve" && NEEDS_INTROSPECTION.has(result.id)) {
          const body = result.status === "ok" ? "" : await result.response.text();
          // Passing would mean production answers introspection: that is a failure too.
          status = body.includes("introspection has been disabled") ? "expected" : "error";
        }
        counts[status] += 1;
        if (status !== "ok") {
          console.log(`${status.padEnd(8)} ${label}: ${result.id} ${result.name}: ${result.reason ?? ""}`);
        }
      }
      failed += counts.warn + counts.error;
      console.log(
        `audit ${label}: ${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ` +
          `${counts.error} errors of ${results.length}` +
          (counts.expected ? `, ${counts.expected} refused introspection as expected` : ""),
      );
    } finally {
      await service.stop();
    }
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
process.exitCode = failed === 0 ? 0 : 1;
