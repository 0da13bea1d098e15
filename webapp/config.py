"""What `abkit ui` was started with."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from abkit.warehouse import os_user


@dataclass(frozen=True)
class UIConfig:
    """``token`` may be ``NAME:SECRET``; the name is then who the audit trail records."""

    db: Path
    specs: Path
    token: str | None = None
    user: str | None = None
    lang: str = "zh"
    python: str = field(default=sys.executable)  # the interpreter background jobs run `abkit` with
    jobs_dir: Path | None = None  # where job outputs go (default: a folder beside the warehouse)

    @property
    def token_name(self) -> str | None:
        if not self.token:
            return None
        name, sep, _ = self.token.partition(":")
        return name if sep and name else "token"

    @property
    def actor(self) -> str:
        """Who a write is recorded as: the token's name, else --user, else the OS user."""
        return self.token_name or self.user or os_user()

    @property
    def job_folder(self) -> Path:
        return self.jobs_dir or self.db.parent / f".{self.db.stem}-ui-jobs"
