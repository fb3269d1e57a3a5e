"""Calendar months in UTC, as the usage roll-ups count them: ``YYYY-MM`` in, the month's
half-open range of instants out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ValueError for anything else (a month 00 or 13, a day, spaces)."""
        match = _MONTH.fullmatch(text)
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            raise ValueError(f"{text!r} is not a month; give it as YYYY-MM, e.g. 2025-03.")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def current(cls) -> Month:
        now = timezone.now().astimezone(UTC)
        return cls(now.year, now.month)

    @classmethod
    def of(cls, instant: datetime) -> Month:
        instant = instant.astimezone(UTC)
        return cls(instant.year, instant.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (excluded)."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
