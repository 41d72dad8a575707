"""The HTTP service (FastAPI on uvicorn): routes, the door every request passes, and the state behind.

* The door (:class:`Door`, an ASGI middleware) authenticates keyed routes
  (``Authorization: Bearer <key>``; 401 without a valid key, 503 while the keys
  file does not validate), rate-limits each key (429 with ``Retry-After``) and
  writes the audit-log line of every request, whatever its outcome.
* The routes validate with the models of :mod:`relieflink.service.models`
  (422 naming the field, never echoing the value), check what the run's
  thresholds make impossible (``schemas/plausibility.yaml``: a period or an
  amount the next run would refuse), and answer through the one adapter
  :mod:`relieflink.service.screening`.
* :class:`Service` holds the run's index and reloads it in the background
  when a new run is written into OUT (``run.json``'s inode, size or mtime
  change: the run folder is swapped in one step), and the keys file when it
  changes.
"""

# no `from __future__ import annotations`: FastAPI reads the request models from the annotations of
# routes defined inside create_app, which only evaluated annotations can name
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from relieflink import __version__
from relieflink.ingest.pipeline import IngestConfig
from relieflink.ingest.plausibility import Checks
from relieflink.outputs import read_manifest
from relieflink.service import models
from relieflink.service.auditlog import AuditLog, masked_applicant
from relieflink.service.keys import KeyEntry, KeyRing
from relieflink.service.limits import RateLimiter, ServiceLimits, load_limits
from relieflink.service.screening import (
    Application, Recorded, answer, as_application, index_size, load_index, record_approvals,
)
from relieflink.service.store import ApplicationStore, KeyReused
from relieflink.visibility import Scope

logger = logging.getLogger(__name__)
KEYED = ("/v1/screen", "/v1/applications")  # routes that need a key
WITHDRAW = "/v1/applications/{application_id}"


def _endpoint(scope) -> str:  # type: ignore[no-untyped-def]
    """The audit log's endpoint: the route's template — also for a request refused at the door
    before routing (401, 429) — never the raw path (a caller could put anything in it)."""
    route = getattr(scope.get("route"), "path", None)
    if route:
        return route
    path = scope["path"]
    if path in KEYED:
        return path
    if path.startswith("/v1/applications/") and "/" not in path[len("/v1/applications/"):]:
        return WITHDRAW
    return "(no such route)"


class Refusal(Exception):
    """A request refused with a status, a code and one sentence (and the fields at fault)."""

    def __init__(self, status: int, error: str, message: str, fields: list[dict] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.fields, self.headers = status, error, message, fields or [], headers

    def response(self) -> JSONResponse:
        body = models.Problem(error=self.error, message=self.message, fields=self.fields).model_dump()
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True)
class Loaded:
    """One run's index, and what identifies the run folder it came from."""

    index: Any
    stamp: tuple[int, ...]
    loaded_at: str
    run_json_mtime: str
    audit_year: int | None
    applications: dict  # what the run recorded of the applications file (bytes, sha256), or {}
    checks: Checks  # the plausibility thresholds of the run's audit period: what the next run would refuse


