from __future__ import annotations

from django import forms

from accounts.models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "institution"]
        help_texts = {"institution": "Your university, institute or company."}


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(required=True, label="I confirm")

    def __init__(self, *args: object, label: str = "I confirm", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["confirm"].label = label
