"""The package a production installation gets: `app` alone, never the LiteLLM emulator."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_the_service_and_not_the_emulator(tmp_path: Path) -> None:
    # The checkout as the image build sees it, emulator included: pyproject alone leaves it out.
    source = tmp_path / "source"
    for name in ("app", "litellm_emulator"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "frontend-contract/persisted-documents.json"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(  # noqa: S603  (pip on our own source)
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr

    [wheel] = (tmp_path / "dist").glob("litemaas_bff-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
    packages = {
        name.split("/")[0] for name in files if not name.split("/")[0].endswith(".dist-info")
    }

    assert packages == {"app"}
    assert "app/cli.py" in files
    assert "app/graphql/persisted-documents.json" in files
    assert not [name for name in files if "litellm_emulator" in name]
