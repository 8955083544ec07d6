from __future__ import annotations

from django import forms

from jobs.services import reference_choices


class AnnotateForm(forms.Form):
    file = forms.FileField(
        label="VCF file",
        help_text="A .vcf or .vcf.gz file.",
        widget=forms.ClearableFileInput(attrs={"accept": ".vcf,.gz,.bgz"}),
    )
    reference = forms.ChoiceField(label="Reference", required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = reference_choices()
        self.fields["reference"].choices = choices
        if len(choices) <= 1:
            self.fields["reference"].widget = forms.HiddenInput()


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name", help_text="What the token is for, e.g. 'laptop'.")
