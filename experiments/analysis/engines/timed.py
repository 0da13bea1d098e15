"""The one timing wrapper: an Engine that records every query it runs with its wall time, and the
wall time of each named block of work around them (``with engine.block("daily"): ...``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd

from experiments.analysis import queries as q
from experiments.analysis.engines.base import Engine

QueryLog = list[tuple[q.Query, float]]


@dataclass
class TimedEngine:
    """Delegates to ``engine``; ``materialize`` and ``frame`` append (query, seconds) to ``log``;
    :meth:`block` adds a block's wall time (queries and Python alike) to ``blocks``."""

    engine: Engine
    log: QueryLog = field(default_factory=list)
    blocks: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def block(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.blocks[name] = self.blocks.get(name, 0.0) + time.perf_counter() - t

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def parse_ts(self) -> str:
        return self.engine.parse_ts

    def materialize(self, query: q.Query, name: str) -> None:
        t = time.perf_counter()
        self.engine.materialize(query, name)
        self.log.append((query, time.perf_counter() - t))

    def frame(self, query: q.Query) -> pd.DataFrame:
        t = time.perf_counter()
        df = self.engine.frame(query)
        self.log.append((query, time.perf_counter() - t))
        return df

    def view(self, query: q.Query, name: str) -> None:
        self.engine.view(query, name)

    def drop(self, name: str) -> None:
        self.engine.drop(name)

    def register(self, name: str, df: pd.DataFrame) -> None:
        self.engine.register(name, df)

    def load_source(self, table: str, location: str | None, name: str) -> None:
        self.engine.load_source(table, location, name)
