"""Annotation sources (issue 13): the operator's registry (``manage.py source``, the admin), the
user's own BED regions, choosing them per job (form and API), and each job's provenance."""

from __future__ import annotations

import gzip
import io
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from jobs.models import AnnotationSource, Job, JobStatus, RegionSet
from jobs.sources.registry import source_dir
from tests.helpers import CLINICAL, GOOD_VCF, add_source, make_token, write_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("job_settings")]


def csq_values(vcf_text: str, field: str) -> dict[tuple[int, str], set[str]]:
    """{(POS, allele): the values of CSQ field ``field`` over the allele's entries}."""
    header = next(line for line in vcf_text.splitlines() if line.startswith("##INFO=<ID=CSQ"))
    names = header.split("Format: ")[1].rstrip('">').split("|")
    found: dict[tuple[int, str], set[str]] = {}
    for line in vcf_text.splitlines():
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        csq = next(item for item in columns[7].split(";") if item.startswith("CSQ="))[4:]
        for entry in csq.split(","):
            values = dict(zip(names, entry.split("|"), strict=True))
            found.setdefault((int(columns[1]), values["Allele"]), set()).add(values[field])
    return found


def result_text(client: Client, job: Job) -> str:
    download = client.get(reverse("job_download", args=[job.id, "result"]))
    return gzip.decompress(b"".join(download.streaming_content)).decode()


# -- the registry ---------------------------------------------------------------------------
def test_source_add_indexes_checks_and_lists_a_plain_vcf(tmp_path):
    said = add_source(tmp_path, "--fields", "CLNSIG,AF", "--short-name", "ClinVar", "--default")
    source = AnnotationSource.objects.get()
    assert "Registered clinvar for demo: VCF matched by exact, CSQ fields ClinVar, ClinVar_CLNSIG, ClinVar_AF" in said
    assert (source.format, source.match_type, source.fields, source.contigs) == (
        "vcf",
        "exact",
        ["CLNSIG", "AF"],
        ["chr20"],
    )
    assert source.field_types["AF"] == {"number": "A", "type": "Float", "description": "Allele frequency"}
    kept = source_dir() / source.path
    assert kept.is_file() and Path(f"{kept}.tbi").is_file()  # (compressed and indexed on the way in)
    assert len(source.sha256) == 64 and source.version.startswith(source.sha256[:12])
    listed = io.StringIO()
    call_command("source", "list", stdout=listed)
    assert "clinvar\tdemo\tvcf/exact\tshort_name=ClinVar\tfields=CLNSIG,AF\tdefault\tclinical.vcf" in listed.getvalue()
    # the prepared form jobs read was written beside it; `source prepare` writes one that is missing
    from jobs.annotation.custom import prepared_path
    from jobs.sources.registry import source_spec

    prepared = prepared_path(source_spec(source))
    assert prepared.is_file() and Path(f"{prepared}.tbi").is_file()
    prepared.unlink()
    said = io.StringIO()
    call_command("source", "prepare", stdout=said)
    assert prepared.is_file() and "Prepared 1 source: clinvar" in said.getvalue()
    call_command("source", "prepare", stdout=said)
    assert "Prepared 0 sources." in said.getvalue()


@pytest.mark.parametrize(
    ("args", "chrom", "message"),
    [
        (["--fields", "CLNSIG,GENEINFO"], "20", "has no INFO field GENEINFO in its header"),
        ([], "7", "none of its contigs (7) is in reference demo (GRCh37"),
        (["--short-name", "a|b"], "20", "it names CSQ fields"),
        (["--short-name", "REGIONS"], "20", "reserved for the users' own regions"),
        (["--type", "overlap", "--fields", "AF"], "NC_1", "none of its contigs (NC_1)"),
    ],
)
def test_a_source_that_does_not_fit_is_refused_and_nothing_is_kept(tmp_path, args, chrom, message):
    with pytest.raises(CommandError) as refused:
        add_source(tmp_path, *args, path=write_source(tmp_path, chrom=chrom))
    assert message in str(refused.value)
    assert not AnnotationSource.objects.exists()
    assert not any(source_dir().glob("*/*")) if source_dir().exists() else True


def test_unknown_reference_and_unsorted_files_are_refused_clearly(tmp_path):
    source = write_source(tmp_path)
    with pytest.raises(CommandError, match="reference 'GRCh38' is not installed"):
        call_command("source", "add", "x", "--reference", "GRCh38", "--file", str(source))
    unsorted = tmp_path / "panel.bed"
    unsorted.write_text("20\t500\t600\tb\n20\t100\t200\ta\n")
    with pytest.raises(CommandError, match=r"must be sorted by contig and position: sort -k1,1 -k2,2n"):
        add_source(tmp_path, name="panel", path=unsorted)
    with pytest.raises(CommandError, match="a BED source is matched by overlap only"):
        add_source(tmp_path, "--type", "exact", name="panel", path=tmp_path / "panel.bed")


