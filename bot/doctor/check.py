"""One item of doctor's checklist: what was checked, how it went, and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]
MARK = {"ok": "✔", "warn": "!", "fail": "✘"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{MARK[self.status]} {self.name}: {self.detail}"
