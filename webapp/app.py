"""The `abkit ui` application: routes, rendering, the write guard.

Pages open the warehouse read-only for their queries and close it; actions open it
read-write for one short transaction (webapp.store). Writes (saving a spec, lifecycle
actions, jobs, labels) need the CSRF value of the page they came from and, when the app was
started with a token, the token.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from abkit.errors import AbkitError
from abkit.metrics import METRICS
from abkit.spec import Spec
from webapp import lifecycle, overview, planning, reporting, review, security, specfiles
from webapp.config import UIConfig
from webapp.i18n import LANGS, translator
from webapp.jobs import JobRunner
from webapp.store import Memo, WarehouseBusy, reading, version, writing

HERE = Path(__file__).parent
LANG_COOKIE = "abkit_lang"
SECURITY_HEADERS = {
    # plotly's figures are inline scripts the report builder writes; every user string is escaped.
    "content-security-policy": "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
Handler = Callable[[Request], Awaitable[Response]]


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters["pct"] = lambda v, d=1: f"{v * 100:.{d}f}%" if isinstance(v, int | float) else "—"
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else ("—" if v is None else str(v))
    env.filters["when"] = lambda t: t.strftime("%Y-%m-%d %H:%M") if isinstance(t, dt.datetime) else (t or "—")
    return env


class UI:
    """The app's state: its configuration, templates and background jobs."""

    def __init__(self, config: UIConfig) -> None:
        self.config = config
        self.env = _env()
        self.jobs = JobRunner(config.job_folder)
        self.memo = Memo()  # keyed by the warehouse's version: any write by any process invalidates

    # --- rendering ---------------------------------------------------------------------------
    def lang(self, request: Request) -> str:
        lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or self.config.lang
        return lang if lang in LANGS else "zh"

    def render(self, request: Request, template: str, status: int = 200, headers: dict[str, str] | None = None,
               **ctx: Any) -> HTMLResponse:
        lang = self.lang(request)
        csrf = security.csrf_token(request)
        html = self.env.get_template(template).render(
            request=request, t=translator(lang), lang=lang, csrf=csrf, csrf_field=security.CSRF_FIELD,
            token_required=bool(self.config.token), authorized=security.authorized(request, self.config.token),
            actor=self.config.actor, metric_keys=list(METRICS), **ctx)
        response = HTMLResponse(html, status_code=status, headers=headers)
        self.finish(request, response)
        return response

    def finish(self, request: Request, response: Response) -> None:
        new = getattr(request.state, "new_csrf", None)
        if new:
            response.set_cookie(security.CSRF_COOKIE, new, httponly=True, samesite="strict", path="/")
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, request.query_params["lang"], samesite="lax", path="/")
        response.headers.update(SECURITY_HEADERS)

    def error(self, request: Request, message: str, status: int) -> HTMLResponse:
        refresh = status == 503
        return self.render(request, "error.html", status=status, message=message, refresh=refresh,
                           headers={"retry-after": "2"} if refresh else None)

    # --- shared lookups ----------------------------------------------------------------------
    def specs(self) -> dict[str, specfiles.SpecFile]:
        return specfiles.list_specs(self.config.specs)

    async def write_guard(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        """The posted form, or a refusal: a missing/wrong CSRF value, or no token when one is set."""
        form = dict(await request.form())
        if security.bearer_ok(request, self.config.token):
            return form, None  # a script's header: no browser can forge it cross-site, so no CSRF check
        if not security.csrf_ok(request, form.get(security.CSRF_FIELD)):
            return form, self.error(request, translator(self.lang(request))("err_csrf"), 403)
        if not security.authorized(request, self.config.token):
            return form, self.error(request, translator(self.lang(request))("err_token"), 403)
        return form, None

    def abkit(self, *args: str) -> list[str]:
        return [self.config.python, "-m", "abkit", *args]


def _handles_errors(method: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    @functools.wraps(method)
    async def wrapper(self: Routes, request: Request) -> Response:
        try:
            return await method(self, request)
        except WarehouseBusy as exc:
            return self.ui.error(request, str(exc), 503)
        except AbkitError as exc:
            return self.ui.error(request, str(exc), 400)
    return wrapper


class Routes:
    def __init__(self, ui: UI) -> None:
        self.ui = ui
        self.cfg = ui.config

    # --- list --------------------------------------------------------------------------------
    @_handles_errors
    async def index(self, request: Request) -> Response:
        specs = self.ui.specs()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

        def compute() -> tuple[list[overview.ExperimentRow], int]:
            with reading(self.cfg.db) as con:
                return overview.experiment_rows(con, specs, now)

        signature = tuple((k, sf.path.stat().st_mtime_ns) for k, sf in specs.items() if sf.path.exists())
        rows, quarantined = self.ui.memo.get(("list", version(self.cfg.db), signature, now.strftime("%Y%m%d%H%M")),
                                             compute)
        state, owner = request.query_params.get("state", ""), request.query_params.get("owner", "")
        owners = sorted({r.owner for r in rows if r.owner})
        shown = [r for r in rows if (not state or r.state == state) and (not owner or r.owner == owner)]
        return self.ui.render(request, "list.html", rows=shown, total=len(rows), quarantined=quarantined,
                              states=lifecycle_states(), owners=owners, state=state, owner=owner)

    # --- form --------------------------------------------------------------------------------
    def _form_page(self, request: Request, doc: Any, *, is_new: bool, state: str, error: tuple[str, str] | None = None,
                   saved: bool = False, status: int = 200) -> Response:
        view = specfiles.form_view(doc)
        fields = _form_fields(view)
        errors = {}
        if error is not None:
            errors[specfiles.field_for(error[0], fields)] = f"{error[0]}: {error[1]}"
        return self.ui.render(request, "form.html", status=status, f=view, is_new=is_new, errors=errors,
                              locked=state in lifecycle.LOCKED_STATES, state=state, saved=saved,
                              generator_types=specfiles.GENERATOR_TYPES)

    @_handles_errors
    async def new(self, request: Request) -> Response:
        return self._form_page(request, specfiles.new_document(dt.date.today()), is_new=True, state="draft")

    @_handles_errors
    async def edit(self, request: Request) -> Response:
        key = request.path_params["key"]
        sf = self.ui.specs().get(key)
        if sf is None:
            return self.ui.error(request, f"{key}: no spec file in {self.cfg.specs}", 404)
        with reading(self.cfg.db) as con:
            state = lifecycle.state_of(con, key)
        return self._form_page(request, specfiles.load_document(sf.path), is_new=False, state=state)

    @_handles_errors
    async def save(self, request: Request) -> Response:
        form, refused = await self.ui.write_guard(request)
        if refused:
            return refused
        is_new = form.get("is_new") == "1"
        key = str(form.get("key", "")).strip() if is_new else str(form.get("original_key", ""))
        sf = self.ui.specs().get(key) if key else None
        if is_new and sf is not None:
            doc = specfiles.load_document(None)
            specfiles.apply_form(doc, specfiles.form_to_values(form, list(METRICS)), locked=False)
            return self._form_page(request, doc, is_new=True, state="draft", status=422,
                                   error=("key", f"an experiment {key!r} already exists ({sf.path.name})"))
        with reading(self.cfg.db) as con:
            state = lifecycle.state_of(con, key) if key else "draft"
        locked = state in lifecycle.LOCKED_STATES
        doc = specfiles.load_document(sf.path if sf else None)
        values = specfiles.form_to_values(form, list(METRICS))
        if not is_new:
            values.values["key"] = key  # the key names the file and seeds assignment: never edited
        specfiles.apply_form(doc, values, locked=locked)
        op = form.get("op", "save")
        if op == "add_arm":
            doc.setdefault("arms", []).append({"name": "", "weight": ""})
            return self._form_page(request, doc, is_new=is_new, state=state)
        if op == "add_guardrail":
            doc.setdefault("guardrails", []).append({"metric": "", "margin": 0.02})
            return self._form_page(request, doc, is_new=is_new, state=state)
        spec, err_key, problem = specfiles.validate_document(doc, f"{key or 'new'}.yaml")
        if spec is None:
            return self._form_page(request, doc, is_new=is_new, state=state, status=422, error=(err_key or "", problem or ""))
        path = sf.path if sf else specfiles.spec_path(self.cfg.specs, spec.key)
        specfiles.save(path, doc)
        if is_new:
            with writing(self.cfg.db) as con:
                if lifecycle.state_of(con, spec.key) == "draft" and not lifecycle.audit_trail(con, spec.key):
                    lifecycle.record(con, spec.key, "draft", actor=self.cfg.actor, note=f"spec saved to {path.name}")
        return RedirectResponse(f"/exp/{quote(spec.key)}?saved=1", status_code=303)

    @_handles_errors
    async def plan(self, request: Request) -> Response:
        """The live calculator (an htmx partial): plan the spec the form currently describes."""
        form = dict(await request.form())
        if not security.csrf_ok(request, form.get(security.CSRF_FIELD)):
            return PlainTextResponse("", status_code=403)
        key = str(form.get("original_key") or form.get("key") or "").strip()
        sf = self.ui.specs().get(key) if key else None
        doc = specfiles.load_document(sf.path if sf else None)
        with reading(self.cfg.db) as con:
            locked = sf is not None and lifecycle.state_of(con, key) in lifecycle.LOCKED_STATES
        specfiles.apply_form(doc, specfiles.form_to_values(form, list(METRICS)), locked=locked)
        if not doc.get("key"):
            doc["key"] = "draft_plan"
        spec, err_key, problem = specfiles.validate_document(doc, "form")
        view = planning.plan_for(spec, self.cfg.db) if spec is not None else None
        return self.ui.render(request, "_plan.html", plan=view, problem=None if spec else f"{err_key}: {problem}")

    # --- experiment page ---------------------------------------------------------------------
    @_handles_errors
    async def experiment(self, request: Request) -> Response:
        key = request.path_params["key"]
        sf = self.ui.specs().get(key)
        spec = sf.spec if sf else None
        lang = self.ui.lang(request)
        def inputs() -> tuple[str, list, tuple, Any]:
            with reading(self.cfg.db) as con:
                return (lifecycle.state_of(con, key), lifecycle.audit_trail(con, key),
                        reporting.report_inputs(con, spec) if spec else (None, []), lifecycle.ship_state(con, key))

        stamp = (version(self.cfg.db), sf.path.stat().st_mtime_ns if sf else 0)
        state, trail, (latest, history), ship = self.ui.memo.get(("inputs", key, stamp), inputs)
        sections = self.ui.memo.get(("sections", key, stamp, lang), lambda: reporting.report_sections(
            spec, latest, history, lang)) if spec and latest else None
        data = latest.to_json() if latest is not None else None
        decision = (data or {}).get("decision") or {}
        return self.ui.render(request, "experiment.html", key=key, spec=spec, spec_error=sf.error if sf else None,
                              state=state, trail=trail, ship=ship if state == "shipped" else None, result=data, decision=decision,
                              verdicts=_verdicts(decision), sections=sections, report_css=reporting.report_css(),
                              job=self.ui.jobs.latest(key), actions=_actions(state), saved=bool(request.query_params.get("saved")))

    @_handles_errors
    async def action(self, request: Request) -> Response:
        key = request.path_params["key"]
        form, refused = await self.ui.write_guard(request)
        if refused:
            return refused
        t = translator(self.ui.lang(request))
        if not form.get("confirm"):
            return self.ui.error(request, t("err_confirm"), 400)
        sf = self.ui.specs().get(key)
        with writing(self.cfg.db) as con:
            lifecycle.apply_action(con, key, str(form.get("action", "")), actor=self.cfg.actor,
                                   why=str(form.get("why", "")), arm=str(form.get("arm") or "") or None,
                                   spec=sf.spec if sf else None)
        return RedirectResponse(f"/exp/{quote(key)}", status_code=303)

    def _spec_or_error(self, request: Request, key: str) -> Spec:
        sf = self.ui.specs().get(key)
        if sf is None or sf.spec is None:
            raise AbkitError(f"{key}: needs a valid spec file in {self.cfg.specs}")
        return sf.spec

    @_handles_errors
    async def start_job(self, request: Request) -> Response:
        key, kind = request.path_params["key"], request.path_params["kind"]
        form, refused = await self.ui.write_guard(request)
        if refused:
            return refused
        spec = self._spec_or_error(request, key)
        path = str(self.ui.specs()[key].path)
        db = str(self.cfg.db)
        out_json = str(self.cfg.job_folder / f"{key}-analysis.json")
        if kind == "analyze":
            steps = [self.ui.abkit("analyze", path, "--db", db, "--json", out_json)]
        elif kind == "simulate":
            users = _int(form.get("users"), 5000, 100, 2_000_000)
            days = _int(form.get("days"), (spec.end - spec.start).days, 1, (spec.end - spec.start).days)
            steps = [[self.cfg.python, "-m", "webapp.simulate_job", path, "--db", db, "--users", str(users),
                      "--days", str(days)]]
        else:
            return self.ui.error(request, f"unknown job {kind!r}", 404)
        self.ui.jobs.start(key, kind, steps)
        if request.headers.get("hx-request"):
            return await self.job(request)
        return RedirectResponse(f"/exp/{quote(key)}", status_code=303)

    async def job(self, request: Request) -> Response:
        key = request.path_params["key"]
        job = self.ui.jobs.latest(key)
        headers = {}
        if job is not None and job.finished is not None and request.query_params.get("poll"):
            headers["HX-Refresh"] = "true"  # the job finished while the page polled: show its result
        return self.ui.render(request, "_job.html", key=key, job=job, headers=headers)

    @_handles_errors
    async def report_download(self, request: Request) -> Response:
        key = request.path_params["key"]
        spec = self._spec_or_error(request, key)
        with reading(self.cfg.db) as con:
            latest, history = reporting.report_inputs(con, spec)
        if latest is None:
            raise AbkitError(f"{key}: no analysis result yet — run the analysis first")
        html = reporting.full_report(spec, latest, history, self.ui.lang(request))
        return HTMLResponse(html, headers={"content-disposition": f'attachment; filename="{key}-report.html"'})

    # --- review ------------------------------------------------------------------------------
    @_handles_errors
    async def review(self, request: Request) -> Response:
        key = request.path_params["key"]
        spec = self._spec_or_error(request, key)
        with reading(self.cfg.db) as con:
            # the sample needs every exposure of the window (slow on a big warehouse): drawn once per data
            sample = self.ui.memo.get(("review", key, review.data_stamp(con, key), sf_mtime(self.ui, key)),
                                      lambda: review.draw(con, spec))
            labels = review.latest_labels(con, key)
        df = review.with_labels(sample, labels)
        rates = review.error_rates(labels, spec.arm_names)
        return self.ui.render(request, "review.html", key=key, spec=spec, rows=review.rows_for_page(df),
                              rates=rates, labels=review.LABELS)

    @_handles_errors
    async def label(self, request: Request) -> Response:
        key = request.path_params["key"]
        form, refused = await self.ui.write_guard(request)
        if refused:
            return refused
        spec = self._spec_or_error(request, key)
        arm = str(form.get("arm", ""))
        if arm not in spec.arm_names:
            raise AbkitError(f"arm: {arm!r} is not an arm of {key}")
        with writing(self.cfg.db) as con:
            review.save_label(con, key, arm, str(form.get("item_id", "")), str(form.get("text", "")),
                              str(form.get("label", "")), self.cfg.actor, str(form.get("note", "")).strip())
        return RedirectResponse(f"/exp/{quote(key)}/review#labels", status_code=303)

    # --- sign-in, language, assets -----------------------------------------------------------
    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.ui.render(request, "login.html", failed=False)
        form = dict(await request.form())
        if not security.csrf_ok(request, form.get(security.CSRF_FIELD)):
            return self.ui.error(request, translator(self.ui.lang(request))("err_csrf"), 403)
        given = str(form.get("token", ""))
        if not self.cfg.token or not security.hmac.compare_digest(given, self.cfg.token):
            return self.ui.render(request, "login.html", status=403, failed=True)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(security.AUTH_COOKIE, security.token_digest(self.cfg.token), httponly=True,
                            samesite="strict", path="/")
        return response

    async def plotly_js(self, request: Request) -> Response:
        body, etag = _plotly()
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(body, media_type="application/javascript",
                        headers={"etag": etag, "cache-control": "public, max-age=86400"})


@functools.cache
def _plotly() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def sf_mtime(ui: UI, key: str) -> int:
    sf = ui.specs().get(key)
    return sf.path.stat().st_mtime_ns if sf else 0


def _int(value: Any, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(str(value))))
    except (TypeError, ValueError):
        return default


def lifecycle_states() -> list[str]:
    from abkit.warehouse import EXPERIMENT_STATES

    return list(EXPERIMENT_STATES)


def _actions(state: str) -> list[str]:
    return [a for a, (allowed, _) in lifecycle.ACTIONS.items() if state in allowed]


def _verdicts(decision: dict[str, Any]) -> list[dict[str, Any]]:
    """decision.arms as a list of {arm, verdict, reasons}, whether given as a mapping or a list."""
    arms = decision.get("arms")
    if isinstance(arms, dict):
        return [{"arm": a, **(v if isinstance(v, dict) else {"verdict": v})} for a, v in arms.items()]
    if isinstance(arms, list):
        return [v for v in arms if isinstance(v, dict)]
    return []


def _form_fields(view: dict[str, Any]) -> set[str]:
    fields = {"key", "name", "owner", "hypothesis", "control", "start", "end", "timezone", "primary_metric",
              "secondary_metrics", "guardrails", "text_guardrails", "dimensions", "alpha", "power", "mde",
              "planned_users_per_arm", "coverage", "cuped", "sequential", "arms"}
    for i, _ in enumerate(view["arms"]):
        fields |= {f"arms-{i}", *(f"arms-{i}-{f}" for f in ("name", "weight", "generator", "temperature", "personalized"))}
    for i, _ in enumerate(view["guardrails"]):
        fields |= {f"guardrails-{i}", f"guardrails-{i}-metric", f"guardrails-{i}-margin"}
    return fields


def create_app(config: UIConfig) -> Starlette:
    ui = UI(config)
    r = Routes(ui)
    routes = [
        Route("/", r.index),
        Route("/new", r.new),
        Route("/save", r.save, methods=["POST"]),
        Route("/plan", r.plan, methods=["POST"]),
        Route("/login", r.login, methods=["GET", "POST"]),
        Route("/exp/{key}", r.experiment),
        Route("/exp/{key}/edit", r.edit),
        Route("/exp/{key}/action", r.action, methods=["POST"]),
        Route("/exp/{key}/jobs/{kind}", r.start_job, methods=["POST"]),
        Route("/exp/{key}/job", r.job),
        Route("/exp/{key}/report.html", r.report_download),
        Route("/exp/{key}/review", r.review),
        Route("/exp/{key}/review/label", r.label, methods=["POST"]),
        Route("/assets/plotly.js", r.plotly_js),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        ui.jobs.stop_all()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ui = ui
    return app


if __name__ == "__main__":  # pragma: no cover - `abkit ui` is the entry point
    sys.exit("run `abkit ui --db DB`")
