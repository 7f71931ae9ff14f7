"""The routes of docs/http.md over a :class:`~._service.Service`, and the error body every failure
gets: ``{"error": {"code", "message"}}``, never a stack trace, resident ids masked.

Statuses: 400 bad input (CheckError's codes; ``invalid_request`` for what is not JSON of the
documented shape: malformed JSON, unknown fields, wrong types), 401 no valid key, 404 unknown case or
path, 405 wrong method, 409 refused transition, 413 body over :data:`MAX_BODY` or more than
:data:`~._schemas.MAX_BATCH` subjects, 503 ``no_data`` / ``stale_data`` / ``store_unavailable``,
500 ``internal_error`` for anything unforeseen (logged, never shown).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations, some of
# which name objects local to create_app.
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from .._case_model import CaseStatus
from .._errors import (
    AmbiguousCaseError,
    CaseError,
    CheckError,
    JointSanctionsError,
    StoreError,
    TransitionError,
    UnknownCaseError,
)
from .._identifiers import mask_text
from .._logging import get_logger
from .._models import CheckResult
from .._text import escape_controls, redact_url
from ._metrics import CONTENT_TYPE
from ._schemas import (
    BatchRequest,
    BatchResponse,
    CaseList,
    CaseView,
    CheckRequest,
    DisposalRequest,
    ErrorBody,
    Health,
    MeasureList,
    WithdrawalRequest,
)
from ._service import ServeConfig, Service, Unauthorized

__all__ = ["CONFIG_ENV", "MAX_BODY", "app_from_env", "create_app"]

log = get_logger()

#: The largest request body taken (bytes): a full batch of 10,000 subjects with names and related
#: parties fits several times over. Larger: 413.
MAX_BODY = 16 * 1024 * 1024
#: How ``serve`` hands its options to worker processes (JSON of :class:`ServeConfig`).
CONFIG_ENV = "JOINT_SANCTIONS_SERVE_CONFIG"
_JSON = "application/json"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _shown(message: str) -> str:
    return escape_controls(redact_url(mask_text(message)))[:1000]


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"error": {"code": code, "message": _shown(message)}}, ensure_ascii=False)
    return Response(body.encode("utf-8", "backslashreplace"), status, headers, media_type=_JSON)


def _json(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, ensure_ascii=False, default=str)
    return Response(body.encode("utf-8", "backslashreplace"), status, media_type=_JSON)


class _BodyLimit:
    """Refuses a body over ``limit`` bytes with 413: at once when Content-Length says so, else when
    the bytes received pass it (a chunked body)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _error(413, "too_large", f"the request body is over {self.limit} bytes / 请求体过大")(
                scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # An HTTPException passes FastAPI's body reading unchanged, to the handler below.
                raise HTTPException(413, f"the request body is over {self.limit} bytes / 请求体过大")
            return message

        await self.app(scope, limited, send)


class _Unforeseen:
    """Answers 500 ``internal_error`` for any exception no handler took, and logs only its type and
    masked message: left to the framework, it would reach the server's log as a traceback quoting the
    request's values (resident ids in clear)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:  # noqa: BLE001 -- the last line of defence: one log line, no traceback
            log.error("request_failed", error=type(exc).__name__, message=_shown(str(exc))[:500])
            if scope["type"] == "http" and not started:
                await _error(500, "internal_error", "internal error; it is logged / 内部错误，已记录")(
                    scope, receive, send)


_MATTER_FIELDS = {"at", "item_code", "application_no", "amount", "organizer", "department", "department_code",
                  "open_case"}


def _invalid(exc: RequestValidationError) -> Response:
    """The error answer for a request that is not of the documented shape, coded by the field at fault."""
    errors = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    loc = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    field = str(loc[1]) if len(loc) > 1 and loc[0] == "body" else None
    where = ".".join(str(p) for p in loc[1:]) or "body"
    message = f"{where}: {first.get('msg', 'invalid')} / 请求格式有误"
    if kind == "json_invalid":
        return _error(400, "invalid_request", "the body is not valid JSON / 请求体不是有效的 JSON")
    if loc == ("body", "subjects") and kind == "too_long":
        return _error(413, "too_many_subjects", "a batch takes at most 10000 subjects / 批量核查至多 10000 个主体")
    if loc == ("body",):
        return _error(400, "invalid_request", "the body must be a JSON object, sent with Content-Type: "
                                              "application/json / 请求体须为 JSON 对象")
    if kind == "extra_forbidden":
        return _error(400, "invalid_request", f"unknown field {where} / 未知字段")
    code = ("invalid_subject" if field in ("subject", "subjects") else
            "unknown_matter_type" if field == "matter" else
            "invalid_matter" if field in _MATTER_FIELDS else "invalid_request")
    return _error(400, code, message)


def _refused(exc: JointSanctionsError) -> Response:
    """The status and code of a refusal of the library's."""
    if isinstance(exc, CheckError):
        status = 503 if exc.code in ("no_data", "stale_data") else 400
        return _error(status, exc.code, str(exc))
    if isinstance(exc, UnknownCaseError):
        return _error(404, "unknown_case", str(exc))
    if isinstance(exc, AmbiguousCaseError):
        return _error(400, "ambiguous_case", str(exc))
    if isinstance(exc, TransitionError):
        return _error(409, "refused_transition", str(exc))
    if isinstance(exc, CaseError):
        return _error(400, "invalid_case_request", str(exc))
    if isinstance(exc, StoreError):
        log.error("store_unavailable", error=_shown(str(exc)))
        return _error(503, "store_unavailable", "the database cannot be reached / 数据库不可用")
    return _error(400, "invalid_request", str(exc))


_HTTP_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
# The framework's own refusals say one thing in English ("Not Found", "There was an error parsing the
# body"); every error message of the service is English / Chinese.
_HTTP_MESSAGES = {400: "the body is not valid JSON / 请求体不是有效的 JSON", 404: "no such path / 路径不存在",
                  405: "method not allowed on this path / 该路径不支持此请求方法"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "bad input"), (401, "no valid key"), (413, "body too large / too many subjects"),
        (503, "no data, stale data or database unavailable"))}
