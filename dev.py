#!/usr/bin/env python3
"""The README's two commands. Each creates or updates its own virtual environment first.

    python3 dev.py run    [app.py options]   # the product (embedded Redis + simulated city if REDIS_URL is unset)
    python3 dev.py test   [pytest options]   # the tests (real Redis; browser tests in headless Chromium)
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CITYBRAIN_VENV", ROOT / ".venv"))
PY = VENV / "bin" / "python"


def requirements_digest(path: Path) -> str:
    """Hash of a requirements file and the files it includes with -r."""
    h = hashlib.sha256()
    for line in path.read_text().splitlines():
        h.update(line.encode())
        if line.startswith("-r "):
            h.update(requirements_digest(path.parent / line[3:].strip()).encode())
    return h.hexdigest()[:16]


def ensure_venv(requirements: str) -> None:
    req = ROOT / requirements
    stamp = VENV / f".installed-{req.stem}-{requirements_digest(req)}"
    if stamp.exists():
        return
    if not PY.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"dev.py: installing {requirements} into {VENV}", flush=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(req)],
                   check=True)
    for old in VENV.glob(f".installed-{req.stem}-*"):
        old.unlink()
    stamp.touch()


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print("dev.py: City Brain needs Python 3.11 or newer", file=sys.stderr)
        return 2
    if not argv or argv[0] not in ("run", "test"):
        print("usage: python3 dev.py run [app options] | python3 dev.py test [pytest options]", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        ensure_venv("requirements.txt" if command == "run" else "requirements-dev.txt")
    except subprocess.CalledProcessError as e:
        print(f"dev.py: installing dependencies failed (exit {e.returncode})", file=sys.stderr)
        return 1
    os.chdir(ROOT)
    args = [str(PY), "app.py", *rest] if command == "run" else [str(PY), "-m", "pytest", *rest]
    os.execv(args[0], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
