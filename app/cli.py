"""`litemaas-bff`: serve, dev, migrate, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from app.db import migrate
from app.db.engine import create_engine
from app.http import access_log
from app.metrics import MULTIPROCESS_DIR
from app.settings import ConfigurationError, Environment, Settings, configured_env, load_settings

log = logging.getLogger("app.cli")
# The mode reaches every worker process through the factory it imports: the production one
# cannot start the in-process LiteLLM emulator, whatever the environment says. The development
# one lives beside the emulator, outside `app`, and is named only here, as a string: `app` never
# imports the emulator, which a production installation may lack.
APP_FACTORY = {
    Environment.PRODUCTION: "app.main:create_app_from_env",
    Environment.DEVELOPMENT: "litellm_emulator.dev_app:create_dev_app_from_env",
}
DEV_PACKAGE = APP_FACTORY[Environment.DEVELOPMENT].split(".")[0]
WORKER_HEALTHCHECK_SECONDS = 30
# What the command runs as; ENV may repeat it but not contradict it.
MODES = {"serve": Environment.PRODUCTION, "dev": Environment.DEVELOPMENT}
ENV_CONTRADICTS = {
    "serve": "`serve` always runs as production; for development use `litemaas-bff dev`",
    "dev": "`dev` runs as development; in production use `litemaas-bff serve`",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="litemaas-bff", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service as in production (no migrations)")
    dev = commands.add_parser(
        "dev", help="apply migrations, then run with development conveniences"
    )
    dev.add_argument(
        "--no-migrate", action="store_true", help="serve the database as it is (no migrations)"
    )
    migrate_cmd = commands.add_parser("migrate", help="apply database migrations")
    migrate_cmd.add_argument("revision", nargs="?", default="head")
    migrate_cmd.add_argument(
        "--down", action="store_true", help="downgrade to REVISION (default: base)"
    )
    export = commands.add_parser("export-schema", help="print the sorted GraphQL SDL")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)

    if args.command == "export-schema":
        return _export_schema(args.output)

    logging.basicConfig(level=logging.INFO, format=access_log.LOG_FORMAT)
    mode = MODES.get(args.command)
    configured = configured_env()
    if mode is not None and configured is not None and configured.lower() != mode:
        print(
            f"litemaas-bff {args.command}: ENV={configured}: {ENV_CONTRADICTS[args.command]}",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings(mode)
    except ConfigurationError as exc:
        print(
            f"litemaas-bff {args.command}: refusing to start; fix these settings "
            "(README.md, Configuration):",
            *(f"  {problem}" for problem in exc.problems),
            sep="\n",
            file=sys.stderr,
        )
        return 2

    if args.command == "migrate":
        revision = "base" if args.down and args.revision == "head" else args.revision
        asyncio.run(_migrate(settings, revision, down=args.down))
        return 0
    if args.command == "dev" and importlib.util.find_spec(DEV_PACKAGE) is None:
        print(
            f"litemaas-bff dev: `{DEV_PACKAGE}`, the in-process LiteLLM emulator it serves, "
            "is not installed: it is not part of the litemaas-bff package. Run `dev` from a "
            "checkout of the source: `make run` there (or `make .venv/.installed`, then "
            "`.venv/bin/litemaas-bff dev`)",
            file=sys.stderr,
        )
        return 2
    if args.command == "dev" and not args.no_migrate:
        asyncio.run(_migrate(settings, "head", down=False))
    with _metrics_directory(settings.web_concurrency):
        _serve(settings)
    return 0


def _serve(settings: Settings) -> None:
    uvicorn.run(
        APP_FACTORY[settings.env],
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        log_level=settings.log_level,
        log_config=access_log.log_config(settings.log_level, json_lines=settings.is_production),
        # app/http/request_log.py logs each request, with its id and without the query string.
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        # h11, not httptools: httptools has no bound on a request line or header (it read a
        # 100 MB header whole, 28 s, while /healthz waited up to 4.6 s); h11 answers one past
        # this bound with 400 and closes.
        http="h11",
        h11_max_incomplete_event_size=settings.max_request_header_bytes,
        # A worker answers the supervisor's health check only once its interpreter is up: on a
        # busy machine that takes more than uvicorn's 5 s, and the worker was killed at start.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


@contextlib.contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """With several workers, a directory they all write their metrics to (app/metrics.py),
    set in the environment they start with: PROMETHEUS_MULTIPROC_DIR when the operator set
    it (emptied first: values of a previous run would add up), else a temporary one."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
    if workers <= 1 or given:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="litemaas-bff-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


async def _migrate(settings: Settings, revision: str, *, down: bool) -> None:
    engine = create_engine(settings)
    try:
        if down:
            await migrate.downgrade(engine, revision)
        else:
            await migrate.upgrade(engine, revision)
    finally:
        await engine.dispose()
    log.info("database migrated %s to %s", "down" if down else "up", revision)


def _export_schema(output: Path | None) -> int:
    from app.graphql.schema import export_sdl

    sdl = export_sdl()
    if output is None:
        sys.stdout.write(sdl)
    else:
        output.write_text(sdl)
    return 0
