"""`litemaas-bff dev`'s factory: the service as in development, beside the emulator.

It lives here, outside `app`, so the service itself never imports the emulator: `serve` runs
where this package is not installed, and `litemaas-bff dev` names this factory only as a string
that uvicorn imports.
"""

from __future__ import annotations

import logging

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette

from app.main import create_app
from app.settings import DEV_LITELLM_MASTER_KEY, Environment, load_settings
from litellm_emulator.emulator import LiteLLMEmulator

log = logging.getLogger(__name__)
EMULATOR_URL = "http://litellm-emulator.invalid"
EMULATOR_MODELS = ("m1", "m2", "ollama/llama2")


def create_dev_app_from_env() -> Starlette:
    """Development; without LITELLM_URL, the LiteLLM emulator in the same process."""
    settings = load_settings(Environment.DEVELOPMENT)
    if settings.litellm_url is not None:
        return create_app(settings)
    master_key = DEV_LITELLM_MASTER_KEY
    settings = settings.model_copy(
        update={"litellm_url": EMULATOR_URL, "litellm_master_key": SecretStr(master_key)}
    )
    log.warning(
        "LITELLM_URL is not set: using the in-process LiteLLM emulator (models %s)",
        ", ".join(EMULATOR_MODELS),
    )
    emulator = LiteLLMEmulator(master_key=master_key, models=list(EMULATOR_MODELS))
    return create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))