def test_a_new_version_replaces_the_old_one_and_remove_deletes_the_files(tmp_path):
    add_source(tmp_path)
    first = AnnotationSource.objects.get()
    with pytest.raises(CommandError, match=r"already registered .* use --replace"):
        add_source(tmp_path)
    changed = write_source(tmp_path, chrom="20", name="clinical-2.vcf")
    add_source(tmp_path, "--replace", path=changed)
    second = AnnotationSource.objects.get()
    assert second.sha256 != first.sha256 and second.file_name == "clinical-2.vcf"
    assert not (source_dir() / first.path).exists() and (source_dir() / second.path).is_file()
    call_command("source", "remove", "clinvar", stdout=io.StringIO())
    assert not AnnotationSource.objects.exists() and not (source_dir() / "clinvar").exists()
    with pytest.raises(CommandError, match="no source 'clinvar' is registered"):
        call_command("source", "remove", "clinvar")


def test_an_indexed_bgzipped_source_is_linked_with_its_index(tmp_path):
    plain = write_source(tmp_path, chrom="20")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-p", "vcf", f"{plain}.gz"], check=True)
    add_source(tmp_path, path=Path(f"{plain}.gz"))
    kept = source_dir() / AnnotationSource.objects.get().path
    assert kept.read_bytes() == Path(f"{plain}.gz").read_bytes()
    assert Path(f"{kept}.tbi").read_bytes() == Path(f"{plain}.gz.tbi").read_bytes()


def test_the_admin_registers_a_file_on_the_server_with_the_same_checks(client, tmp_path):
    from accounts.models import User

    staff = User.objects.create_superuser("staff@example.org", "pw-staff-123456")
    client.force_login(staff)
    url = reverse("admin:jobs_annotationsource_add")
    form = {"name": "clin", "reference_name": "demo", "match_type": "exact", "fields_text": "CLNSIG",
            "short_name": "", "description": "test"}  # fmt: skip
    refused = client.post(url, {**form, "server_path": str(tmp_path / "missing.vcf")})
    assert refused.status_code == 200 and "no such file" in refused.content.decode()
    done = client.post(url, {**form, "server_path": str(write_source(tmp_path))})
    assert done.status_code == 302, done.context["adminform"].form.errors
    source = AnnotationSource.objects.get()
    assert (source.name, source.short_name, source.fields) == ("clin", "clin", ["CLNSIG"])
    client.post(reverse("admin:jobs_annotationsource_delete", args=[source.pk]), {"post": "yes"})
    assert not AnnotationSource.objects.exists() and not (source_dir() / "clin").exists()


# -- per job ----------------------------------------------------------------------------------
def submit(client, capture, **data):
    with capture(execute=True):
        return client.post(reverse("annotate"), {"file": SimpleUploadedFile("in.vcf", GOOD_VCF.encode()), **data})