def _stamp(out: Path) -> tuple[int, ...] | None:
    try:
        st = (out / "run.json").stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Service:
    """The state behind the routes: configuration, keys, the run's index, recorded applications."""

    def __init__(self, out: Path, keys: Path, audit_log: Path, applications: Path,
                 limits: ServiceLimits | None = None) -> None:
        self.out = Path(out)
        self.config = IngestConfig.load()
        self.catalog = self.config.catalog
        self.limits = limits or load_limits()
        self.keys = KeyRing(keys, self.catalog)
        self.audit = AuditLog(audit_log)
        self.store = ApplicationStore(applications)
        self.limiter = RateLimiter()
        self.loaded: Loaded | None = None
        self._reloading = threading.Lock()
        self._recorded: tuple[tuple, Recorded] | None = None
        self._recorded_lock = threading.Lock()

    # -- the run ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Load the run now (at start): its index and its manifest. Retries while a run is swapped in."""
        for _ in range(5):
            stamp = _stamp(self.out)
            if stamp is None:
                raise FileNotFoundError(self.out / "run.json")
            index = load_index(self.out)
            manifest = read_manifest(self.out) or {}
            if _stamp(self.out) == stamp:
                break
        counts = manifest.get("counts", {}) if isinstance(manifest, dict) else {}
        year = (counts.get("audit_period") or {}).get("year")
        bounds = (date(year, 1, 1), date(year, 12, 31)) if year else None
        self.loaded = Loaded(index=index, stamp=stamp, loaded_at=_now(),
                             run_json_mtime=datetime.fromtimestamp(stamp[3] / 1e9, timezone.utc).isoformat(timespec="seconds"),
                             audit_year=year, applications=counts.get("applications") or {},
                             checks=Checks(self.config.plausibility, bounds))

    def watch(self) -> None:
        """Start a background reload when OUT holds another run than the one loaded (the current
        one answers meanwhile); one reload at a time."""
        loaded = self.loaded
        stamp = _stamp(self.out)
        if stamp is None or (loaded is not None and stamp == loaded.stamp) or self._reloading.locked():
            return

        def reload() -> None:
            try:
                self.load()
                logger.info("loaded the run in %s", self.out)
            except Exception as exc:  # keep answering from the run loaded before
                logger.error("cannot load the run in %s (%s); still answering from the previous one",
                             self.out, type(exc).__name__)
            finally:
                self._reloading.release()

        if self._reloading.acquire(blocking=False):
            threading.Thread(target=reload, name="relieflink-reload", daemon=True).start()

    @property
    def reloading(self) -> bool:
        return self._reloading.locked()

    # -- recorded applications -------------------------------------------------------------------
    def recorded(self) -> Recorded:
        """The approvals recorded since the loaded run, against its index (rebuilt after a change)."""
        self.store.refresh()
        loaded = self.loaded
        assert loaded is not None
        key = (id(loaded), self.store.version)
        cached = self._recorded
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._recorded_lock:
            if self._recorded is not None and self._recorded[0] == key:
                return self._recorded[1]
            taken = loaded.applications
            after = self.store.lines_taken_by(int(taken.get("bytes", 0)), str(taken.get("sha256", ""))) if taken else 0
            recorded = record_approvals(loaded.index, self.store.standing(after), self.config)
            self._recorded = (key, recorded)
            return recorded


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class Door:
    """ASGI middleware: the key, the rate limit and the audit-log line of every request."""

    def __init__(self, app, service: Service) -> None:  # type: ignore[no-untyped-def]
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500

        async def send_status(message) -> None:  # type: ignore[no-untyped-def]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope, state) if scope["path"].startswith(KEYED) else None
            if refusal is not None:
                await refusal.response()(scope, receive, send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            entry: KeyEntry | None = state.get("key")
            self.service.audit.write({
                "agency": entry.agency if entry else None, "key_id": entry.key_id if entry else None,
                "method": scope["method"], "endpoint": _endpoint(scope),
                "status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "applicant": state.get("applicant"), "matched_person_ids": state.get("person_ids", []),
                **({"application_id": state["application_id"]} if state.get("application_id") else {}),
            })

    def _refusal(self, scope, state: dict) -> Refusal | None:  # type: ignore[no-untyped-def]
        service = self.service
        presented = _bearer(scope["headers"])
        entry = service.keys.find(presented) if presented else None
        if service.keys.error is not None:
            logger.error("the keys file does not validate: %s", service.keys.error)
            return Refusal(503, "keys_invalid", "the service's keys file is invalid; no key is accepted until the "
                                                "operator fixes it")
        if entry is None:
            return Refusal(401, "unauthorized", "a valid agency key is required: Authorization: Bearer <key>",
                           headers={"WWW-Authenticate": "Bearer"})
        state["key"] = entry
        limit = service.limits.rate_limit
        wait = service.limiter.take(entry.key_id, entry.requests_per_minute or limit.requests_per_minute, limit.burst)
        if wait is not None:
            return Refusal(429, "rate_limited", "too many requests for this key; retry later",
                           headers={"Retry-After": RateLimiter.retry_after(wait)})
        return None


def _field_problems(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            out.append({"field": "body", "message": "the body is not valid JSON; send one JSON object"})
            continue
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "body", "message": message})
    return out


