"""The stream guard: every ``ILLU_STREAM_AUTH_RECHECK_SECONDS`` one short database unit per
web process (per event loop) checks, for every stream and wait it has open,

- that the credential which opened a stream still signs its user in (a revoked token, a
  signed-out or expired session, a deactivated user: the watch gets ``revoked``);
- whether the row ended (its final event may have been lost: the watch gets ``ended``);

and pushes forward the expiry of the process's per-user slots in Redis
(``work.long_wait_caps``). The cost is a few queries per round whatever the number of
streams, and no connection is held between rounds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from accounts.selectors import credentials_still_signing_in
from core.db_units import short_db_unit

from .event_hub import Signal, Watch
from .long_wait_caps import leases_refresh
from .long_wait_sign_in import Credential
from .models import FINISHED_STATUSES

logger = logging.getLogger(__name__)
ROWS_PER_QUERY = 500


@dataclass(eq=False)
class Guarded:
    watch: Watch
    model: type
    row_id: str
    credential: Credential | None = None


@dataclass
class Verdict:
    tokens: set[str]
    sessions: set[str]
    statuses: dict[tuple[type, str], str]  # rows that still exist

    def revoked(self, credential: Credential | None) -> bool:
        if credential is None:
            return False
        if credential.token_id is not None:
            return credential.token_id not in self.tokens
        if credential.session_key is not None:
            return credential.session_key not in self.sessions
        return False


def _check(entries: list[Guarded]) -> Verdict:
    credentials = [entry.credential for entry in entries if entry.credential is not None]
    tokens, sessions = credentials_still_signing_in(
        token_ids={c.token_id for c in credentials if c.token_id is not None},
        session_keys={c.session_key for c in credentials if c.session_key is not None},
    )
    rows: dict[type, set[str]] = defaultdict(set)
    for entry in entries:
        rows[entry.model].add(entry.row_id)
    statuses = {}
    for model, ids in rows.items():
        ids = sorted(ids)
        for start in range(0, len(ids), ROWS_PER_QUERY):
            found = model.objects.filter(pk__in=ids[start : start + ROWS_PER_QUERY])
            for pk, status in found.values_list("pk", "status"):
                statuses[(model, str(pk))] = status
    leases_refresh()
    return Verdict(tokens, sessions, statuses)


class StreamGuard:
    def __init__(self) -> None:
        self._entries: set[Guarded] = set()
        self._task: asyncio.Task | None = None

    @contextlib.contextmanager
    def guarding(self, entry: Guarded) -> Iterator[None]:
        self._entries.add(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield
        finally:
            self._entries.discard(entry)
            if not self._entries and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _run(self) -> None:
        while self._entries:
            await asyncio.sleep(settings.ILLU_STREAM_AUTH_RECHECK_SECONDS)
            entries = list(self._entries)
            try:
                verdict = await short_db_unit(_check, entries)
            except Exception:  # a database outage: streams go on; the next round retries
                logger.warning("stream guard: check failed", exc_info=True)
                continue
            for entry in entries:
                if verdict.revoked(entry.credential):
                    entry.watch.deliver(Signal("revoked"))
                    continue
                status = verdict.statuses.get((entry.model, entry.row_id))
                if status is None or status in FINISHED_STATUSES:
                    entry.watch.deliver(Signal("ended", {"status": status}))


_guards: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StreamGuard] = (
    weakref.WeakKeyDictionary()
)


def stream_guard() -> StreamGuard:
    """The guard of the running event loop (one per web process under uvicorn)."""
    loop = asyncio.get_running_loop()
    guard = _guards.get(loop)
    if guard is None:
        guard = _guards[loop] = StreamGuard()
    return guard
