"""Sweep: every VCF and BCF file of a folder through `manage.py annotate`, one at a time, as a new
user would, classed as the suite's README asks (../shared/data/vcf-suite/README.md):

  annotated  exit 0, the output read back by htslib (pysam), as many records out as in
  refused    a CommandError naming the file (and line) and what was expected
  lost       exit 0 but records lost, or the output unreadable where the input was readable
  crashed    any other exception (a traceback)
  hung       still running after --timeout seconds

    python benchmarks/vcf_suite.py ../shared/data/vcf-suite [--timeout 120] [--show refused]

Each file runs in a child process of its own (a hang is cut off there); prints a line per file
that is not annotated, and the counts per class.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gas_site.settings")

SUFFIXES = (".vcf", ".vcf.gz", ".bcf")


def records_in(path: Path) -> int | None:
    """Data records as htslib reads them; None where htslib cannot read the file."""
    import pysam

    try:
        with pysam.VariantFile(str(path)) as handle:
            return sum(1 for _ in handle)
    except Exception:
        return None


def run_one(path: str, out_dir: str, queue: multiprocessing.Queue) -> None:
    from django.core.management import CommandError, call_command

    output = Path(out_dir) / (Path(path).name + ".annot.vcf.gz")
    try:
        call_command("annotate", path, "-o", str(output), "--quiet", stdout=open(os.devnull, "w"),
                     stderr=open(os.devnull, "w"))  # fmt: skip
    except CommandError as exc:
        queue.put(("refused", str(exc)))
        return
    except BaseException:
        queue.put(("crashed", traceback.format_exc(limit=3)))
        return
    queue.put(("done", str(output)))


def sweep(folder: Path, timeout: float) -> list[tuple[str, str, str]]:
    files = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIXES))
    results = []
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="gas-sweep-") as scratch:
        for path in files:
            queue = context.Queue()
            child = context.Process(target=run_one, args=(str(path), scratch, queue))
            child.start()
            child.join(timeout)
            if child.is_alive():
                child.kill()
                results.append((path.name, "hung", f"still running after {timeout:.0f} s"))
                continue
            kind, detail = queue.get() if not queue.empty() else ("crashed", f"exit code {child.exitcode}")
            if kind == "done":
                expected, got = records_in(path), records_in(Path(detail))
                if expected is None and got is None:  # (garbage in, the same out: not a loss)
                    kind, detail = "annotated", "passed through: htslib reads neither the input nor the output"
                elif got is None or (expected is not None and got != expected):
                    kind, detail = "lost", f"{expected} records in, {got} out"
                else:
                    kind, detail = "annotated", f"{got} records"
            results.append((path.name, kind, detail))
            for leftover in Path(scratch).iterdir():
                leftover.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--show", default="refused,lost,crashed,hung", help="classes to list file by file")
    parser.add_argument("--json", type=Path, help="write every file's outcome here")
    options = parser.parse_args()
    import django

    django.setup()  # (once: each file's child process is forked from this one, and loads the reference itself)
    results = sweep(options.folder, options.timeout)
    shown = set(options.show.split(","))
    for name, kind, detail in results:
        if kind in shown:
            print(f"{kind:<9} {name}: {detail.strip().splitlines()[-1] if detail.strip() else ''}")
    counts = Counter(kind for _, kind, _ in results)
    print(f"\n{len(results)} files: " + ", ".join(f"{counts[k]} {k}" for k in
                                               ("annotated", "refused", "lost", "crashed", "hung")))  # fmt: skip
    if options.json:
        options.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
