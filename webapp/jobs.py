"""Background jobs: `abkit analyze` / `abkit simulate` as subprocesses, polled by the page.

A job is its own process (it opens the warehouse read-write while it runs; the app's pages
retry around it). Its output goes to a log file; progress is its state, elapsed time and
last output line. Jobs are kept in memory: they are lost when the app restarts, their results
are not (they are in the warehouse).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_ids = itertools.count(1)


@dataclass
class Job:
    id: int
    experiment: str
    kind: str  # "analyze" or "simulate"
    steps: list[list[str]]
    log: Path
    started: float = field(default_factory=time.time)
    finished: float | None = None
    step: int = 0
    returncode: int | None = None
    process: subprocess.Popen | None = None

    @property
    def state(self) -> str:
        if self.finished is None:
            return "running"
        return "done" if self.returncode == 0 else "failed"

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started

    def last_line(self) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""


class JobRunner:
    """Runs one step list per job in a thread; one job per experiment at a time."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = env
        self.jobs: dict[int, Job] = {}
        self._lock = threading.Lock()

    def active(self, experiment: str) -> Job | None:
        with self._lock:
            return next((j for j in self.jobs.values() if j.experiment == experiment and j.finished is None), None)

    def latest(self, experiment: str) -> Job | None:
        with self._lock:
            mine = [j for j in self.jobs.values() if j.experiment == experiment]
        return mine[-1] if mine else None

    def start(self, experiment: str, kind: str, steps: list[list[str]]) -> Job:
        running = self.active(experiment)
        if running is not None:
            return running
        self.folder.mkdir(parents=True, exist_ok=True)
        job_id = next(_ids)
        job = Job(job_id, experiment, kind, steps, self.folder / f"job-{os.getpid()}-{job_id}.log")
        with self._lock:
            self.jobs[job_id] = job
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return job

    def _run(self, job: Job) -> None:
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
        with job.log.open("w", encoding="utf-8") as out:
            for i, argv in enumerate(job.steps):
                job.step = i
                out.write(f"$ {' '.join(argv[2:])}\n")  # argv = [python, -m, module, ...]
                out.flush()
                try:
                    job.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                                   stdin=subprocess.DEVNULL)
                    job.returncode = job.process.wait()
                except OSError as exc:
                    out.write(f"cannot start: {exc}\n")
                    job.returncode = 127
                if job.returncode != 0:
                    break
        job.finished = time.time()

    def stop_all(self) -> None:
        for job in list(self.jobs.values()):
            if job.finished is None and job.process is not None:
                job.process.terminate()
