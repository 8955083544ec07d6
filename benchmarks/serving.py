"""What the benchmarks that start a GAS site share: a free port, and waiting until it answers."""

from __future__ import annotations

import socket
import time

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(site: str, *, seconds: float = 60) -> None:
    """Until ``site``'s /healthz answers 200; SystemExit naming the site after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{site}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{site} did not answer /healthz within {seconds:.0f} s")
