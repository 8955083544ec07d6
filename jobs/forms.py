from __future__ import annotations

from typing import cast

from django import forms

from accounts.models import User
from jobs.models import AnnotationSource, RegionSet
from jobs.references.bundles import reference_choices
from jobs.services.options import FLAG_CHOICES, PICK_CHOICES

PASTE_EXAMPLES = "20:g.36030940G>A\nSNAP25-T1:c.100C>T\nNC_000020.10:36030939:G:A\n20:36030940-36030940/A\nrs6025"


class AnnotateForm(forms.Form):
    file = forms.FileField(
        label="VCF file",
        required=False,
        help_text="A .vcf, .vcf.gz or .bcf file (or a .txt file of notations, one per line).",
        widget=forms.ClearableFileInput(attrs={"accept": ".vcf,.gz,.bgz,.bcf,.txt"}),
    )
    variants = forms.CharField(
        label="…or paste variants",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": PASTE_EXAMPLES, "spellcheck": "false", "class": "font-monospace"}
        ),
        help_text="One per line: HGVS (g., c., n. on a transcript id or a gene's MANE or canonical transcript), "
        "SPDI, a region (chr:start-end/allele) or an rs id. Lines that cannot be placed are listed on the job page.",
    )
    name = forms.CharField(
        label="Job name", max_length=100, required=False, help_text="Optional: to tell this job from others."
    )
    reference = forms.ChoiceField(label="Reference", required=False)
    sources = forms.MultipleChoiceField(
        label="Annotation sources",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each adds its fields to every CSQ entry, as VEP's --custom.",
    )
    pick = forms.ChoiceField(
        label="Entries per variant",
        required=False,
        choices=PICK_CHOICES,
        help_text="As VEP's pick options, in VEP's pick order (MANE, canonical, APPRIS, TSL, biotype, "
        "CCDS, consequence, length, …).",
    )
    flags = forms.MultipleChoiceField(
        label="Transcript flags",
        required=False,
        choices=FLAG_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="VEP's flag columns, filled where the reference's gene model tags its transcripts.",
    )
    regions = forms.ModelChoiceField(
        label="Your regions",
        queryset=RegionSet.objects.none(),
        required=False,
        empty_label="none",
        help_text="Variants in them get the region's name in CSQ field REGIONS.",
    )
    regions_file = forms.FileField(
        label="…or a new region file",
        required=False,
        help_text="A BED file (chrom, start, end, name), kept on your profile for later jobs.",
        widget=forms.ClearableFileInput(attrs={"accept": ".bed,.gz,.txt"}),
    )

    pedigree = forms.FileField(
        label="Pedigree (PED)",
        required=False,
        help_text="For a family: a PED file (family, individual, father, mother, sex, phenotype) naming the VCF's "
        "samples, for the inheritance filters. You can also add it on the job's page later.",
        widget=forms.ClearableFileInput(attrs={"accept": ".ped,.txt,.tsv,.fam"}),
    )
    normal = forms.CharField(
        label="Normal sample",
        required=False,
        max_length=255,
        help_text="For a tumour/normal pair: the normal sample's name (else the header's ##normal_sample).",
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = reference_choices()
        cast(forms.ChoiceField, self.fields["reference"]).choices = choices
        if len(choices) <= 2:  # (detection and one bundle: nothing to choose)
            self.fields["reference"].widget = forms.HiddenInput()
        sources = list(AnnotationSource.objects.all())
        several = len(choices) > 2
        cast(forms.MultipleChoiceField, self.fields["sources"]).choices = [
            (source.name, _source_label(source, with_reference=several)) for source in sources
        ]
        self.fields["sources"].initial = [source.name for source in sources if source.default]
        if not sources:
            del self.fields["sources"]
        cast(forms.ModelChoiceField, self.fields["regions"]).queryset = RegionSet.objects.filter(owner=user)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("file") and data.get("variants", "").strip():
            raise forms.ValidationError("Give a file or pasted variants, not both.")
        if not data.get("file") and not data.get("variants", "").strip() and not self.has_error("file"):
            self.add_error("file", "Choose a VCF file, or paste variants below.")
        return data


def _source_label(source: AnnotationSource, *, with_reference: bool) -> str:
    parts = [source.name]
    if source.description:
        parts.append(f"— {source.description}")
    detail = f"{source.match_type}, CSQ {source.short_name}"
    if with_reference:
        detail = f"{source.reference_name}; {detail}"
    return f"{' '.join(parts)} ({detail})"


class RegionSetForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="Default: the file's name.")
    file = forms.FileField(label="BED file", widget=forms.ClearableFileInput(attrs={"accept": ".bed,.gz,.txt"}))


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name", help_text="What the token is for, e.g. 'laptop'.")
