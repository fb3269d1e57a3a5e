"""Forms for the character pages; the services decide, the forms carry their errors."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from core.errors import DomainError
from core.forms import add_domain_error, image_field

from .models import Character, ReferenceImage
from .services import character_create, reference_add


class CharacterForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trigger_words = forms.CharField(
        required=False, label="Trigger words", help_text="Separated by commas."
    )

    def save(self, owner: User) -> Character | None:
        if not self.is_valid():
            return None
        words = [w.strip() for w in self.cleaned_data["trigger_words"].split(",") if w.strip()]
        try:
            return character_create(
                owner=owner,
                name=self.cleaned_data["name"],
                description=self.cleaned_data["description"],
                trigger_words=words,
            )
        except DomainError as exc:
            add_domain_error(self, exc)
        except ValidationError as exc:  # the model's full_clean()
            self.add_error(None, exc)
        return None


class ReferenceForm(forms.Form):
    image = image_field("Reference photo")

    def save(self, character: Character) -> ReferenceImage | None:
        if not self.is_valid():
            return None
        try:
            return reference_add(character=character, upload=self.cleaned_data["image"])
        except DomainError as exc:
            add_domain_error(self, exc)
        return None
