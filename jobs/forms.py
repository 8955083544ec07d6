from __future__ import annotations

from typing import cast

from django import forms

from accounts.models import User
from jobs.models import AnnotationSource, RegionSet
from jobs.references.bundles import reference_choices
from jobs.services.options import FLAG_CHOICES, PICK_CHOICES


class AnnotateForm(forms.Form):
    file = forms.FileField(
        label="VCF file",
        help_text="A .vcf, .vcf.gz or .bcf file.",
        widget=forms.ClearableFileInput(attrs={"accept": ".vcf,.gz,.bgz,.bcf"}),
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
