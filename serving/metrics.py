"""Prometheus text exposition of the server's counters (no client library needed)."""

from __future__ import annotations

import bisect
import collections

from serving.exposure_log import LogStats

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ServerMetrics:
    """Request counts by path and status, and the /v1/reasons handler latency histogram."""

    def __init__(self) -> None:
        self.requests: collections.Counter[tuple[str, int]] = collections.Counter()
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.reloads = 0
        self.reload_failures = 0

    def observe(self, path: str, status: int, seconds: float | None = None) -> None:
        """Count a request; ``seconds`` (the /v1/reasons handler's time) goes into the histogram."""
        self.requests[(path, status)] += 1
        if seconds is not None:
            self.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self.latency_sum += seconds
            self.latency_count += 1

    def render(self, *, fallbacks: dict[str, int], log: LogStats | None, pending_rows: int,
               expired_tokens: int, experiments: int) -> str:
        out = ["# HELP abkit_requests_total HTTP requests by path and status.",
               "# TYPE abkit_requests_total counter"]
        for (path, status), n in sorted(self.requests.items()):
            out.append(f'abkit_requests_total{{path="{path}",status="{status}"}} {n}')
        out += ["# HELP abkit_request_seconds Handling time of POST /v1/reasons.",
                "# TYPE abkit_request_seconds histogram"]
        cumulative = 0
        for le, n in zip((*map(str, LATENCY_BUCKETS), "+Inf"), self.buckets, strict=True):
            cumulative += n
            out.append(f'abkit_request_seconds_bucket{{le="{le}"}} {cumulative}')
        out += [f"abkit_request_seconds_sum {self.latency_sum:.6f}", f"abkit_request_seconds_count {self.latency_count}",
                "# HELP abkit_fallbacks_total Logged exposure rows that showed the template text, by why.",
                "# TYPE abkit_fallbacks_total counter"]
        for why, n in sorted(fallbacks.items()):
            out.append(f'abkit_fallbacks_total{{why="{why}"}} {n}')
        if log is not None:
            for name, value, help_ in (
                ("enqueued", log.enqueued, "Exposure rows accepted from responses."),
                ("written", log.written, "Exposure rows written to the log directory."),
                ("flushed", log.flushed, "Exposure rows fsynced."),
                ("dropped", log.dropped, "Exposure rows lost (write failing at shutdown)."),
                ("rejected", log.rejected, "Exposure rows refused (log backlog full; request answered 503)."),
            ):
                out += [f"# HELP abkit_exposures_{name}_total {help_}", f"# TYPE abkit_exposures_{name}_total counter",
                        f"abkit_exposures_{name}_total {value}"]
            out += ["# TYPE abkit_exposure_write_errors_total counter", f"abkit_exposure_write_errors_total {log.write_errors}",
                    "# TYPE abkit_exposures_pending gauge", f"abkit_exposures_pending {pending_rows}"]
        out += ["# TYPE abkit_confirm_tokens_expired_total counter", f"abkit_confirm_tokens_expired_total {expired_tokens}",
                "# TYPE abkit_reloads_total counter", f"abkit_reloads_total {self.reloads}",
                "# TYPE abkit_reload_failures_total counter", f"abkit_reload_failures_total {self.reload_failures}",
                "# TYPE abkit_experiments_served gauge", f"abkit_experiments_served {experiments}"]
        return "\n".join(out) + "\n"