_CASE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS, 404: {"model": ErrorBody, "description": "unknown case"},
    409: {"model": ErrorBody, "description": "refused transition"}}


def create_app(config: ServeConfig | None = None, service: Service | None = None) -> FastAPI:
    """The ASGI application; ``service`` (default: one built from ``config``) is closed on shutdown."""
    svc = service if service is not None else Service(config or ServeConfig())

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    # No redirect of /v1/checks/ to /v1/checks (a 307 with an empty body): a path is served or it is 404.
    app = FastAPI(title="joint-sanctions", version=_version(), lifespan=lifespan, openapi_url=None,
                  docs_url=None, redoc_url=None, redirect_slashes=False,
                  description="Joint reward-and-punishment credit checks (联合奖惩信用核查) over HTTP "
                              "(docs/http.md). Every path but /healthz and /metrics needs "
                              "`Authorization: Bearer <key>` (`joint-sanctions keys create --name NAME`).")
    bearer = HTTPBearer(auto_error=False, description="a key from `joint-sanctions keys create`")

    def caller(request: Request,
               _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        try:
            return svc.caller(request.headers.get("authorization"))
        except Unauthorized:
            raise HTTPException(401, "a valid key is needed: Authorization: Bearer <key> / 需要有效的访问密钥",
                                headers={"WWW-Authenticate": "Bearer"}) from None

    Caller = Annotated[str, Depends(caller)]

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        return _invalid(exc)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "invalid_request")
        message = str(exc.detail)
        if " / " not in message:
            message = _HTTP_MESSAGES.get(exc.status_code, f"{message} / 请求有误")
        return _error(exc.status_code, code, message, dict(exc.headers or {}))

    @app.exception_handler(JointSanctionsError)
    async def refused(_request: Request, exc: JointSanctionsError) -> Response:
        return _refused(exc)

    @app.post("/v1/checks", operation_id="check", response_model=None,
              responses={200: {"model": CheckResult}, **_ERRORS},
              summary="Check one subject for one matter (docs/check-result.md)")
    def check(request: CheckRequest, who: Caller) -> Response:
        return Response(svc.check(request, who).to_json(), media_type=_JSON)

    @app.post("/v1/checks:batch", operation_id="checkBatch", response_model=None,
              responses={200: {"model": BatchResponse}, **_ERRORS},
              summary="Check up to 10,000 subjects for one matter; results in input order")
    def check_batch(request: BatchRequest, who: Caller) -> Response:
        results = svc.check_many(request, who)
        return Response('{"results":[' + ",".join(r.to_json() for r in results) + "]}", media_type=_JSON)

    @app.get("/v1/measures", operation_id="listMeasures", response_model=MeasureList, responses=_ERRORS,
             summary="The measures that may apply to a matter, without a subject")
    def measures(_who: Caller, matter: Annotated[str | None, Query()] = None) -> Response:
        return _json(svc.measures(matter))

    @app.get("/v1/cases", operation_id="listCases", response_model=CaseList, responses=_ERRORS,
             summary="Cases, oldest first")
    def cases(_who: Caller, status: Annotated[CaseStatus | None, Query()] = None) -> Response:
        return _json({"cases": svc.cases(status)})

    @app.get("/v1/cases/{case_id}", operation_id="getCase", response_model=CaseView, responses=_CASE_ERRORS,
             summary="One case (its id or a unique prefix of at least 8 characters)")
    def case(case_id: str, _who: Caller) -> Response:
        return _json(svc.case(case_id))

    @app.post("/v1/cases/{case_id}/disposal", operation_id="disposeCase", response_model=CaseView,
              responses=_CASE_ERRORS,
              summary="Record the handling department's disposal (处置); queues the feedback record")
    def disposal(case_id: str, request: DisposalRequest, _who: Caller) -> Response:
        return _json(svc.dispose(case_id, request))

    @app.post("/v1/cases/{case_id}/withdrawal", operation_id="withdrawCase", response_model=CaseView,
              responses=_CASE_ERRORS,
              summary="Withdraw a responded case (never fed back)")
    def withdrawal(case_id: str, request: WithdrawalRequest, _who: Caller) -> Response:
        return _json(svc.withdraw(case_id, request.reason))

    @app.get("/healthz", operation_id="health", response_model=Health, responses={503: {"model": ErrorBody}},
             summary="200 when checks can be answered; 503 when the store is unreachable, empty or stale")
    def healthz() -> Response:
        health = svc.health()
        return _json({**health, "data_as_of": {k: v.isoformat() for k, v in health["data_as_of"].items()}})

    @app.get("/metrics", operation_id="metrics", response_class=Response, summary="Prometheus text")
    def metrics() -> Response:
        return Response(svc.metrics.text(), media_type=CONTENT_TYPE)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_who: Caller) -> Response:
        return _json(app.openapi())

    app.add_middleware(_BodyLimit, limit=MAX_BODY)
    app.add_middleware(_Unforeseen)
    return app


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("joint-sanctions")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def app_from_env() -> FastAPI:
    """The application of a worker process, from the options ``serve`` put in :data:`CONFIG_ENV`."""
    from .._cli._common import configure_logging

    config = ServeConfig(**json.loads(os.environ.get(CONFIG_ENV) or "{}"))
    # A worker is a fresh interpreter: it logs as the command that started it does (stderr, warnings
    # and up unless verbose), never structlog's default of every event on stdout.
    configure_logging(verbose=config.verbose)
    return create_app(config)
