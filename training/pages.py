"""Training pages: start a run from a character page, watch it (progress, loss plot, samples)
and use its LoRA. Thin: the API's serializer and services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from characters.selectors import characters_of
from core.errors import Conflict, DomainError
from core.media import media_url
from core.throttles import JobCreateThrottle, throttled_page
from work.models import WorkStatus
from work.progress import percent, work_progress

from .api.views import create_training_from
from .selectors import trainings_visible_to
from .services import training_cancel
from .work_kind import TRAININGS

PLOT_WIDTH, PLOT_HEIGHT = 600, 160
PLOT_MAX_POINTS = 300


def loss_plot_points(history: list[float]) -> str:
    """An SVG polyline's points for the loss history, thinned to at most 300 points."""
    if not history:
        return ""
    stride = max(1, len(history) // PLOT_MAX_POINTS)
    values = history[::stride]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    last = max(1, len(values) - 1)
    return " ".join(
        f"{index * PLOT_WIDTH / last:.1f},{PLOT_HEIGHT - (value - low) / span * PLOT_HEIGHT:.1f}"
        for index, value in enumerate(values)
    )


@login_required
@require_POST
@throttled_page(JobCreateThrottle)
def training_start_page(request, character_id):
    character = get_object_or_404(characters_of(user=request.user), pk=character_id)
    data = {"character": str(character.id), "trigger_word": request.POST.get("trigger_word", "")}
    steps = request.POST.get("steps", "").strip()
    if steps:  # a form sends text; the API's rules want a JSON number
        data["steps"] = int(steps) if steps.isdigit() else steps
    data["attach_to_character"] = request.POST.get("attach_to_character") == "on"
    try:
        run = create_training_from(request.user, data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{field}: {' '.join(map(str, errors))}" for field, errors in exc.detail.items()
        )
        messages.error(request, f"The training was not started ({problems}).")
        return redirect("character", character_id=character.id)
    except DomainError as exc:
        messages.error(request, f"The training was not started: {exc.message}")
        return redirect("character", character_id=character.id)
    messages.success(request, "The training is queued; this page follows it live.")
    return redirect("training", training_id=run.id)


@login_required
def training_list(request):
    runs = trainings_visible_to(request.user)[:100]
    return render(request, "pages/trainings.html", {"runs": runs})


@login_required
def training_detail(request, training_id):
    run = get_object_or_404(trainings_visible_to(request.user), pk=training_id)
    progress = work_progress(TRAININGS, run)
    context = {
        "run": run,
        "statuses": WorkStatus,
        "progress": {**progress, "percent": percent(progress)},
        "plot": {
            "width": PLOT_WIDTH,
            "height": PLOT_HEIGHT,
            "points": loss_plot_points(run.loss_history),
        },
        "samples": [
            {"step": item["step"], "prompt": item["prompt"], "url": media_url(item["key"])}
            for item in run.samples
        ],
    }
    return render(request, "pages/training.html", context)


@login_required
@require_POST
def training_cancel_page(request, training_id):
    run = get_object_or_404(trainings_visible_to(request.user), pk=training_id)
    try:
        training_cancel(run=run)
    except Conflict as exc:
        messages.info(request, exc.message)
    else:
        messages.success(request, "Cancelling: training stops within one step; no LoRA is kept.")
    return redirect("training", training_id=run.id)
