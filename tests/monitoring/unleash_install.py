"""Where the tests find the open-source Unleash server: Node.js and the ``unleash-server``
package in ``UNLEASH_SERVER_DIR`` (``var/unleash`` by default, where ``.ci/run`` installs it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = Path(os.environ.get("UNLEASH_SERVER_DIR", ROOT / "var" / "unleash"))


def installed() -> bool:
    package = SERVER_DIR / "node_modules" / "unleash-server" / "package.json"
    return bool(shutil.which("node")) and package.exists()
