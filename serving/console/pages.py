"""`/console`: the platform operator's console, server-rendered from the sections' figures.

Pages are GETs after sign-in; the only POSTs are sign-in and sign-out, each with a CSRF
token. A bank's key is refused (403 page), an unknown or revoked key is asked again (401).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from catalog import store
from models.wording import INDUSTRY_NAMES
from serving.console import figures, service_figures, session, store_figures
from serving.console.text import LANGS, Lang, percent, show, word
from serving.db import repo
from serving.deps import ServicesDep
from serving.state import Services

HERE = Path(__file__).parent
LANG_COOKIE = "precredit_console_lang"
MAX_FORM_BYTES = 4096
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals |= {"show": show, "percent": percent, "industries": INDUSTRY_NAMES}
_PLOTTING = threading.Lock()  # pyplot keeps global state: one plot at a time per process
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix="/console", include_in_schema=False)


class ConsoleRedirect(Exception):
    """Not signed in (or the session ended): back to the sign-in page."""


def language(request: Request) -> Lang:
    """`?lang=` when given, else the language cookie, else Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if asked == "en" else "zh"


LangDep = Annotated[Lang, Depends(language)]


def page(name: str, lang: Lang, status: int = 200, **values: Any) -> HTMLResponse:
    """A rendered template with the console's headers (and the language remembered)."""
    body = _ENV.get_template(name).render(
        lang=lang, langs=LANGS, t=lambda key: word(key, lang), sections=figures.SECTIONS, **values
    )
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", path="/console")
    return response


def operator(request: Request, services: ServicesDep) -> repo.Principal:
    """The signed-in operator behind the session cookie; otherwise back to sign-in."""
    cookie = request.cookies.get(session.COOKIE)
    key_id = session.verify(session.secret(services.settings.home), cookie, time.time())
    principal = None
    if key_id is not None:
        with services.reads.connect() as connection:
            principal = repo.live_principal(connection, key_id)
    if principal is None or "operator" not in principal.scopes:
        raise ConsoleRedirect
    return principal


OperatorDep = Annotated[repo.Principal, Depends(operator)]


def _csrf(request: Request, services: Services) -> str:
    cookie = request.cookies.get(session.COOKIE, "")
    return session.csrf_for(session.secret(services.settings.home), cookie)


def _sign_in_page(lang: Lang, status: int = 200, error: str | None = None) -> HTMLResponse:
    """The sign-in form with a fresh double-submit CSRF token (and why, after a failure)."""
    token = session.new_token()
    response = page("sign_in.html", lang, status, csrf=token, error=error)
    response.set_cookie(
        session.CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console"
    )
    return response


@router.get("/sign-in")
def sign_in_form(lang: LangDep) -> HTMLResponse:
    """The sign-in form."""
    return _sign_in_page(lang)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # too many fields: a form of ours has two
        return {}
    return {name: values[0] for name, values in fields.items()}


def _authenticate(services: Services, key: str) -> repo.Principal | None:
    with services.reads.connect() as connection:
        return repo.authenticate(connection, key)


@router.post("/sign-in")
async def sign_in(request: Request, services: ServicesDep, lang: LangDep) -> Response:
    """Check the key: an operator's starts a session, a bank's is refused, else ask again."""
    form = await _form(request)
    if not session.same_token(request.cookies.get(session.CSRF_COOKIE), form.get("csrf")):
        return _sign_in_page(lang, 403, "bad_form")
    key = form.get("key", "").strip()
    principal = await run_in_threadpool(_authenticate, services, key)  # no blocking in the loop
    if principal is None:
        return _sign_in_page(lang, 401, "bad_key")
    if "operator" not in principal.scopes:
        return page("message.html", lang, 403, message="forbidden", signed_in=False)
    response = RedirectResponse("/console", status_code=303, headers=HEADERS)
    value = session.sign(session.secret(services.settings.home), principal.key_id, time.time())
    secure = request.url.scheme == "https"
    response.set_cookie(
        session.COOKIE,
        value,
        max_age=session.LIFETIME_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/console",
    )
    response.delete_cookie(session.CSRF_COOKIE, path="/console")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, services: ServicesDep, _: OperatorDep) -> Response:
    """End the session (the form's token must match it)."""
    form = await _form(request)
    if not session.same_token(_csrf(request, services), form.get("csrf")):
        return page("message.html", language(request), 403, message="bad_form", signed_in=True)
    response = RedirectResponse("/console/sign-in", status_code=303, headers=HEADERS)
    response.delete_cookie(session.COOKIE, path="/console")
    return response


@router.get("")
def overview(request: Request, services: ServicesDep, _: OperatorDep, lang: LangDep) -> Response:
    """The landing page: what each section shows."""
    return page("overview.html", lang, signed_in=True, csrf=_csrf(request, services))


@router.get("/static/console.css")
def stylesheet() -> Response:
    """The console's only stylesheet, shipped with the package."""
    css = (HERE / "static" / "console.css").read_text()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/warnings.csv")
def warnings_csv(
    services: ServicesDep, _: OperatorDep, department: str = Query(max_length=200)
) -> Response:
    """One department's list of the latest warnings, as CSV (UTF-8 with BOM, for Excel)."""
    with store.connect(services.settings.store, read_only=True) as con:
        rows = store_figures.routed_warnings(con, department)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = list(rows[0]) if rows else ["department", "uscc", "rule"]
    writer.writerow(columns)
    writer.writerows([[row[c] for c in columns] for row in rows])
    headers = HEADERS | {"Content-Disposition": 'attachment; filename="warnings.csv"'}
    return Response(
        "\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get("/monitoring/{tenant}/{name}")
def monitoring_plot(tenant: str, name: str, services: ServicesDep, _: OperatorDep) -> Response:
    """One plot of a tenant's latest monitoring report (PNG, drawn by its report's code)."""
    with _PLOTTING:
        png = service_figures.plot(services.settings.home, tenant[:64], name[:128])
    if png is None:
        return Response(status_code=404, headers=HEADERS)
    return Response(png, media_type="image/png", headers=HEADERS)


@router.get("/{section}")
def section_page(
    section: str, request: Request, services: ServicesDep, _: OperatorDep, lang: LangDep
) -> Response:
    """One section's page: the figures `/v1/platform/{section}` answers, rendered."""
    if section not in figures.SECTIONS:
        return page(
            "message.html",
            lang,
            404,
            message="not_found",
            signed_in=True,
            csrf=_csrf(request, services),
        )
    found = figures.section(services, section)
    return page(
        f"{section}.html",
        lang,
        signed_in=True,
        csrf=_csrf(request, services),
        section=section,
        f=found,
    )


def install(app: Any) -> None:
    """Serve the console on `app`: its routes and the redirect to sign-in."""

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/console/sign-in", status_code=303, headers=HEADERS)

    app.add_exception_handler(ConsoleRedirect, to_sign_in)
    app.include_router(router)
