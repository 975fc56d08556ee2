"""An in-memory LiteLLM proxy for development and tests.

It answers the calls the BFF makes as a real LiteLLM 1.108.7 does (statuses, the error envelope
`{"error": {"message", "type", "param", "code": "<status>"}}`, body shapes), and the contract
suite in tests/contract/ runs the same cases against it and against real proxies.

In a test, drive it in-process::

    emu = LiteLLMEmulator(master_key="sk-emulator-master", models=["m1", "m2"])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url="http://x")
    emu.add_model("ollama/llama2"); emu.remove_model("m2")
    emu.faults.down = True       # every request raises httpx.ConnectError, as a refused connection
    emu.faults.latency = 0.2     # seconds added to every answer
    emu.faults.error_rate = 0.5  # that fraction of answers are LiteLLM-style 500s
    emu.faults.clear()
    emu.requests                 # [(method, path)] received (refused ones are not)
    emu.users, emu.keys          # read-only views (keys by token); emu.deleted_keys, emu.models

Or serve it on a port (127.0.0.1 only)::

    python -m litellm_emulator --port 4100 [--master-key sk-...] [--models m1,m2]

Served on a socket, a "down" emulator hangs up on every LiteLLM request without answering (the
client sees a transport error), while the control API keeps answering so it can be revived.

Control API (JSON; `Authorization: Bearer <master key>`; faults never apply to it):

    GET    /_emulator/faults          {"down": false, "latency": 0.0, "error_rate": 0.0}
    PATCH  /_emulator/faults          set any of down, latency (s >= 0), error_rate (0..1)
    DELETE /_emulator/faults          clear every fault
    POST   /_emulator/models          {"model_name": "ollama/llama2", "model_info": {...}} -> 201
    DELETE /_emulator/models/<name>   stop serving a model (the name may contain "/") -> 200/404
    GET    /_emulator/requests        {"requests": [[method, path], ...]}
"""

from litellm_emulator.emulator import LiteLLMEmulator
from litellm_emulator.faults import Faults

__all__ = ["Faults", "LiteLLMEmulator"]
