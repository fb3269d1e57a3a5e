"""Server-rendered pages for jobs and images. Thin: a form or a service does the work; these
views pick the owner's object (another user's is a 404) and mint storage URLs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from core.errors import Conflict, DomainError
from core.media import media_url
from core.throttles import JobCreateThrottle, UploadThrottle, throttled_page
from work.models import WorkStatus
from work.progress import percent, work_progress

from .edit_forms import ImageEditForm
from .forms import GalleryFilterForm, JobForm
from .image_services import image_delete, image_generate_again
from .models import GeneratedImage, GenerationJob
from .selectors import image_list, images_visible_to, jobs_visible_to
from .services import job_cancel
from .work_kind import JOBS

GALLERY_PAGE_SIZE = 24
PRESELECTABLE = ("kind", "character", "prompt")
TIMING_LABELS = {
    "queue_ms": "Waiting in the queue",
    "load_ms": "Loading models",
    "inference_ms": "Drawing",
    "store_ms": "Storing",
    "total_ms": "Total",
}


@dataclass(frozen=True)
class ImageCard:
    image: GeneratedImage
    url: str
    thumbnail_url: str
    alt: str


def image_card(image: GeneratedImage) -> ImageCard:
    prompt = (image.job.params or {}).get("prompt") or ""
    words = Truncator(prompt).chars(120) if prompt else f"{image.job.kind} job"
    url = media_url(image.file.name)
    # The worker stores a small WebP once; older rows without one show the PNG.
    thumbnail = media_url(image.thumbnail.name) or url
    return ImageCard(image, url, thumbnail, f"Illustration: {words} (seed {image.seed})")


def job_progress(job: GenerationJob) -> dict:
    """Where the job stands (``work.progress``), with the percent its progress bar shows."""
    progress = work_progress(JOBS, job)
    return {**progress, "percent": percent(progress)}


def _queue_state(job: GenerationJob) -> dict | None:
    if job.status != WorkStatus.QUEUED:
        return None
    from .queue.position import queue_state

    return queue_state(job)


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


@login_required
def home(request):
    return redirect("gallery")


def _sends_a_file(request) -> bool:
    return bool(request.FILES)


def _paints_a_mask(request) -> bool:
    return request.POST.get("action") == "inpaint"


# Pages that create jobs or store files count against the API's throttles (core.throttles).
@login_required
@throttled_page(JobCreateThrottle)
@throttled_page(UploadThrottle, when=_sends_a_file)
def create(request):
    if request.method == "POST":
        form = JobForm(request.user, request.POST, request.FILES)
        job = form.save()
        if job is not None:
            messages.success(request, "Your job is queued.")
            return redirect("job", job_id=job.id)
    else:
        # Links such as "create with this character" preselect fields.
        wanted = {key: request.GET[key] for key in PRESELECTABLE if key in request.GET}
        form = JobForm(request.user, initial=wanted)
    recent = jobs_visible_to(user=request.user)[:5]
    return render(request, "pages/create.html", {"form": form, "recent_jobs": recent})


@login_required
def job_detail(request, job_id):
    job = get_object_or_404(jobs_visible_to(user=request.user), pk=job_id)
    context = {
        "job": job,
        "statuses": WorkStatus,
        "progress": job_progress(job),
        "queue": _queue_state(job),
        "cards": [image_card(image) for image in job.images.all()],
        "conditioning": [
            {"type": item["type"], "url": media_url(item["key"])} for item in job.conditioning
        ],
        "params": [(key, _shown(value)) for key, value in job.params.items()],
        "timings": [
            (label, job.timings[key]) for key, label in TIMING_LABELS.items() if key in job.timings
        ],
    }
    return render(request, "pages/job.html", context)


@login_required
@require_POST
def job_cancel_page(request, job_id):
    job = get_object_or_404(jobs_visible_to(user=request.user), pk=job_id)
    try:
        job = job_cancel(job=job)
    except Conflict as exc:
        messages.info(request, exc.message)
    else:
        messages.success(request, "Cancelling: the job stops within one step.")
    return redirect("job", job_id=job.id)


@login_required
def gallery(request):
    filters = GalleryFilterForm(request.user, request.GET or None)
    images = image_list(user=request.user, filters=filters.image_filters())
    page = Paginator(images, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    cards = [image_card(image) for image in page.object_list]
    return render(request, "pages/gallery.html", {"filters": filters, "page": page, "cards": cards})


def _own_image(request, image_id) -> GeneratedImage:
    images = images_visible_to(user=request.user).select_related("job")
    return get_object_or_404(images, pk=image_id)


@login_required
def image_detail(request, image_id):
    image = _own_image(request, image_id)
    context = {
        "card": image_card(image),
        "job": image.job,
        "params": [(key, _shown(value)) for key, value in image.job.params.items()],
        "manifest": json.dumps(image.manifest, indent=2, sort_keys=True),
        "edit_prompt": image.job.params.get("prompt") or "",
    }
    return render(request, "pages/image.html", context)


@login_required
@require_POST
@throttled_page(JobCreateThrottle)
@throttled_page(UploadThrottle, when=_paints_a_mask)
def image_edit(request, image_id):
    """Vary, inpaint, upscale or repair this image: a new job, then its page."""
    image = _own_image(request, image_id)
    form = ImageEditForm(image, request.POST)
    job = form.save()
    if job is None:
        for field, errors in form.errors.items():
            label = "" if field == "__all__" else f"{field}: "
            messages.error(request, label + " ".join(errors))
        return redirect("image", image_id=image.id)
    messages.success(request, f"Your {job.get_kind_display().lower()} job is queued.")
    return redirect("job", job_id=job.id)


@login_required
def image_download(request, image_id):
    image = _own_image(request, image_id)
    handle = default_storage.open(image.file.name, "rb")
    return FileResponse(handle, as_attachment=True, filename=f"illustration-{image.id}.png")


@login_required
@require_POST
@throttled_page(JobCreateThrottle)
def image_again(request, image_id):
    image = _own_image(request, image_id)
    same_seed = request.POST.get("seed") == "same"
    try:
        job = image_generate_again(image=image, same_seed=same_seed)
    except DomainError as exc:  # a quota, or a LoRA disabled since
        messages.error(request, exc.message)
        return redirect("image", image_id=image.id)
    messages.success(request, "Queued again with the same seed." if same_seed else "Queued again.")
    return redirect("job", job_id=job.id)


@login_required
@require_POST
def image_delete_page(request, image_id):
    image_delete(image=_own_image(request, image_id))
    messages.success(request, "The image is deleted.")
    return redirect("gallery")
