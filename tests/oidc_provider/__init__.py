"""A real OpenID provider for the sign-in tests: ``server.js`` (oidc-provider, from the npm registry,
installed by ``make test`` into this folder) run by Node.js on 127.0.0.1.

``OpenIDProvider`` starts it with GAS's clients registered and drives its test controls: accounts
and their claims, key rotation, and ID tokens spoiled on purpose (expired, wrongly signed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node") or "/usr/bin/node"


def require_provider() -> None:
    """Skip (fail in CI) where Node.js or the npm package is missing."""
    missing = []
    if not os.path.exists(NODE):
        missing.append("Node.js (apt-get install nodejs npm)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        missing.append(f"oidc-provider (npm ci --prefix {HERE}, which make test runs)")
    if missing:
        message = "the test OpenID provider needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class OpenIDProvider:
    def __init__(self, *, clients: list[dict[str, Any]]) -> None:
        require_provider()
        self._folder = tempfile.TemporaryDirectory(prefix="gas-oidc-")
        config = Path(self._folder.name) / "config.json"
        config.write_text(json.dumps({"port": 0, "clients": clients}))
        self._log = open(Path(self._folder.name) / "provider.log", "w+")
        self._process = subprocess.Popen(
            [NODE, str(HERE / "server.js"), str(config)],
            stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=HERE,
        )  # fmt: skip
        line = self._process.stdout.readline() if self._process.stdout else ""
        if not line:
            self.stop()
            raise RuntimeError(f"the test OpenID provider did not start: {self.log()}")
        self.issuer: str = json.loads(line)["issuer"]

    def _control(self, path: str, **body: Any) -> dict[str, Any]:
        response = requests.post(f"{self.issuer}/_test/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def account(self, account_id: str, *, password: str, **claims: Any) -> None:
        self._control("account", id=account_id, password=password, claims=claims)

    def rotate_keys(self) -> str:
        """Sign with a new key from now on; the old one is no longer published. Returns the new kid."""
        return self._control("rotate-keys")["kid"]

    def spoil_id_tokens(self, mode: str | None) -> None:
        """``expired``, ``foreign-key`` (same kid, another key), ``previous-key`` (the key from before
        the last rotation, no longer published) or None (honest tokens again)."""
        self._control("id-token", mode=mode)

    def hold_answers(self, hold: bool) -> None:
        """Show the redirect back to GAS as a link (``#answer``) rather than follow it."""
        self._control("hold-answer", hold=hold)

    def jwks(self) -> dict[str, Any]:
        return requests.get(f"{self.issuer}/jwks", timeout=10).json()

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()[-4000:]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._log.close()
        self._folder.cleanup()
