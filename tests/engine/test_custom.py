"""Custom sources matched allele-exactly, as VEP's --custom ...,type=exact (issue 13): the same
values on every entry of the allele, Number=A split per ALT, several matches joined with '&',
multi-allelic and padded forms on either side, chr aliases, and clear refusals."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest

from jobs.annotation.custom import CustomSpec, minimal
from jobs.annotation.engine import annotate_vcf
from jobs.annotation.errors import AnnotationError
from tests.engine.conftest import csq_entries, write_vcf

SOURCE_HEADER = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency, per ALT">\n'
    '##INFO=<ID=SIG,Number=1,Type=String,Description="Significance">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def make_source(tmp_path, lines: list[str], contig: str = "20"):
    plain = tmp_path / "source.vcf"
    plain.write_text(SOURCE_HEADER + "".join(f"{contig}\t{line}\n" for line in lines))
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-p", "vcf", f"{plain}.gz"], check=True)
    return f"{plain}.gz"


def annotate_with(reference, tmp_path, records, spec_text):
    source = write_vcf(tmp_path / "in.vcf", records)
    result = annotate_vcf(source, tmp_path / "out.vcf", reference, customs=[CustomSpec.parse(spec_text)])
    return result, csq_entries(result.output)


def by_allele(entries):
    """{allele: (ids, AF, SIG)}, checking every entry of an allele carries the same values."""
    values: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        found = tuple(entry[-4:-1])
        assert values.setdefault(entry[0], found) == found, entry
    return values


def test_exact_matches_per_allele_with_multiallelic_and_padded_forms(demo_reference, tmp_path):
    pos = 1_000_000
    ref = demo_reference.sequence("20", pos, pos + 5)
    a, b = ("C" if ref[1] != "C" else "G"), ("T" if ref[1] != "T" else "A")
    path = make_source(
        tmp_path,
        [
            f"{pos}\tsiteA\t{ref[:2]}\t{ref[0]}{a},{ref[0]}\t.\t.\tAF=0.1,0.2;SIG=benign",  # SNV padded + deletion
            f"{pos + 1}\tsiteB\t{ref[1]}\t{a}\t.\t.\tAF=0.3;SIG=pathogenic",  # the same SNV, minimal
            f"{pos + 3}\tother\t{ref[3]}\t{'A' if ref[3] != 'A' else 'C'}\t.\t.\tAF=0.9;SIG=x",  # not in the input
        ],
    )
    records = [("20", pos + 1, ref[1], f"{a},{b}"), ("20", pos, ref[:2], ref[0])]
    result, entries = annotate_with(
        demo_reference, tmp_path, records, f"file={path},short_name=SRC,format=vcf,type=exact,fields=AF%SIG"
    )
    values = by_allele(entries)
    assert values[a] == ("siteA&siteB", "0.1&0.3", "benign&pathogenic")  # two lines, joined as VEP
    assert values[b] == ("", "", "")  # same position, another ALT: no match
    assert values["-"] == ("siteA", "0.2", "benign")  # the deletion: the second ALT's AF
    assert result.stats.as_dict()["custom_source_matches"] == {"SRC": 2}  # (alleles, not entries)
    assert "Alleles matched by custom source SRC: 2" in result.log.read_text()
    header = result.output.read_text()
    assert "|HGVS_OFFSET|SRC|SRC_AF|SRC_SIG|" in header
    described = f'Description="Allele frequency, per ALT. AF field from {path}"'
    assert f"##INFO=<ID=SRC_AF,Number=.,Type=String,{described}>" in header


def test_chr_named_source_matches_and_symbolic_alleles_do_not(demo_reference, tmp_path):
    pos = 2_000_000
    ref = demo_reference.sequence("20", pos, pos)
    alt = "A" if ref != "A" else "C"
    path = make_source(tmp_path, [f"{pos}\tchrsite\t{ref}\t{alt}\t.\t.\tAF=0.5;SIG=s"], contig="chr20")
    records = [("20", pos, ref, alt), ("20", pos, ref, "<DEL>", "SVTYPE=DEL;END=2000100")]
    _, entries = annotate_with(demo_reference, tmp_path, records, f"file={path},short_name=S,fields=AF")
    values = {entry[0]: tuple(entry[-3:-1]) for entry in entries}
    assert values[alt] == ("chrsite", "0.5")
    assert values["deletion"] == ("", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("short_name=S", "file= is required"),
        ("file=x.vcf.gz,type=within", "type=within is not supported (expected exact or overlap)"),
        ("file=x.bed.gz,format=bigwig", "format=bigwig is not supported (expected vcf or bed)"),
        ("file=x.bed.gz,format=bed,type=exact", "a BED source is matched by overlap only"),
        ("file=x.bed.gz,format=bed,fields=A", "a BED source has no fields"),
        ("file=x.vcf.gz,short_name=a|b", "the short name may hold only letters"),
        ("file=x.vcf.gz,coords=1", "only coords=0 is supported"),
        ("file=x.vcf.gz,colour=red", "unknown option(s) colour"),
        ("file", "expected key=value pairs"),
    ],
)
def test_bad_custom_specs_are_refused_clearly(text, message):
    with pytest.raises(AnnotationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CustomSpec.parse(text)


def test_a_missing_field_or_file_is_refused_before_any_work(demo_reference, tmp_path):
    path = make_source(tmp_path, [])
    source = write_vcf(tmp_path / "in.vcf", [("20", 1_000_000, "A", "C")])
    out = tmp_path / "out.vcf"
    with pytest.raises(AnnotationError, match="has no INFO field NOPE"):
        annotate_vcf(source, out, demo_reference, customs=[CustomSpec.parse(f"file={path},fields=NOPE")])
    with pytest.raises(AnnotationError, match="does not exist"):
        annotate_vcf(source, out, demo_reference, customs=[CustomSpec.parse("file=/nowhere.vcf.gz")])
    assert not (tmp_path / "out.vcf").exists()


def test_minimal_form():
    assert minimal(100, "ATGATGG", "AGCTAGTTGATGG") == minimal(101, "TGATGG", "GCTAGTTGATGG") == (101, "", "GCTAGT")
    assert minimal(100, "ATA", "A") == (101, "TA", "")
    assert minimal(100, "GT", "GC") == (101, "T", "C")


def test_several_processes_give_the_same_custom_values(demo_reference, tmp_path):
    pos = 3_000_000
    ref = demo_reference.sequence("20", pos, pos)
    alt = "A" if ref != "A" else "C"
    path = make_source(tmp_path, [f"{pos}\tpsite\t{ref}\t{alt}\t.\t.\tAF=0.25;SIG=s"])
    records = [("20", pos, ref, alt)] + [("20", pos + i * 10, "N", "G") for i in range(1, 3)]
    source = write_vcf(tmp_path / "in.vcf", records)
    spec = [CustomSpec.parse(f"file={path},short_name=P,fields=AF")]
    one = annotate_vcf(source, tmp_path / "one.vcf", demo_reference, customs=spec)
    two = annotate_vcf(source, tmp_path / "two.vcf", demo_reference, customs=spec, processes=2)
    assert one.output.read_text() == two.output.read_text()
    assert "|psite|0.25|" in one.output.read_text()


def test_the_annotate_command_takes_vep_custom_specs(tmp_path, demo_reference, demo_reference_dir):
    import os
    import sys
    from pathlib import Path

    pos = 4_000_000
    ref = demo_reference.sequence("20", pos, pos)
    alt = "A" if ref != "A" else "C"
    path = make_source(tmp_path, [f"{pos}\tclisite\t{ref}\t{alt}\t.\t.\tAF=0.75;SIG=s"])
    source = write_vcf(tmp_path / "in.vcf", [("20", pos, ref, alt)])
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "GAS_REFERENCE_DIR": str(demo_reference_dir), "GAS_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "manage.py", "annotate", str(source), "-o", str(tmp_path / "out.vcf"), "--quiet"]
    done = subprocess.run(
        [*command, "--custom", f"file={path},short_name=CLI,format=vcf,type=exact,coords=0,fields=AF%SIG"],
        cwd=root, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "|clisite|0.75|s|" in (tmp_path / "out.vcf").read_text()
    refused = subprocess.run(
        [*command, "--custom", f"file={path},type=within"],
        cwd=root, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert refused.returncode == 1 and "type=within is not supported" in refused.stderr


def make_bed(tmp_path, lines: list[str], name: str = "regions.bed"):
    plain = tmp_path / name
    plain.write_text("".join(line + "\n" for line in lines))
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-p", "bed", f"{plain}.gz"], check=True)
    return f"{plain}.gz"


def test_overlap_bed_reports_every_overlapping_feature_by_name(demo_reference, tmp_path):
    pos = 5_000_000
    ref = demo_reference.sequence("20", pos - 1, pos + 30)
    snv_alt = "A" if ref[1] != "A" else "C"
    path = make_bed(
        tmp_path,
        [
            f"chr20\t{pos - 11}\t{pos + 20}\tpanel_exon",  # covers POS-10..POS+20
            f"chr20\t{pos - 1}\t{pos}\tfirst_base",  # 0-based: covers exactly POS
            f"chr20\t{pos}\t{pos + 5}",  # no name: reported by its coordinates, 1-based
            f"chr20\t{pos + 25}\t{pos + 26}\tfar",  # past every variant below
        ],
    )
    records = [
        ("20", pos, ref[1], snv_alt),  # SNV at POS
        ("20", pos + 21, ref[22:25], ref[22]),  # deletion of POS+22..POS+23: meets nothing
        ("20", pos + 20, ref[21], ref[21] + "TT"),  # insertion after POS+20: between 20 and 21
        ("20", pos + 1, ref[2], "<DEL>", f"SVTYPE=DEL;END={pos + 30}"),  # SV over POS+2..POS+30
    ]
    _, entries = annotate_with(
        demo_reference, tmp_path, records, f"file={path},short_name=PANEL,format=bed,type=overlap"
    )
    values = {entry[0]: entry[-2] for entry in entries}
    assert values[snv_alt] == "panel_exon&first_base"  # (in the file's order)
    assert values["-"] == ""
    assert values["TT"] == "panel_exon"  # (the base before the insertion is in the feature)
    assert values["deletion"] == f"panel_exon&chr20:{pos + 1}-{pos + 5}&far"


def test_overlap_vcf_reports_ids_and_whole_field_values(demo_reference, tmp_path):
    pos = 6_000_000
    ref = demo_reference.sequence("20", pos, pos + 10)
    alt = "A" if ref[3] != "A" else "C"
    other = "G" if ref[3] not in "GA" else "T"
    path = make_source(
        tmp_path,
        [
            f"{pos}\tcnv1;alias\t{ref[:6]}\t{ref[0]}\t.\t.\tAF=0.01;SIG=pathogenic",  # spans POS..POS+5
            f"{pos + 3}\t.\t{ref[3]}\t{alt},{other}\t.\t.\tAF=0.2,0.3;SIG=x",
        ],
    )
    records = [("20", pos + 3, ref[3], other)]
    _, entries = annotate_with(
        demo_reference, tmp_path, records, f"file={path},short_name=OV,format=vcf,type=overlap,fields=AF%SIG"
    )
    values = {entry[0]: tuple(entry[-4:-1]) for entry in entries}
    # (the first ID only; no ID: the coordinates; the fields' whole values, not the matching ALT's)
    assert values[other] == (f"cnv1&20:{pos + 3}-{pos + 3}", "0.01&0.2&0.3", "pathogenic&x")


def test_streamed_indexed_and_unsorted_reads_agree_across_window_edges(demo_reference, tmp_path):
    """Sorted input reads the source as one stream (the next window continues where the last
    stopped); unsorted input and a CSI index (no linear index) query it instead: same values."""
    edge = 2 * (1 << 20)  # (a window boundary of jobs.annotation.custom)
    ref = demo_reference.sequence("20", edge - 3, edge + 3)  # ref[i] is at edge - 3 + i

    # (three SNVs with three different ALTs, so that each allele is told apart in the output)
    alt1, alt3, alt5 = next(
        alts for alts in itertools.permutations("ACGT", 3) if all(a != ref[i] for a, i in zip(alts, (1, 3, 5)))
    )
    lines = [
        f"{edge - 2}\tbefore\t{ref[1]}\t{alt1}\t.\t.\tAF=0.1;SIG=a",
        f"{edge - 1}\tpadded_del\t{ref[2:4]}\t{ref[2]}\t.\t.\tAF=0.2;SIG=b",  # deletes the edge base itself
        f"{edge - 1}\tpadded_snv\t{ref[2:4]}\t{ref[2]}{alt3}\t.\t.\tAF=0.3;SIG=c",  # the SNV at the edge
        f"{edge}\tat_edge\t{ref[3]}\t{alt3}\t.\t.\tAF=0.4;SIG=d",
        f"{edge + 2}\tafter\t{ref[5]}\t{alt5}\t.\t.\tAF=0.5;SIG=e",
    ]
    plain = tmp_path / "edge.vcf"
    plain.write_text(SOURCE_HEADER + "".join(f"20\t{line}\n" for line in lines))
    subprocess.run(["bgzip", "-k", "-f", str(plain)], check=True)
    tbi = f"{plain}.gz"
    subprocess.run(["tabix", "-p", "vcf", tbi], check=True)
    csi_copy = tmp_path / "edge_csi.vcf.gz"
    csi_copy.write_bytes(Path(tbi).read_bytes())
    subprocess.run(["tabix", "-C", "-p", "vcf", str(csi_copy)], check=True)
    records = [
        ("20", edge - 2, ref[1], alt1),
        ("20", edge - 1, ref[2:4], ref[2]),
        ("20", edge, ref[3], alt3),
        ("20", edge + 2, ref[5], alt5),
        ("20", 3 * (1 << 20) + 5, "N", "NTTT"),  # (a later window, so that the stream moves on)
    ]
    expected = {
        alt1: ("before", "0.1", "a"),
        "-": ("padded_del", "0.2", "b"),
        alt3: ("padded_snv&at_edge", "0.3&0.4", "c&d"),
        alt5: ("after", "0.5", "e"),
    }
    for name, path, order in (
        ("sorted", tbi, records),
        ("unsorted", tbi, records[::-1]),
        ("csi", str(csi_copy), records),
    ):
        folder = tmp_path / name
        folder.mkdir()
        _, entries = annotate_with(demo_reference, folder, order, f"file={path},short_name=E,fields=AF%SIG")
        found = {allele: values for allele, values in by_allele(entries).items() if allele in expected}
        assert found == expected, name


def test_info_value_finds_fields_and_flags_without_splitting():
    from jobs.annotation.custom import info_value

    info = "AC=3;AF_popmax=0.5;AF=0.1,0.2;DB;END=5"
    assert info_value(info, "AF") == "0.1,0.2"  # (not AF_popmax)
    assert info_value(info, "AC") == "3" and info_value(info, "END") == "5"
    assert info_value(info, "DB") == ""  # a flag
    assert info_value(info, "F") is None and info_value(info, "popmax") is None and info_value(".", "AF") is None


def test_the_fast_text_of_a_match_equals_its_values_joined(tmp_path):
    """The engine's path (``text``: SNVs keyed by a number, INFO read without a split) gives what
    ``values`` gives, joined as the CSQ carries them, for every kind of line: SNVs in either case,
    N bases, indels, padded and multi-allelic forms, Number=A/R/1/. fields, flags, values holding
    commas, bars and spaces, several lines for one allele; and nothing for alleles it lacks. The same
    from the prepared form registration writes (``prepare_source``)."""
    import random

    from jobs.annotation.custom import allele_key, open_source, prepare_source, snv_code

    header = (
        "##fileformat=VCFv4.2\n"
        '##INFO=<ID=AF,Number=A,Type=Float,Description="per ALT">\n'
        '##INFO=<ID=AD,Number=R,Type=Integer,Description="per allele">\n'
        '##INFO=<ID=SIG,Number=.,Type=String,Description="text">\n'
        '##INFO=<ID=KNOWN,Number=0,Type=Flag,Description="flag">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    rng = random.Random(7)
    lines, asked = [], []
    pos = 100
    for number in range(3000):
        pos += rng.randint(0, 3) if rng.random() < 0.8 else rng.randint(100, 2000)  # (over several windows)
        ref = "".join(rng.choice("ACGTacgtN") for _ in range(rng.choice((1, 1, 1, 2, 4))))
        count = rng.choice((1, 1, 2, 3))
        alts = ["".join(rng.choice("ACGTN") for _ in range(rng.choice((1, 1, 2, 3)))) for _ in range(count)]
        alts = [alt for alt in alts if alt.upper() != ref.upper()] or ["A" if ref[0].upper() != "A" else "C"]
        info = [f"AF={','.join(f'{rng.random():.3f}' for _ in alts)}",
                f"AD={','.join(str(rng.randint(0, 9)) for _ in range(len(alts) + 1))}"]
        if rng.random() < 0.5:
            info.append("SIG=" + rng.choice(["benign", "likely benign", "a|b", "x,y", "drug_response"]))
        if rng.random() < 0.3:
            info.append("KNOWN")
        rng.shuffle(info)
        ident = rng.choice([".", f"rs{number}", f"id{number};other"])
        lines.append(f"20\t{pos}\t{ident}\t{ref}\t{','.join(alts)}\t.\t.\t{';'.join(info)}\n")
        asked += [(pos, ref.upper(), alt.upper()) for alt in alts]
        asked.append((pos, ref.upper(), "T" if ref[0].upper() != "T" else "G"))  # (often not in the source)
    plain = tmp_path / "many.vcf"
    plain.write_text(header + "".join(lines))
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-p", "vcf", f"{plain}.gz"], check=True)
    spec = CustomSpec.parse(f"file={plain}.gz,short_name=S,format=vcf,type=exact,fields=AF%AD%SIG%KNOWN")
    slow, fast = open_source(spec), open_source(spec)
    prepare_source(spec)  # (as registration does: then text() reads the prepared form)
    ready = open_source(spec)
    hits = 0
    for pos, ref, alt in asked:
        start, end = pos, pos + len(ref) - 1
        key = allele_key(start, ref, alt)
        code = snv_code(key[0], key[1], key[2])
        expected = "|".join(slow.values("20", start, end, ref, alt)) + "|"
        assert fast.text("20", start, end, key, code) == expected, (pos, ref, alt)
        assert ready.text("20", start, end, key, code) == expected, ("prepared", pos, ref, alt)
        hits += expected != fast.empty_text
    assert fast.matched == ready.matched == hits > 1000
