"""Character pages: the list (with a create form), a character's own page (references, LoRAs,
training, its images), deleting a character and removing a reference. Another user's
character is a 404. The images a character appears in are generation's: the page's template
shows them with generation's ``character_images`` tag, so nothing here imports generation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.media import media_url
from core.throttles import UploadThrottle, throttled_page

from .forms import CharacterForm, ReferenceForm
from .selectors import characters_of, references_of
from .services import character_delete, reference_remove


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
        for c in characters_of(user=request.user)
    ]
    return render(request, "pages/characters.html", {"form": form, "characters": characters})


@login_required
@throttled_page(UploadThrottle)  # its form adds a reference photo
def character_detail(request, character_id):
    character = get_object_or_404(characters_of(user=request.user), pk=character_id)
    form = ReferenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.save(character) is not None:
        messages.success(request, "The reference is added.")
        return redirect("character", character_id=character.id)
    references = [
        {"reference": ref, "url": media_url(ref.image.name)} for ref in character.references.all()
    ]
    context = {
        "character": character,
        "form": form,
        "references": references,
        "loras": character.lora_links.all(),
    }
    return render(request, "pages/character.html", context)


def _cover(character) -> str:
    references = list(character.references.all())
    return media_url(references[0].image.name) if references else ""


@login_required
@require_POST
def reference_remove_page(request, character_id, reference_id):
    references = references_of(user=request.user)
    reference = get_object_or_404(references, pk=reference_id, character_id=character_id)
    reference_remove(reference=reference)
    messages.success(request, "The reference is removed.")
    return redirect("character", character_id=character_id)


@login_required
@require_POST
def character_delete_page(request, character_id):
    character = get_object_or_404(characters_of(user=request.user), pk=character_id)
    character_delete(character=character)
    messages.success(request, f"{character.name} is deleted.")
    return redirect("characters")
