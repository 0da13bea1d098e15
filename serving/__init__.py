"""Serving: put experiment arms and reason texts in front of users and log what they saw.

``ReasonService`` (in-process), ``ExposureLog`` (durable JSON Lines parts), ``load_snapshot``
(one short read-only visit to the warehouse), the HTTP sidecar (``abkit serve``, serving.http)
and guarded ramps (``abkit rollout``, serving.rollout). See docs/serving.md.
"""

from serving.exposure_log import ExposureLog, ExposureRecord, ItemReason, LogFull
from serving.service import ExperimentReasons, ReasonService
from serving.snapshot import Snapshot, load_snapshot

__all__ = ["ExperimentReasons", "ExposureLog", "ExposureRecord", "ItemReason", "LogFull", "ReasonService",
           "Snapshot", "load_snapshot"]
