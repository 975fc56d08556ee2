"""`python -m litellm_emulator --port 4100`: serve the LiteLLM emulator on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from app.settings import ConfigurationError, load_settings
from litellm_emulator.emulator import LiteLLMEmulator
from litellm_emulator.server import LOOPBACK, uvicorn_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m litellm_emulator", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="only 127.0.0.1 is accepted")
    parser.add_argument("--port", type=int, default=4100)
    parser.add_argument("--master-key", default="sk-emulator-master")
    parser.add_argument("--models", default="m1,m2", help="comma-separated model names")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    if args.host != LOOPBACK:
        print(
            f"refusing to listen on {args.host}: the emulator serves 127.0.0.1 only",
            file=sys.stderr,
        )
        return 2
    try:
        production = load_settings().is_production
    except ConfigurationError as exc:
        print("invalid configuration", *exc.problems, sep="\n", file=sys.stderr)
        return 2
    if production:
        print("the LiteLLM emulator is refused with ENV=production", file=sys.stderr)
        return 2
    try:
        emulator = LiteLLMEmulator(
            master_key=args.master_key, models=[m for m in args.models.split(",") if m]
        )
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    uvicorn.Server(uvicorn_config(emulator, args.port, args.log_level)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
