"""Character pages: the list (with a create form) and a character with its references
and images. Another user's character is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from generation.api.images import images_visible_to
from generation.pages import image_card, media_url

from .api import characters_of
from .forms import CharacterForm, ReferenceForm
from .models import ReferenceImage
from .services import character_delete, reference_remove

CHARACTER_IMAGES_SHOWN = 24


@login_required
def character_list(request):
    form = CharacterForm(request.POST or None)
    if request.method == "POST":
        character = form.save(request.user)
        if character is not None:
            messages.success(request, f"{character.name} is created; add reference photos.")
            return redirect("character", character_id=character.id)
    characters = [
        {"character": c, "cover": _cover(c), "references": len(c.references.all())}
        for c in characters_of(request.user)
    ]
    return render(request, "pages/characters.html", {"form": form, "characters": characters})


def _cover(character) -> str:
    references = list(character.references.all())
    return media_url(references[0].image.name) if references else ""


@login_required
def character_detail(request, character_id):
    character = get_object_or_404(characters_of(request.user), pk=character_id)
    form = ReferenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.save(character) is not None:
        messages.success(request, "The reference is added.")
        return redirect("character", character_id=character.id)
    images = (
        images_visible_to(request.user)
        .filter(job__character=character)
        .select_related("job")
        .order_by("-created_at")[:CHARACTER_IMAGES_SHOWN]
    )
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


@login_required
@require_POST
def reference_remove_page(request, character_id, reference_id):
    references = ReferenceImage.objects.filter(character__owner=request.user)
    reference = get_object_or_404(references, pk=reference_id, character_id=character_id)
    reference_remove(reference=reference)
    messages.success(request, "The reference is removed.")
    return redirect("character", character_id=character_id)


@login_required
@require_POST
def character_delete_page(request, character_id):
    character = get_object_or_404(characters_of(request.user), pk=character_id)
    character_delete(character=character)
    messages.success(request, f"{character.name} is deleted.")
    return redirect("characters")
