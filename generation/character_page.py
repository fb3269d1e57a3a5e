"""A character's page: its references, LoRAs and the images generated for it. It lives here,
not in characters/, because it shows generated images (generation sits above characters)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from characters.forms import ReferenceForm
from characters.selectors import characters_of
from core.media import media_url

from .pages import image_card
from .selectors import image_list

CHARACTER_IMAGES_SHOWN = 24


@login_required
def character_detail(request, character_id):
    character = get_object_or_404(characters_of(user=request.user), pk=character_id)
    form = ReferenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.save(character) is not None:
        messages.success(request, "The reference is added.")
        return redirect("character", character_id=character.id)
    images = image_list(user=request.user, filters={"character": character.id})
    images = images[:CHARACTER_IMAGES_SHOWN]
    references = [
        {"reference": ref, "url": media_url(ref.image.name)} for ref in character.references.all()
    ]
    context = {
        "character": character,
        "form": form,
        "references": references,
        "cards": [image_card(image) for image in images],
        "loras": character.lora_links.all(),
    }
    return render(request, "pages/character.html", context)
