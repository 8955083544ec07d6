"""Fetching reference files that survive interruptions: HTTP(S) with Range resume, a progress bar in a terminal
(speed, ETA) and plain progress lines in logs, and the providers' checksum files."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import time
from http.client import HTTPException
from pathlib import Path
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

logger = logging.getLogger(__name__)

BLOCK = 1 << 20
RETRIES = 5


class DownloadError(Exception):
    pass


def mirrored(url: str, mirror: str) -> str:
    """``url`` with the provider's host replaced by ``mirror`` (a site of the same layout)."""
    if not mirror:
        return url
    parts = urlsplit(url)
    return mirror.rstrip("/") + parts.path


class Progress:
    """A download's progress: a tqdm bar on a terminal, else a log line every 10% or 30 s."""

    def __init__(self, label: str, total: int | None, done: int, stream: IO[str] | None = None) -> None:
        self.label, self.total, self.done = label, total, done
        self.started, self.start_done = time.monotonic(), done
        self.last_line, self.last_percent = self.started, -10
        stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024, desc=label)

    def update(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.monotonic()
        percent = int(100 * self.done / self.total) if self.total else -1
        if percent >= self.last_percent + 10 or now - self.last_line >= 30:
            self.last_line, self.last_percent = now, percent
            logger.info("%s", self.line(now))

    def line(self, now: float) -> str:
        speed = (self.done - self.start_done) / max(now - self.started, 1e-6)
        text = f"{self.label}: {human_size(self.done)}"
        if self.total:
            eta = (self.total - self.done) / speed if speed > 0 else 0
            text += f" of {human_size(self.total)} ({100 * self.done / self.total:.0f}%), ETA {eta:.0f} s"
        return f"{text}, {human_size(int(speed))}/s"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            logger.info("%s (done)", self.line(time.monotonic()))


def human_size(count: int) -> str:
    """1536 -> '1.5 KB' (for progress lines and listings)."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{value:.1f} GB"


def download(url: str, target: Path, *, timeout: float = 60, retries: int = RETRIES, pause: float = 1.0) -> Path:
    """Fetch ``url`` into ``target``. Bytes arrive in ``target``.part; a break (a dropped
    connection, a short body) is resumed from where it stopped with an HTTP Range request, up to
    ``retries`` times; a server that ignores Range is read again from the start. ``target``
    appears only when complete; one already there is kept."""
    if target.is_file():
        return target
    part = target.with_name(target.name + ".part")
    last_error = ""
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with urlopen(Request(url, headers=headers), timeout=timeout) as response:  # noqa: S310 - http(s) URLs of the catalogue
                if have and response.status != 206:
                    have = 0  # (the server sent the whole file)
                length = response.headers.get("Content-Length")
                total = have + int(length) if length and length.isdigit() else None
                progress = Progress(target.name, total, have)
                with open(part, "ab" if have else "wb") as out:
                    for block in iter(lambda: response.read(BLOCK), b""):
                        out.write(block)
                        progress.update(len(block))
                progress.close()
            size = part.stat().st_size
            if total is not None and size < total:
                raise DownloadError(f"{size} of {total} bytes arrived")
            part.rename(target)
            return target
        except HTTPError as exc:
            if exc.code == 416 and have:  # (nothing left past what we have: complete)
                part.rename(target)
                return target
            if exc.code in (401, 403, 404, 410):
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            last_error = f"HTTP {exc.code} {exc.reason}"
        except (URLError, HTTPException, OSError, DownloadError, TimeoutError) as exc:
            last_error = str(exc) or type(exc).__name__
        if attempt < retries:
            logger.warning("%s: %s; resuming (attempt %d of %d)", url, last_error, attempt + 2, retries + 1)
            time.sleep(pause * (attempt + 1))
    raise DownloadError(f"{url}: {last_error} after {retries + 1} attempts (run again to resume)")


def fetch_text(url: str, *, timeout: float = 60) -> str:
    try:
        with urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) URLs of the catalogue
            return response.read().decode("utf-8", errors="replace")
    except (URLError, HTTPException, OSError) as exc:
        raise DownloadError(f"{url}: {exc}") from None


def file_checksum(path: Path, kind: str) -> str:
    """``md5`` (hex) or ``sum`` (the BSD checksum and 1 KB block count Ensembl's CHECKSUMS use)."""
    if kind == "md5":
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                digest.update(block)
        return digest.hexdigest()
    if kind == "sum":
        program = shutil.which("sum") or "/usr/bin/sum"  # (coreutils: BSD sum, as Ensembl's listings)
        output = subprocess.run([program, "-r", str(path)], capture_output=True, text=True, check=True).stdout  # noqa: S603
        checksum, blocks = output.split()[:2]
        return f"{int(checksum)} {int(blocks)}"
    raise ValueError(f"unknown checksum kind {kind!r}")


def expected_checksum(listing: str, file_name: str, kind: str) -> str | None:
    """The checksum a provider's listing (Ensembl CHECKSUMS, GENCODE MD5SUMS, NCBI
    md5checksums.txt) gives ``file_name``, or None when it does not list it."""
    lines = [line for line in listing.splitlines() if line.strip()]
    for line in lines:
        parts = line.replace("=", " ").split()
        if kind == "md5" and len(parts) >= 2 and parts[0].startswith("MD5(") and file_name in parts[0]:
            return parts[-1].lower()  # (openssl's "MD5(name)= hash")
        if kind == "md5" and len(lines) == 1 and len(parts) == 1 and len(parts[0]) == 32:
            return parts[0].lower()  # (a NAME.md5 file holding the hash alone)
        if not parts or parts[-1].removeprefix("./").rsplit("/", 1)[-1] != file_name:
            continue
        if kind == "sum" and len(parts) >= 3:
            return f"{int(parts[0])} {int(parts[1])}"
        if kind == "md5" and len(parts) >= 2:
            return parts[0].lower()
    return None