def test_a_job_applies_the_chosen_source_and_records_its_version(
    run_worker,
    signed_in_client,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    add_source(
        tmp_path, "--fields", "CLNSIG,AF", "--short-name", "ClinVar", "--default", "--description", "ClinVar test"
    )
    form = signed_in_client.get(reverse("annotate")).content.decode()
    assert 'value="clinvar"' in form and "checked" in form and "ClinVar test" in form
    submit(signed_in_client, django_capture_on_commit_callbacks, sources=["clinvar"])
    job = Job.objects.get()
    assert job.source_names == ["clinvar"]
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.error_message
    source = AnnotationSource.objects.get()
    [applied] = job.sources
    assert applied["name"] == "clinvar" and applied["sha256"] == source.sha256
    assert applied["registered_at"] == source.registered_at.isoformat() and applied["alleles_matched"] == 2
    text = result_text(signed_in_client, job)
    assert csq_values(text, "ClinVar")[(63426, "A")] == {"clinA"}
    assert csq_values(text, "ClinVar_CLNSIG")[(63426, "A")] == {"Pathogenic"}
    assert csq_values(text, "ClinVar_AF")[(123273, "T")] == {"0.2"}  # (the second ALT's value)
    page = signed_in_client.get(reverse("job_detail", args=[job.id])).content.decode()
    assert "clinvar" in page and source.sha256[:12] in page and "2 alleles matched" in page


def test_leaving_every_source_out_applies_none(
    run_worker,
    signed_in_client,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    add_source(tmp_path, "--default")
    submit(signed_in_client, django_capture_on_commit_callbacks)  # (the form posted with no box ticked)
    run_worker()
    job = Job.objects.get()
    assert job.source_names == [] and job.sources == []
    assert "|clinvar|" not in result_text(signed_in_client, job).split("Format: ")[1].split('"')[0] + "|"


def test_the_api_takes_defaults_a_choice_or_none_and_refuses_unknown_sources(
    run_worker,
    signed_in_client,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    add_source(tmp_path, "--default")
    add_source(tmp_path, "--type", "overlap", name="extra", path=write_source(tmp_path, name="extra.vcf"))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    listed = api.get("/api/v1/sources?reference=demo").json()["items"]
    assert [(s["name"], s["match_type"], s["default"]) for s in listed] == [
        ("clinvar", "exact", True),
        ("extra", "overlap", False),
    ]

    def post(**data):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/api/v1/jobs", {"file": SimpleUploadedFile("in.vcf", GOOD_VCF.encode()), **data})

    assert post().json()["source_names"] == ["clinvar"]
    chosen = post(sources="extra,clinvar").json()
    assert chosen["source_names"] == ["extra", "clinvar"]
    assert post(sources="").json()["source_names"] == []
    refused = post(sources="gnomad")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "unknown annotation source gnomad for reference demo (available: clinvar, extra)"
    for _job in range(3):
        run_worker()
    second = api.get(f"/api/v1/jobs/{chosen['id']}").json()
    assert [entry["name"] for entry in second["sources"]] == ["extra", "clinvar"]
    assert second["sources"][0]["type"] == "overlap" and second["sources"][0]["alleles_matched"] == 2


def test_a_source_removed_before_the_job_ran_is_a_warning(
    run_worker,
    signed_in_client,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    add_source(tmp_path)
    submit(signed_in_client, django_capture_on_commit_callbacks, sources=["clinvar"])
    call_command("source", "remove", "clinvar", stdout=io.StringIO())
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED
    assert job.warnings == ["the annotation source clinvar was removed after the job was submitted and was not applied"]


def test_annotate_command_applies_registered_sources(tmp_path):
    add_source(tmp_path, "--fields", "CLNSIG")
    source = tmp_path / "in.vcf"
    source.write_text(GOOD_VCF)
    call_command("annotate", str(source), "-o", str(tmp_path / "out.vcf"), "--source", "clinvar", "--quiet",
                 stdout=io.StringIO())  # fmt: skip
    assert csq_values((tmp_path / "out.vcf").read_text(), "clinvar_CLNSIG")[(63426, "A")] == {"Pathogenic"}
    with pytest.raises(CommandError, match="unknown annotation source nope"):
        call_command("annotate", str(source), "-o", str(tmp_path / "o2.vcf"), "--source", "nope", "--quiet")


# -- the user's regions -----------------------------------------------------------------------
PANEL = "track name=panel\n# a comment\nchr20\t63400\t63500\tGENE_A_exon1\n20\t100000\t130000\tGENE_B\n"


def test_regions_uploaded_on_the_profile_annotate_a_job_by_overlap(
    run_worker,
    signed_in_client,
    user,
    django_capture_on_commit_callbacks,
):
    response = signed_in_client.post(
        reverse("region_create"), {"name": "My panel", "file": SimpleUploadedFile("panel.bed", PANEL.encode())},
        follow=True,
    )  # fmt: skip
    assert "My panel: 2 regions saved" in response.content.decode()
    region_set = RegionSet.objects.get(owner=user)
    assert (region_set.regions, region_set.contigs) == (2, ["20", "chr20"])
    assert "My panel" in signed_in_client.get(reverse("profile")).content.decode()
    submit(signed_in_client, django_capture_on_commit_callbacks, regions=str(region_set.id))
    run_worker()
    job = Job.objects.get()
    assert job.status == JobStatus.COMPLETED, job.error_message
    text = result_text(signed_in_client, job)
    assert csq_values(text, "REGIONS") == {(63426, "A"): {"GENE_A_exon1"}, (123273, "T"): {"GENE_B"}}
    [applied] = job.sources
    assert applied["user_regions"] and applied["name"] == "My panel" and applied["alleles_matched"] == 2


def test_a_region_file_uploaded_with_the_job_is_kept_and_bad_lines_are_named(
    run_worker,
    signed_in_client,
    user,
    django_capture_on_commit_callbacks,
):
    bad = SimpleUploadedFile("targets.bed", b"20\t100\t200\tok\n20\tabc\t300\tbad\n")
    refused = submit(signed_in_client, django_capture_on_commit_callbacks, regions_file=bad)
    assert refused.status_code == 400
    assert "targets.bed, line 2: start and end must be whole numbers, found &#x27;abc&#x27;" in refused.content.decode()
    assert not Job.objects.exists() and not RegionSet.objects.exists()
    wrong = SimpleUploadedFile("targets.bed", b"chr7\t100\t200\tx\n")
    refused = submit(signed_in_client, django_capture_on_commit_callbacks, regions_file=wrong)
    assert "none of its contigs (chr7) is in an installed reference" in refused.content.decode()
    good = SimpleUploadedFile("targets.bed.gz", gzip.compress(b"20\t63425\t63426\tone_base\n"))
    submit(signed_in_client, django_capture_on_commit_callbacks, regions_file=good)
    run_worker()
    job = Job.objects.get()
    assert job.region_set == RegionSet.objects.get(owner=user, file_name="targets.bed.gz")
    assert csq_values(result_text(signed_in_client, job), "REGIONS")[(63426, "A")] == {"one_base"}


def test_region_files_are_private(signed_in_client, other_user, user, django_capture_on_commit_callbacks):
    theirs = RegionSet.objects.create(
        owner=other_user, name="theirs", file_key="x", file_name="x.bed", size=1, regions=1, sha256="0" * 64
    )
    refused = submit(signed_in_client, django_capture_on_commit_callbacks, regions=str(theirs.id))
    assert refused.status_code == 400 and not Job.objects.exists()  # (not a choice this user has)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    assert api.get("/api/v1/regions").json()["items"] == []
    with django_capture_on_commit_callbacks(execute=True):
        posted = api.post(
            "/api/v1/jobs", {"file": SimpleUploadedFile("in.vcf", GOOD_VCF.encode()), "regions": theirs.id}
        )
    assert posted.status_code == 400 and "You have no region file" in posted.json()["detail"]
    assert api.delete(f"/api/v1/regions/{theirs.id}").status_code == 404
    signed_in_client.post(reverse("region_delete", args=[theirs.id]))
    assert RegionSet.objects.filter(id=theirs.id).exists()


def test_regions_through_the_api(signed_in_client):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {make_token(signed_in_client)}")
    made = api.post("/api/v1/regions", {"file": SimpleUploadedFile("p.bed", PANEL.encode()), "name": "p"})
    assert made.status_code == 201 and made.json()["regions"] == 2
    bad = api.post("/api/v1/regions", {"file": SimpleUploadedFile("q.bed", b"20\t5\n")})
    assert bad.status_code == 400 and bad.json()["detail"] == (
        "q.bed, line 1: expected at least 3 tab-separated columns (chrom, start, end), found 2"
    )
    assert [entry["name"] for entry in api.get("/api/v1/regions").json()["items"]] == ["p"]
    assert api.delete(f"/api/v1/regions/{made.json()['id']}").status_code == 204
    assert not RegionSet.objects.exists()


def test_region_files_survive_the_storage_sweep(signed_in_client, user):
    from django.core.files.storage import storages

    from jobs.services.housekeeping import files_sweep

    signed_in_client.post(reverse("region_create"), {"file": SimpleUploadedFile("p.bed", PANEL.encode())})
    region_set = RegionSet.objects.get(owner=user)
    assert region_set.name == "p.bed"  # (no name given: the file's)
    storages["inputs"].save(f"{user.pk}/stray/old.vcf", io.BytesIO(b"x"))
    report = files_sweep(grace_seconds=-1)
    assert report.inputs == 1 and storages["inputs"].exists(region_set.file_key)


def test_registering_the_same_file_again_keeps_its_version(tmp_path):
    source = write_source(tmp_path)
    add_source(tmp_path, path=source)
    first = AnnotationSource.objects.get()
    add_source(tmp_path, "--replace", "--fields", "CLNSIG", path=source)
    again = AnnotationSource.objects.get()
    assert again.path == first.path and (source_dir() / again.path).is_file() and again.fields == ["CLNSIG"]

    plain = write_source(tmp_path, name="indexed.vcf")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-p", "vcf", f"{plain}.gz"], check=True)
    call_command("source", "add", "indexed", "--reference", "demo", "--file", f"{plain}.gz", stdout=io.StringIO())
    kept = AnnotationSource.objects.get(name="indexed")
    with open(f"{plain}.gz", "r+b") as original:  # the original rewritten in place (same inode)
        original.write(b"\0" * 16)
    assert file_unchanged(kept)  # (a copy was kept, not a link)


def file_unchanged(source: AnnotationSource) -> bool:
    from jobs.annotation.reference import file_sha256

    return file_sha256(source_dir() / source.path) == source.sha256


def test_a_plain_gzip_source_is_recompressed_as_bgzf_and_indexed(tmp_path):
    from jobs.annotation.source_files import is_bgzf

    packed = tmp_path / "clinical.vcf.gz"
    packed.write_bytes(gzip.compress(CLINICAL.format(chrom="20").encode()))
    assert not is_bgzf(packed)
    add_source(tmp_path, path=packed)
    kept = source_dir() / AnnotationSource.objects.get().path
    assert is_bgzf(kept) and Path(f"{kept}.tbi").is_file()
