"""What one worker process remembers between batches: the LoRA set it last ran (for
affinity), how often each job was passed over for it, the jobs it holds right now (in the
denoise or in the storage stage, reported by the heartbeat so the reconciler leaves them
alone), its storage stage, and whether routing asked it to wait for the fleet."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpu_worker.serving.storage_stage import StorageStage


@dataclass
class ServingState:
    loaded_loras: tuple | None = None
    passed_over: dict[str, int] = field(default_factory=dict)
    denoising: set[str] = field(default_factory=set)
    stage: StorageStage | None = None
    serving_model: str | None = None  # the slug of the batch claimed last (heartbeat)
    waits_for_fleet: bool = False  # routing left the queue to others: wait before looking again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def held_jobs(self) -> list[str]:
        with self.lock:
            held = set(self.denoising)
        if self.stage is not None:
            held |= self.stage.pending_ids()
        return sorted(held)


STATE = ServingState()
