"""The curated registry as one YAML file: base models, LoRAs, LoRA combinations, style presets,
characters.

Schema (every key but the required ones may be left out; unknown keys are errors):

    version: 1
    models:           # base models (checkpoints); required: slug, name, source
      - slug: watercolor
        name: Watercolor XL
        source: org/watercolor-xl       # hub id, /local/folder, /local/file.safetensors, s3://...
        vae: madebyollin/sdxl-vae-fp16-fix
        family: sdxl
        default_scheduler: dpmpp_2m
        license_note: "CreativeML Open RAIL++-M"
        sha256: ""                      # left out: the worker records it when it loads the weights
        enabled: true
    loras:            # required: slug, name, type; and file or sha256
      - slug: hero
        name: Hero
        type: character            # character | style | background | pose | detail
        file: registry-loras/hero.safetensors   # relative to this YAML file's directory
        sha256: 3f1c...            # matches an entry already registered; checked against file
        original_filename: hero_v2.safetensors
        base_model: sdxl
        trigger_words: [hero]
        default_weight: 0.8
        min_weight: 0.0
        max_weight: 1.5
        enabled: true
        is_public: true
        owner: null                # a username for a private LoRA
    combinations:     # required: slug, name
      - {slug: beach-day, name: Beach day, description: "", entries: [{lora: hero, weight: 0.7}]}
    styles:           # required: slug, name
      - {slug: comic, name: Comic, prompt_template: "comic of {prompt}", negative_prompt: "",
         quality: standard, steps: null, scheduler: euler, ip_adapter_scale: null,
         controlnet_weights: {canny: 0.9}, enabled: true, model: watercolor}
    characters:       # the characters app's section; required: owner, name
      - {owner: alice, name: Luca, description: "", trigger_words: [luca], style: comic,
         model: watercolor,
         consistency_threshold: 0.5, scene_presets: {beach: "on the beach"},
         default_loras: [{lora: hero, weight: 0.7}]}

Import is idempotent (a second import changes nothing) and all-or-nothing: it runs in one
transaction, and LoRA files stored by a failed or dry run are removed again. LoRA files go
through ``lora_register``, so the safetensors checks apply. Not covered: reference images and
LoRA preview images (uploads, not curated metadata).
"""

from .exporter import export_registry, lora_files_dir
from .importer import RegistryImporter, import_registry
from .schema import RegistrySyncError, Section, SyncReport, register_section

__all__ = [
    "RegistryImporter",
    "RegistrySyncError",
    "Section",
    "SyncReport",
    "export_registry",
    "import_registry",
    "lora_files_dir",
    "register_section",
]
