"""Choosing the reference a VCF is for: its ##contig lengths and ##reference line against the
installed bundles (and the builds' own chromosome lengths, to name the build a file is for)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from jobs.annotation.errors import ReferenceError_
from jobs.annotation.reference import Reference, bundle_aliases
from jobs.references.bundles import installed_references, load_reference

# Chromosome lengths that tell the builds apart (the primary assemblies' own figures)
BUILD_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {
        "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260, "6": 171115067,
        "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747, "11": 135006516, "12": 133851895,
        "13": 115169878, "14": 107349540, "15": 102531392, "16": 90354753, "17": 81195210, "18": 78077248,
        "19": 59128983, "20": 63025520, "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566,
    },
    "GRCh38": {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259, "6": 170805979,
        "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422, "11": 135086622, "12": 133275309,
        "13": 114364328, "14": 107043718, "15": 101991189, "16": 90338345, "17": 83257441, "18": 80373285,
        "19": 58617616, "20": 64444167, "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
}  # fmt: skip
_BUILD_WORDS = (
    ("GRCh38", re.compile(r"grch38|hg38|hs38", re.I)),
    ("GRCh37", re.compile(r"grch37|hg19|b37|hs37", re.I)),
)


def contig_fields(line: str) -> dict[str, str]:
    """The fields of a ``##contig=<ID=20,length=63025520,...>`` header line."""
    return dict(part.split("=", 1) for part in line[len("##contig=<") : -1].split(",") if "=" in part)


# the length htslib and bcftools write for a contig whose length they do not know (INT32_MAX)
UNKNOWN_CONTIG_LENGTH = 2**31 - 1


def declared_length(fields: dict[str, str]) -> int | None:
    """A ``##contig`` line's length, None where it gives none (or htslib's "unknown", INT32_MAX)."""
    length = fields.get("length", "")
    if not length.isdigit() or int(length) >= UNKNOWN_CONTIG_LENGTH:
        return None
    return int(length)


def header_contigs(lines: list[str]) -> tuple[dict[str, int], str]:
    """The ``##contig`` lengths (those given) and the ``##reference`` line of a VCF header."""
    contigs: dict[str, int] = {}
    reference_line = ""
    for line in lines:
        if line.startswith("##contig=<"):
            fields = contig_fields(line)
            length = declared_length(fields)
            if fields.get("ID") and length is not None:
                contigs[fields["ID"]] = length
        elif line.startswith("##reference="):
            reference_line = line[len("##reference=") :]
    return contigs, reference_line


def _fit(bundle: dict[str, Any], contigs: dict[str, int]) -> tuple[int, int]:
    """(contigs of the same name and length, contigs of the same name and another length)."""
    aliases = bundle_aliases(bundle)
    same = other = 0
    for name, length in contigs.items():
        contig = aliases.get(name)
        if contig is not None:
            if bundle["contigs"][contig] == length:
                same += 1
            else:
                other += 1
    return same, other


def _named_build(contigs: dict[str, int], reference_line: str) -> str:
    """The build the lengths (else the ##reference line) name, or ""."""
    for build, lengths in BUILD_LENGTHS.items():
        if any(lengths.get(name.removeprefix("chr")) == length for name, length in contigs.items()):
            return build
    for build, pattern in _BUILD_WORDS:
        if pattern.search(reference_line):
            return build
    return ""


def _not_installed(build: str, evidence: str, bundles: list[dict[str, Any]]) -> ReferenceError_:
    from jobs.references.catalogue import entries_for_build  # (the catalogue: only for this message)

    installed = ", ".join(f"{b['name']} ({b['build']})" for b in bundles) or "none"
    names = [entry.name for entry in entries_for_build(build)]
    command = f"python manage.py reference install {names[0]}" if names else "python manage.py reference import"
    others = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    return ReferenceError_(
        f"{evidence} {build}, and no {build} reference is installed here (installed: {installed}). "
        f"An operator can install one with: {command}{others}."
    )


def reference_for_header(lines: list[str]) -> Reference:
    """The installed bundle a VCF is for, from its header: the one whose contigs match the most
    ``##contig`` lengths (none of them differing), else one of the build its ``##reference``
    line names, else GAS_DEFAULT_REFERENCE. A file of a build not installed is refused with a
    message that names the build and the command that installs it."""
    contigs, reference_line = header_contigs(lines)
    bundles = installed_references()
    default = settings.GAS_DEFAULT_REFERENCE
    if contigs:
        fits = [(same, bundle) for bundle in bundles for same, other in [_fit(bundle, contigs)] if same and not other]
        if fits:
            best = max(same for same, _ in fits)
            chosen = sorted((b["name"] != default, b["name"]) for same, b in fits if same == best)[0][1]
            return load_reference(chosen)
        build = _named_build(contigs, "")
        if build:  # (contigs of a build a bundle has, just not these ones: that bundle, which says so per job)
            of_build = sorted((b["name"] != default, b["name"]) for b in bundles if b["build"].lower() == build.lower())
            if of_build:  # (a contig of another length there is named by the upload's header check)
                return load_reference(of_build[0][1])
            raise _not_installed(build, "The file's ##contig lengths are those of", bundles)
        clashes = [bundle for bundle in bundles if _fit(bundle, contigs)[1]]
        if clashes:
            aliases = bundle_aliases(clashes[0])
            name, length = next((contig, size) for contig, size in contigs.items()
                                if aliases.get(contig) and clashes[0]["contigs"][aliases[contig]] != size)  # fmt: skip
            theirs = clashes[0]["contigs"][aliases[name]]
            raise ReferenceError_(
                f"The file's ##contig lengths match no installed reference (contig {name} is {length:,} bp in the "
                f"file, {theirs:,} bp in {clashes[0]['name']} ({clashes[0]['build']}); installed: "
                f"{', '.join(b['name'] + ' (' + b['build'] + ')' for b in bundles) or 'none'}): "
                "is it for another genome build?"
            )
    build = _named_build({}, reference_line)
    if build:
        of_build = sorted((b["name"] != default, b["name"]) for b in bundles if b["build"].lower() == build.lower())
        if of_build:
            return load_reference(of_build[0][1])
        raise _not_installed(build, "The file's ##reference line names", bundles)
    return load_reference(None)
