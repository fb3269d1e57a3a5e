"""The AUTOMATIC1111 routes, included under /sdapi/v1/ by illuplatform/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("txt2img", views.txt2img, name="txt2img"),
    path("img2img", views.img2img, name="img2img"),
    path("progress", views.ProgressView.as_view(), name="progress"),
    path("interrupt", views.InterruptView.as_view(), name="interrupt"),
    path("skip", views.SkipView.as_view(), name="skip"),
    path("options", views.OptionsView.as_view(), name="options"),
    path("sd-models", views.SdModelsView.as_view(), name="sd-models"),
    path("samplers", views.SamplersView.as_view(), name="samplers"),
    path("schedulers", views.SchedulersView.as_view(), name="schedulers"),
    path("loras", views.LorasView.as_view(), name="loras"),
    path("upscalers", views.UpscalersView.as_view(), name="upscalers"),
    path("sd-vae", views.SdVaeView.as_view(), name="sd-vae"),
    path("scripts", views.ScriptsView.as_view(), name="scripts"),
    path("embeddings", views.EmbeddingsView.as_view(), name="embeddings"),
    path("prompt-styles", views.PromptStylesView.as_view(), name="prompt-styles"),
    path("cmd-flags", views.CmdFlagsView.as_view(), name="cmd-flags"),
    path("memory", views.MemoryView.as_view(), name="memory"),
    path("refresh-checkpoints", views.RefreshCheckpointsView.as_view(), name="refresh-checkpoints"),
]
