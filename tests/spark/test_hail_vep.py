"""GAS inside Spark (issue 32, item 3): Hail's ``hl.vep`` runs ``jobs.annotation.stream`` as it would
run Ensembl VEP, with the README's own configuration, in local mode (Java from Debian, Hail in
``.venv-hail``: ``make hail-env``, which ``make test`` runs). Every variant's CSQ from Hail equals
``manage.py annotate``'s on the same VCF; the JSON form carries one transcript consequence per
transcript entry of that CSQ."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAIL_PYTHON = ROOT / ".venv-hail" / "bin" / "python"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(  # (no database in it: the SQLite pass runs it, the PostgreSQL pass need not again)
        os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="runs once, in the SQLite pass"
    ),
]

HAIL_SCRIPT = r"""
import json, sys
import hail as hl
vcf, config, out, tmp = sys.argv[1:5]
hl.init(master="local[2]", quiet=True, tmp_dir=tmp, local_tmpdir=tmp,
        spark_conf={"spark.driver.memory": "1g", "spark.ui.enabled": "false"})
mt = hl.import_vcf(vcf, reference_genome="GRCh37")
csq = hl.vep(mt, config, csq=True)
rows = csq.rows().collect()
header = hl.eval(csq.vep_csq_header)
as_json = hl.vep(mt.rows().select(), config, csq=False, block_size=50).collect()
with open(out, "w") as handle:
    json.dump({
        "header": header,
        "csq": {f"{r.locus.contig}:{r.locus.position}:{'/'.join(r.alleles)}": list(r.vep or []) for r in rows},
        "json": {f"{r.locus.contig}:{r.locus.position}:{'/'.join(r.alleles)}": {
            "most_severe": r.vep.most_severe_consequence, "allele_string": r.vep.allele_string,
            "transcripts": [t.transcript_id for t in (r.vep.transcript_consequences or [])],
        } for r in as_json},
    }, handle)
"""


def readme_config() -> dict:
    """The hl.vep configuration as the README shows it (the ```json block after its hl.vep heading)."""
    text = (ROOT / "README.md").read_text()
    found = re.search(r"### Inside Spark.*?```json\n(.*?)```", text, re.S)
    assert found, "the README shows the hl.vep configuration in a json block under '### Inside Spark'"
    return json.loads(found.group(1))


def small_vcf(path: Path) -> int:
    """Real data: vt's chr20 indels and dbSNP common chr20 SNVs and indels (tests/data, reference/demo)."""
    indels = [line for line in gzip.open(ROOT / "tests" / "data" / "vt_chr20_indels.vcf.gz", "rt")]
    header = [line for line in indels if line.startswith("##") and not line.startswith("##INFO")]
    records = {}
    for line in indels:
        if not line.startswith("#"):
            chrom, pos, _id, ref, alt = line.split("\t")[:5]
            records[(int(pos), ref, alt)] = f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\n"
    dbsnp = gzip.open(ROOT / "reference" / "demo" / "dbsnp_common_GRCh37.chr20.vcf.gz", "rt")
    taken = 0
    for line in dbsnp:
        if line.startswith("#"):
            continue
        chrom, pos, _id, ref, alt = line.split("\t")[:5]
        if int(pos) % 40 == 0 and "<" not in alt:  # (a spread of positions along the chromosome)
            records[(int(pos), ref, alt)] = f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\n"
            taken += 1
            if taken == 400:
                break
    body = [records[key] for key in sorted(records)]
    path.write_text("".join(header) + "##contig=<ID=20,length=63025520>\n"
                    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(body))  # fmt: skip
    return len(body)


def csq_by_variant(path: Path) -> dict[str, list[str]]:
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        csq = next((item[4:] for item in columns[7].split(";") if item.startswith("CSQ=")), "")
        found[f"{columns[0]}:{columns[1]}:{columns[3]}/{columns[4].replace(',', '/')}"] = csq.split(",") if csq else []
    return found


def test_hl_vep_with_the_readme_config_gives_the_csq_of_manage_py_annotate(tmp_path, demo_reference_dir):
    if not HAIL_PYTHON.exists() or not shutil.which("java"):
        pytest.fail("Hail needs .venv-hail (make hail-env) and Java (apt-get install default-jre-headless)")
    config = readme_config()
    assert config["command"][:3] == [".venv/bin/python", "-m", "jobs.annotation.stream"]
    config["env"] = {**config.get("env", {}), "GAS_REFERENCE_DIR": str(demo_reference_dir)}
    config_path = tmp_path / "vep-config.json"
    config_path.write_text(json.dumps(config))
    vcf = tmp_path / "small.vcf"
    count = small_vcf(vcf)
    expected = tmp_path / "expected.vcf"
    env = {**os.environ, "GAS_REFERENCE_DIR": str(demo_reference_dir)}
    annotate = subprocess.run(
        [sys.executable, "manage.py", "annotate", str(vcf), "-o", str(expected), "--reference", "demo",
         "--no-id-column", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert annotate.returncode == 0, annotate.stderr
    out = tmp_path / "hail.json"
    hail = subprocess.run(
        [str(HAIL_PYTHON), "-c", HAIL_SCRIPT, str(vcf), str(config_path), str(out), str(tmp_path / "hail-tmp")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=800,
    )  # fmt: skip
    assert hail.returncode == 0, hail.stderr[-4000:]
    got = json.loads(out.read_text())
    want = csq_by_variant(expected)
    assert len(want) == count and len(got["csq"]) == count
    assert got["csq"] == want  # every variant's CSQ, entry by entry
    assert sum(len(entries) for entries in want.values()) > count  # (transcripts, not only intergenic)
    assert "Format: Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|" in got["header"]
    fields = got["header"].split("Format: ", 1)[1].split("|")
    for key, entries in want.items():
        transcripts = [e.split("|")[fields.index("Feature")] for e in entries
                       if e.split("|")[fields.index("Feature_type")] == "Transcript"]  # fmt: skip
        assert got["json"][key]["transcripts"] == transcripts, key
        assert got["json"][key]["most_severe"], key
