"""Fault injection for the chaos tests: named points in the job and cold-storage flows where a
process can be made to die as ``kill -9`` would.

Off unless ``GAS_FAULT_POINTS`` (comma-separated point names) and ``GAS_FAULT_DIR`` (a folder
shared by the processes under test) are both set, and never with ``GAS_ENV=production``. Each
named point fires once across all processes: the first to reach it creates a marker file in
``GAS_FAULT_DIR`` (exclusively) and kills itself with SIGKILL, so no handler, ``finally`` or
``on_commit`` runs.
"""

from __future__ import annotations

import os
import signal
import time


def fault_point(name: str) -> None:
    points = os.environ.get("GAS_FAULT_POINTS")
    folder = os.environ.get("GAS_FAULT_DIR")
    if not points or not folder or os.environ.get("GAS_ENV") == "production":
        return
    if name not in points.split(","):
        return
    try:
        fd = os.open(os.path.join(folder, f"{name}.fired"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"{os.getpid()} {time.time():.3f}\n".encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
