"""The avatars page's upload form; avatar_create decides, the form carries its refusal."""

from __future__ import annotations

from django import forms

from core.errors import DomainError
from core.faces import FaceRequirementError
from core.forms import add_domain_error, image_field

from .models import Avatar, User
from .services import avatar_create


class AvatarForm(forms.Form):
    image = image_field("Photo")
    primary = forms.BooleanField(required=False, label="Make it my primary photo")
    allow_no_face = forms.BooleanField(
        required=False,
        label="Keep without a face",
        help_text="Keeps a photo without exactly one face; it cannot be used for likeness.",
    )

    def save(self, owner: User) -> Avatar | None:
        if not self.is_valid():
            return None
        try:
            return avatar_create(
                owner=owner,
                upload=self.cleaned_data["image"],
                primary=self.cleaned_data["primary"],
                allow_no_face=self.cleaned_data["allow_no_face"],
            )
        except FaceRequirementError as exc:
            self.face_refused = True  # the template points at "keep without a face"
            add_domain_error(self, exc)
        except DomainError as exc:
            add_domain_error(self, exc)
        return None