def create_app(service: Service) -> FastAPI:
    """The FastAPI application of ``service`` (the run is loaded at startup)."""
    ScreenRequest, ApplicationRequest = models.request_models(service.catalog)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if service.loaded is None:
            await run_in_threadpool(service.load)
        yield

    app = FastAPI(title="relieflink screening service (联审联批)", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Screen an application against the last run, record approvals between runs. Every "
                              "agency sees its own records in full and other agencies' benefits by agency, program "
                              "and period only.")
    app.add_middleware(Door, service=service)
    bearer = HTTPBearer(auto_error=False, description="The agency's key (relieflink keys new AGENCY --keys FILE).")
    refused = {code: {"model": models.Problem} for code in (401, 422, 429, 503)}

    @app.exception_handler(Refusal)
    async def _refusal(request: Request, exc: Refusal) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _field_problems(exc)
        first = fields[0] if fields else {"field": "body", "message": "invalid"}
        return Refusal(422, "invalid_request", f"{first['field']}: {first['message']}", fields).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return Refusal(exc.status_code, "not_found" if exc.status_code == 404 else "http_error",
                       str(exc.detail), headers=getattr(exc, "headers", None)).response()

    def key_of(request: Request, _: Any = Depends(bearer)) -> KeyEntry:
        return request.state.key

    def prepared(body, entry: KeyEntry, request: Request) -> Application:  # type: ignore[no-untyped-def]
        """The application as the library takes it, after the checks of the run's thresholds."""
        service.watch()
        loaded = service.loaded
        assert loaded is not None
        fields = body.model_dump(exclude={"idempotency_key"})
        request.state.applicant = masked_applicant(fields)
        program = service.catalog.program(fields["program"])
        if fields["subdistrict"] is None and service.catalog.agency(entry.agency).kind == "subdistrict":
            fields["subdistrict"] = entry.agency  # an application filed at the caller's subdistrict
        low, high = loaded.checks.date_bounds(birth=False)
        for name in ("period_start", "period_end"):
            day = fields[name]
            if day is not None and (day < low.day.date() or (high is not None and day > high.day.date())):
                side = f"before {low.why}" if day < low.day.date() else f"after {high.why}"  # type: ignore[union-attr]
                raise Refusal(422, "invalid_request", f"{name}: the date lies {side}",
                              [{"field": name, "message": f"the date lies {side}"}])
        basis = "month" if program.periodicity == "monthly" else "record"
        limit = loaded.checks.limits.amounts.limit(program.code, basis)
        if fields["amount"] is not None and fields["amount"] > limit:
            message = f"more than {limit:,.0f} yuan, the largest credible amount (schemas/plausibility.yaml)"
            raise Refusal(422, "invalid_request", f"amount: {message}", [{"field": "amount", "message": message}])
        return as_application(fields)

    def screened(application: Application, entry: KeyEntry) -> tuple[dict, int]:
        loaded = service.loaded
        assert loaded is not None
        try:
            return answer(loaded.index, application, Scope(entry.agency), mask=not entry.unmasked,
                          max_candidates=service.limits.name_only.max_candidates, recorded=service.recorded())
        except ValueError as exc:  # the library's own refusal (a message without personal data)
            raise Refusal(422, "invalid_request", str(exc)) from None

    @app.post("/v1/screen", response_model=models.ScreenResponse, responses=refused, tags=["screening"],
              summary="Screen an application: who is it, what do they receive, what would approving create")
    def screen_application(body: ScreenRequest, request: Request,  # type: ignore[valid-type]
                           entry: KeyEntry = Depends(key_of)) -> dict:
        application = prepared(body, entry, request)
        if not (application.id_number or "").strip():
            limit = service.limits.rate_limit
            per_minute = entry.name_only_per_minute or limit.name_only_per_minute
            wait = service.limiter.take(entry.key_id + ":name", per_minute, min(limit.burst, per_minute))
            if wait is not None:
                raise Refusal(429, "rate_limited", "too many name-only screenings for this key; give the ID "
                                                   "number or retry later", headers={"Retry-After": RateLimiter.retry_after(wait)})
        data, considered = screened(application, entry)
        request.state.person_ids = [m["person_id"] for m in data["matches"]]
        loaded = service.loaded
        assert loaded is not None
        return {"run": {"audit_year": loaded.audit_year, "run_json_mtime": loaded.run_json_mtime}, **data,
                "recorded_applications": considered}

    @app.post("/v1/applications", response_model=models.ApplicationRecorded, status_code=201,
              responses={**refused, 200: {"model": models.ApplicationRecorded, "description": "Recorded before "
                                                                                              "under this key"},
                         403: {"model": models.Problem}, 409: {"model": models.Problem}}, tags=["applications"],
              summary="Record an approved application, so that a second one for the same need is caught")
    def record_application(body: ApplicationRequest, request: Request,  # type: ignore[valid-type]
                           entry: KeyEntry = Depends(key_of),
                           idempotency_key: str | None = Header(None, max_length=128,
                                                                description="Your system's unique key of this "
                                                                            "approval (or the body's field).")):
        application = prepared(body, entry, request)
        key = (idempotency_key or "").strip() or (body.idempotency_key or "").strip()  # type: ignore[attr-defined]
        if not key:
            raise Refusal(422, "invalid_request", "idempotency_key: an approval is recorded under your system's key "
                                                  "(Idempotency-Key header or idempotency_key field)",
                          [{"field": "idempotency_key", "message": "required"}])
        program = service.catalog.program(application.program)
        grants = program.agency == entry.agency or (program.agency == "jd" and entry.agency.startswith("jd-"))
        if not grants:
            raise Refusal(403, "not_the_grantor", f"{entry.agency} does not grant {program.code}; record only the "
                                                  f"approvals of your own programs")
        fields = json.loads(body.model_dump_json(exclude={"idempotency_key"}))
        fields["subdistrict"] = application.subdistrict
        try:
            line, created = service.store.record(entry.agency, key, fields)
        except KeyReused as exc:
            raise Refusal(409, "idempotency_key_reused", str(exc)) from None
        request.state.application_id = line.application_id
        person = service.recorded().person_of.get(line.application_id)
        request.state.person_ids = [person] if person else []
        content = models.ApplicationRecorded(application_id=line.application_id,
                                             status="recorded" if created else "already_recorded",
                                             recorded_at=line.recorded_at, person_id=person).model_dump()
        return JSONResponse(content, status_code=201 if created else 200)

    @app.delete(WITHDRAW, response_model=models.ApplicationWithdrawn,
                responses={**refused, 404: {"model": models.Problem}}, tags=["applications"],
                summary="Withdraw an application your agency recorded")
    def withdraw_application(application_id: str, request: Request,
                             entry: KeyEntry = Depends(key_of)) -> dict:
        request.state.application_id = application_id if application_id.startswith("APP-") and len(application_id) == 20 else None
        done = service.store.withdraw(entry.agency, application_id)
        if done is None:
            raise Refusal(404, "not_found", "your agency recorded no application of that id")
        line, created = done
        return {"application_id": line.application_id, "status": "withdrawn" if created else "already_withdrawn",
                "withdrawn_at": line.withdrawn_at}

    @app.get("/v1/health", response_model=models.Health, tags=["service"], summary="Is the service answering")
    def health() -> dict:
        service.watch()
        service.keys.refresh()
        loaded = service.loaded
        persons = index_size(loaded.index)[0] if loaded else None
        ok = loaded is not None and service.keys.error is None
        return {"status": "ok" if ok else "degraded", "version": __version__,
                "run_json_mtime": loaded.run_json_mtime if loaded else None,
                "loaded_at": loaded.loaded_at if loaded else None, "persons": persons,
                "reloading": service.reloading, "keys_valid": service.keys.error is None}

    return app
