"""The HTTP sidecar (``abkit serve``): Starlette on uvicorn (uvloop + httptools).

    POST /v1/reasons    {"user_id": "u1", "items": ["i1"], "attributes": {"segment": "学生党"}}
    POST /v1/exposures  {"tokens": ["…"]}          (render-confirmed mode only)
    GET  /healthz       GET /metrics (Prometheus text)
    POST /admin/reload  (loopback clients only; SIGHUP does the same)

A bad request gets a 4xx with a one-line JSON ``{"error": …}`` and logs nothing; a full
exposure backlog gets 503 (the client shows its default page, so nothing unlogged is shown).
SIGTERM/SIGINT: uvicorn stops accepting, finishes in-flight requests, then the exposure log
is flushed, fsynced and its part renamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from abkit.errors import AbkitError
from abkit.spec import Spec, load_spec
from serving.exposure_log import ExposureLog, LogFull
from serving.metrics import ServerMetrics
from serving.service import RESERVED_ATTRIBUTES, ReasonService
from serving.snapshot import load_snapshot

MAX_BODY = 1 << 20
MAX_ITEMS = 1000
MAX_ID = 256
JSON = "application/json"


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _error(message: str, status: int) -> Response:
    return Response(orjson.dumps({"error": message}) + b"\n", status, media_type=JSON)


def _object(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise BadRequest(f"body larger than {MAX_BODY} bytes", 413)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what} must be a non-empty string")
    if len(value) > MAX_ID:
        raise BadRequest(f"{what} is longer than {MAX_ID} characters")
    return value


def parse_reasons_request(body: bytes) -> tuple[str, list[str], dict[str, Any]]:
    """(user_id, items, attributes) of a POST /v1/reasons body, or BadRequest naming the key."""
    data = _object(body)
    unknown = sorted(set(data) - {"user_id", "items", "attributes"})
    if unknown:
        raise BadRequest(f"unknown key {unknown[0]!r} (expected user_id, items, attributes)")
    user_id = _id(data.get("user_id"), "user_id")
    items = data.get("items")
    if not isinstance(items, list):
        raise BadRequest("items must be a list of item ids")
    if len(items) > MAX_ITEMS:
        raise BadRequest(f"items holds {len(items)} ids (at most {MAX_ITEMS})")
    for i, item in enumerate(items):
        _id(item, f"items[{i}]")
    attributes = data.get("attributes")
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise BadRequest("attributes must be an object")
    for name, value in attributes.items():
        if name in RESERVED_ATTRIBUTES:
            raise BadRequest(f"attributes.{name} collides with an exposures column")
        if not name or len(name) > 64:
            raise BadRequest("attribute names must be 1 to 64 characters")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise BadRequest(f"attributes.{name} must be a string, number, boolean or null")
    return user_id, items, attributes


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    """The state behind the routes: the service, the log, the spec files and the counters."""

    def __init__(self, spec_paths: Sequence[Path], db: Path, log: ExposureLog, *, confirm: bool = False) -> None:
        self.spec_paths = list(spec_paths)
        self.db = db
        self.log = log
        self.confirm = confirm
        self.metrics = ServerMetrics()
        self.service = ReasonService(load_snapshot(self._specs(), db), log=log)

    def _specs(self) -> list[Spec]:
        return [load_spec(p) for p in self.spec_paths]

    def reload(self) -> dict[str, Any]:
        """Re-read the spec files and the snapshot; on failure keep serving the previous one."""
        try:
            self.service.load(load_snapshot(self._specs(), self.db))
        except AbkitError as exc:
            self.metrics.reload_failures += 1
            print(f"abkit serve: reload failed, still serving the previous snapshot: {exc}", file=sys.stderr)
            raise
        self.metrics.reloads += 1
        return self.health()

    def health(self) -> dict[str, Any]:
        snap = self.service.snapshot
        return {"status": "ok", "experiments": {e.spec.key: {"coverage": e.spec.coverage, "state": e.state,
                                                              "shipped_arm": e.shipped_arm}
                                                for e in snap.served},
                "loaded_at": snap.loaded_at.isoformat() + "Z", "confirm_renders": self.confirm}

    # --- routes ---------------------------------------------------------------------------------
    async def reasons(self, request: Request) -> Response:
        t0 = time.perf_counter()
        status = 200
        try:
            user_id, items, attributes = parse_reasons_request(await request.body())
            result = self.service.reasons(user_id, items, attributes, confirm=self.confirm)
            body = []
            for e in result:
                items_out: list[dict[str, Any]] = [
                    {"item_id": it.item_id, "reason_id": it.reason_id, "text": it.text, "fallback": it.fallback}
                    for it in e.items]
                for item, token in zip(items_out, e.tokens or (), strict=False):
                    item["token"] = token
                body.append({"experiment": e.experiment, "arm": e.arm, "items": items_out})
            response = Response(orjson.dumps(body), media_type=JSON)
        except BadRequest as exc:
            status = exc.status
            response = _error(str(exc), status)
        except LogFull as exc:
            status = 503
            response = _error(f"exposure log backlog full, retry later ({exc})", status)
        self.metrics.observe("/v1/reasons", status, time.perf_counter() - t0)
        return response

    async def exposures(self, request: Request) -> Response:
        try:
            if not self.confirm:
                raise BadRequest("this server logs every answered item; start it with --confirm-renders", 404)
            data = _object(await request.body())
            tokens = data.get("tokens")
            if set(data) != {"tokens"} or not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise BadRequest('body must be {"tokens": [token, ...]}')
            logged, unknown = self.service.confirm(tokens)
        except BadRequest as exc:
            self.metrics.observe("/v1/exposures", exc.status)
            return _error(str(exc), exc.status)
        except LogFull as exc:
            self.metrics.observe("/v1/exposures", 503)
            return _error(f"exposure log backlog full, retry later ({exc})", 503)
        self.metrics.observe("/v1/exposures", 200)
        return Response(orjson.dumps({"logged": logged, "unknown": unknown}), media_type=JSON)

    async def healthz(self, request: Request) -> Response:
        return Response(orjson.dumps(self.health()), media_type=JSON)

    async def prometheus(self, request: Request) -> Response:
        text = self.metrics.render(
            fallbacks=self.service.fallback_counts, log=self.log.stats, pending_rows=self.log.pending_rows(),
            expired_tokens=self.service.expired_tokens, experiments=len(self.service.experiments))
        return Response(text, media_type="text/plain; version=0.0.4")

    async def admin_reload(self, request: Request) -> Response:
        if not _is_loopback(request):
            return _error("the admin endpoint answers loopback clients only", 403)
        try:
            return Response(orjson.dumps(await asyncio.to_thread(self.reload)), media_type=JSON)
        except AbkitError as exc:
            return _error(f"reload failed, still serving the previous snapshot: {exc}", 500)

    async def _reload_quietly(self) -> None:
        with contextlib.suppress(AbkitError):
            await asyncio.to_thread(self.reload)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self._reload_quietly()))
        try:
            yield
        finally:
            self.log.close()
            s = self.log.stats
            print(f"abkit serve: stopped; exposure rows written {s.written:,}, flushed {s.flushed:,}, "
                  f"dropped {s.dropped:,}", file=sys.stderr)

    def app(self) -> Starlette:
        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            self.metrics.observe(request.url.path if status != 404 else "other", status)
            return _error(exc.detail if isinstance(exc, HTTPException) else "internal error", status)

        return Starlette(exception_handlers={HTTPException: http_error}, routes=[
            Route("/v1/reasons", self.reasons, methods=["POST"]),
            Route("/v1/exposures", self.exposures, methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/admin/reload", self.admin_reload, methods=["POST"]),
        ], lifespan=self.lifespan)


def floor_app(page: bytes) -> Starlette:
    """The benchmark's floor: the same stack answering a precomputed page to any POST /v1/reasons."""

    async def answer(request: Request) -> Response:
        await request.body()
        return Response(page, media_type=JSON)

    return Starlette(routes=[Route("/v1/reasons", answer, methods=["POST"])])


def run(app: Callable[..., Any], host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until SIGTERM/SIGINT (graceful: in-flight requests finish)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, loop="auto", http="auto", lifespan="on",
                            log_level="warning", access_log=False, timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()


def serve(spec_paths: Sequence[Path], db: Path, log_dir: Path, *, host: str = "127.0.0.1", port: int = 8080,
          confirm: bool = False, flush_ms: int = 200) -> None:
    log = ExposureLog(log_dir, flush_ms=flush_ms)
    try:
        server = Server(spec_paths, db, log, confirm=confirm)
    except BaseException:
        log.close()
        raise
    if log.recovered:
        print(f"abkit serve: finished {len(log.recovered)} part(s) left by a stopped server", file=sys.stderr)
    keys = ", ".join(server.service.experiments) or "none running"
    print(f"abkit serve: http://{host}:{port} — experiments: {keys}; exposures → {log_dir}", file=sys.stderr, flush=True)
    run(server.app(), host, port)
