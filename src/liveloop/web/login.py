"""Login with an API key (→ HttpOnly, SameSite session cookie), logout, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from liveloop.core.errors import Unauthorized
from liveloop.core.i18n import N_
from liveloop.http.auth import SESSION_COOKIE, attempt_of, session_of
from liveloop.http.errors import TooManyRequests
from liveloop.privacy.keys import verifier_for
from liveloop.privacy.sessions import SESSION_TTL_S
from liveloop.web.i18n import LANG_COOKIE, LANGS
from liveloop.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "ll_login"


def safe_next(target: str | None) -> str:
    """Only same-site paths: ``/overview`` yes, ``//evil.example`` or ``https://…`` no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request,
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token = request.app.state.session_signer.login_token()
    response = render(
        request,
        "login.html",
        {"login_token": token, "next": next_path, "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=request.url.scheme == "https",
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=512)] = None) -> HTMLResponse:
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    app = request.app
    client = attempt_of(request, key)
    try:
        app.state.auth_limiter.check(client)
    except TooManyRequests as exc:
        return _login_page(
            request,
            safe_next(next),
            N_("Too many failed log-ins; try again later."),
            429,
            {"Retry-After": str(exc.retry_after)},
        )
    if not app.state.session_signer.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf_token):
        return _login_page(request, safe_next(next), N_("The form expired; please try again."), 403)
    wh = app.state.warehouse
    try:
        principal = await run_in_threadpool(verifier_for(wh).verify, wh, key)
    except Unauthorized:
        app.state.auth_limiter.fail(client)
        return _login_page(request, safe_next(next), N_("The key is invalid or revoked."), 401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        app.state.session_signer.issue(principal.key_id),
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session on the server too (a copied cookie stops working); the form's CSRF token is
    required, so another site cannot log a user out."""
    session = session_of(request)
    if session is not None:
        signer = request.app.state.session_signer
        if not signer.check_csrf(session, csrf_token):
            return Response("the form expired; reload the page", status_code=403, media_type="text/plain")
        signer.end(session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang")
def switch_language(
    lang: Annotated[str, Query(pattern="^(zh|en)$")],
    next: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Remember the chosen language (中文 / English) in a cookie and go back."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
