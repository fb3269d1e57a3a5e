"""Which base models a worker keeps loaded, and where: on the device (ready to denoise), in
host memory (pinned on CUDA: back on the device in one copy) or nowhere (read from disk).

Several models stay on the device, least recently used out first, within a byte budget (and
an optional count cap) read from the device profile (``profiles.resident_budget``); a model
pushed off the device goes to the host tier when that has room, else it is dropped. Parts
that carry identical weights (text encoders, VAE: the same sha256 over their files) are one
module shared by every pipeline that loads them, counted once; a job that must change a
shared part (a LoRA injecting into the text encoders) gets its own copy first
(``own_components``). Pure torch: the pipelines are whatever ``loading`` built.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .memory import free_device_memory
from .weight_hashes import WEIGHT_HASHES

logger = logging.getLogger(__name__)

# Parts of an SDXL pipeline that fine-tuned checkpoints often leave as the base had them.
SHAREABLE = ("text_encoder", "text_encoder_2", "vae")

RESIDENT, HOST, DISK = "resident", "host", "disk"


@dataclass(frozen=True)
class ModelLoad:
    """How a job got its model: ``tier`` it came from and the milliseconds that took (0 when
    it was resident)."""

    source: str
    tier: str
    ms: int


@dataclass(frozen=True)
class ResidencyBudget:
    device_bytes: int  # weights kept on the device, shared parts counted once
    host_bytes: int  # weights parked in host memory (0: no host tier)
    max_models: int | None = None  # a cap on device-resident models (None: bytes only)


def module_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors(module))


def pipeline_modules(pipeline) -> dict[str, torch.nn.Module]:
    return {
        name: module
        for name, module in pipeline.components.items()
        if isinstance(module, torch.nn.Module)
    }


def _tensors(module: torch.nn.Module) -> Iterable[torch.Tensor]:
    yield from module.parameters()
    yield from module.buffers()


class ResidentModels:
    """The tiers of one engine (see the module docstring). ``on_drop(source)`` runs when a
    model leaves every tier, so its owner can forget what it kept for it (resting state)."""

    def __init__(
        self,
        device: str,
        budget: ResidencyBudget,
        on_drop: Callable[[str], None] | None = None,
    ):
        self.device = device
        self.budget = budget
        self.on_drop = on_drop
        self.on_device: OrderedDict[str, Any] = OrderedDict()  # source -> WarmModel, LRU first
        self.on_host: OrderedDict[str, Any] = OrderedDict()
        self.switches = 0  # loads that were not already resident (host or disk)
        # source -> part name -> weights files; their sha256 decides what is shared.
        self._files: dict[str, dict[str, tuple[Path, ...]]] = {}

    # Reading ---------------------------------------------------------------------------

    def resident(self) -> list[str]:
        """Device-resident sources, least recently used first."""
        return list(self.on_device)

    def device_bytes(self) -> int:
        return _unique_bytes(self.on_device.values())

    def host_bytes(self) -> int:
        on_device = _module_ids(self.on_device.values())
        return sum(
            module_bytes(module)
            for module in _unique_modules(self.on_host.values())
            if id(module) not in on_device
        )

    def room(self) -> int:
        """Models of the resident ones' average size that still fit without pushing one
        out (an empty device: the count cap, or one)."""
        count = len(self.on_device)
        cap = self.budget.max_models
        by_count = cap - count if cap is not None else None
        if count == 0:
            return by_count if by_count is not None else 1
        average = max(1, self.device_bytes() // count)
        by_bytes = max(0, self.budget.device_bytes - self.device_bytes()) // average
        return max(0, min(by_bytes, by_count) if by_count is not None else by_bytes)

    # Taking a model ----------------------------------------------------------------------

    def take(self, source: str):
        """The warm model for ``source`` and the tier it came from, or (None, DISK) when it
        must be loaded; a host-tier model is moved back on the device first."""
        if source in self.on_device:
            self.on_device.move_to_end(source)
            return self.on_device[source], RESIDENT
        warm = self.on_host.pop(source, None)
        if warm is None:
            return None, DISK
        self.make_room(self._bytes_not_on_device(warm))
        started = time.perf_counter()
        warm.pipeline.to(self.device)
        self.on_device[source] = warm
        logger.info(
            "model %s back from host memory in %d ms",
            source,
            int((time.perf_counter() - started) * 1000),
        )
        return warm, HOST

    def make_room(
        self, incoming_bytes: int, keep: Iterable[str] = (), incoming_models: int = 1
    ) -> None:
        """Push least recently used models off the device until ``incoming_bytes`` and
        ``incoming_models`` more fit the budget and the count cap (never one of ``keep``)."""
        keep = set(keep)
        cap = self.budget.max_models
        for source in list(self.on_device):
            over_bytes = self.device_bytes() + incoming_bytes > self.budget.device_bytes
            over_count = cap is not None and len(self.on_device) + incoming_models > cap
            if not (over_bytes or over_count):
                return
            if source not in keep:
                self._off_device(source)

    def add(self, source: str, warm, files: dict[str, tuple[Path, ...]] | None = None) -> None:
        """Keep a model just loaded on the device (room was made for it first)."""
        self.on_device[source] = warm
        self._files[source] = files or {}
        self.make_room(0, keep=(source,), incoming_models=0)  # it may exceed the estimate

    def count_switch(self, tier: str) -> None:
        if tier != RESIDENT:
            self.switches += 1

    # Shared parts ----------------------------------------------------------------------

    def shared_parts(self, files: dict[str, tuple[Path, ...]]) -> dict[str, torch.nn.Module]:
        """For a model about to load with these part files: the parts some kept model
        already holds with identical weights (same sha256 over the same number of files)."""
        found: dict[str, torch.nn.Module] = {}
        for name, wanted in files.items():
            if name not in SHAREABLE or not wanted:
                continue
            for source, warm in [*self.on_device.items(), *self.on_host.items()]:
                held = self._files.get(source, {}).get(name)
                module = pipeline_modules(warm.pipeline).get(name)
                if module is not None and held and _same_weights(held, wanted):
                    found[name] = module
                    break
        return found

    def own_components(self, source: str, names: Iterable[str]) -> list[str]:
        """Give ``source``'s pipeline its own copy of each named part another kept model
        shares (before a job changes it: LoRA layers in a text encoder). Returns the parts
        copied."""
        warm = self.on_device.get(source) or self.on_host.get(source)
        if warm is None:
            return []
        others = _module_ids(w for s, w in self._all() if s != source)
        copied = []
        for name in names:
            module = pipeline_modules(warm.pipeline).get(name)
            if module is not None and id(module) in others:
                setattr(warm.pipeline, name, copy.deepcopy(module))
                warm.pipeline.register_modules(**{name: getattr(warm.pipeline, name)})
                self._files.get(source, {}).pop(name, None)  # no longer the shared weights
                copied.append(name)
        if copied:
            logger.info("model %s took its own copy of %s", source, ", ".join(copied))
            self.make_room(0, keep=(source,), incoming_models=0)
        return copied

    # Letting go --------------------------------------------------------------------------

    def drop_all(self, *, host_too: bool = True) -> None:
        for source in list(self.on_device):
            self._off_device(source, to_host=not host_too)
        if host_too:
            for source in list(self.on_host):
                self._drop(source, self.on_host.pop(source))
        free_device_memory()

    def _off_device(self, source: str, *, to_host: bool = True) -> None:
        warm = self.on_device.pop(source)
        room_on_host = to_host and self.budget.host_bytes > 0
        if room_on_host:
            size = self._bytes_not_on_device(warm)
            while self.on_host and self.host_bytes() + size > self.budget.host_bytes:
                old, parked = self.on_host.popitem(last=False)
                self._drop(old, parked)
            room_on_host = self.host_bytes() + size <= self.budget.host_bytes
        if room_on_host:
            self._to_host(warm)
            self.on_host[source] = warm
            logger.info("model %s moved to host memory", source)
            if self.device.startswith("cuda"):
                free_device_memory()  # its device copy's blocks back to the device
        else:
            self._drop(source, warm)
            free_device_memory()

    def _to_host(self, warm) -> None:
        """Every part no device-resident model still uses goes to host memory, pinned on
        CUDA so the way back is one direct copy."""
        in_use = _module_ids(self.on_device.values())
        pin = self.device.startswith("cuda") and torch.cuda.is_available()
        for module in pipeline_modules(warm.pipeline).values():
            if id(module) in in_use:
                continue
            module.to("cpu")
            if pin:
                for tensor in _tensors(module):
                    tensor.data = tensor.data.pin_memory()

    def _drop(self, source: str, warm) -> None:
        self._files.pop(source, None)
        logger.info("unloading model %s", source)
        if self.on_drop is not None:
            self.on_drop(source)

    def _bytes_not_on_device(self, warm) -> int:
        on_device = _module_ids(self.on_device.values())
        return sum(
            module_bytes(module)
            for module in pipeline_modules(warm.pipeline).values()
            if id(module) not in on_device
        )

    def _all(self):
        return [*self.on_device.items(), *self.on_host.items()]


def _unique_modules(models: Iterable[Any]) -> list[torch.nn.Module]:
    seen: dict[int, torch.nn.Module] = {}
    for warm in models:
        for module in pipeline_modules(warm.pipeline).values():
            seen.setdefault(id(module), module)
    return list(seen.values())


def _unique_bytes(models: Iterable[Any]) -> int:
    return sum(module_bytes(module) for module in _unique_modules(models))


def _module_ids(models: Iterable[Any]) -> set[int]:
    return {id(module) for module in _unique_modules(models)}


def _same_weights(held: tuple[Path, ...], wanted: tuple[Path, ...]) -> bool:
    """Same files, or files of the same sizes and sha256 (hashed once each, cached)."""
    if len(held) != len(wanted):
        return False
    if sorted(map(str, held)) == sorted(map(str, wanted)):
        return True
    if sorted(p.stat().st_size for p in held) != sorted(p.stat().st_size for p in wanted):
        return False
    digests = sorted(WEIGHT_HASHES.file_sha256(p) for p in held)
    return digests == sorted(WEIGHT_HASHES.file_sha256(p) for p in wanted)


def part_files(root: Path, files: Iterable[Path]) -> dict[str, tuple[Path, ...]]:
    """A pipeline folder's weights files grouped by part (its first folder)."""
    parts: dict[str, list[Path]] = {}
    for path in files:
        try:
            name = Path(path).relative_to(root).parts[0]
        except (ValueError, IndexError):
            continue
        parts.setdefault(name, []).append(Path(path))
    return {name: tuple(paths) for name, paths in parts.items()}


def files_bytes(files: dict[str, tuple[Path, ...]], skip: Iterable[str] = ()) -> int:
    """Bytes on disk of the parts not in ``skip``: the estimate of what a load adds."""
    skip = set(skip)
    return sum(
        path.stat().st_size for name, paths in files.items() if name not in skip for path in paths
    )
