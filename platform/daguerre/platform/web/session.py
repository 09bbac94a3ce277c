"""Sign-in, sign-out and the first-admin page: the dashboard's session (Flask-Login).

* ``/setup`` creates the first admin while no user exists (as Immich does), so a fresh install
  leads straight to a usable dashboard; once any user exists it refuses (409) and its GET
  sends the person to the sign-in page.
* ``/signin`` checks a name and password with :func:`services.users.authenticate`; wrong ones
  get 401 and the form again, too many get 429 with ``Retry-After`` (counted in the catalog).
* ``/signout`` (POST, with the CSRF token like every change) ends the session.

Every form carries Flask-WTF's CSRF token (checked in :func:`web.auth.check_request`).
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from daguerre.platform.errors import BadInput, Conflict
from daguerre.platform.services import users
from daguerre.platform.web import get_context
from daguerre.platform.web.auth import SessionUser, public, requires

bp = Blueprint("session", __name__)


def _next_url() -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    target = request.values.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("timeline_page.timeline")


def _page(template: str, status: int = 200, **values: object) -> tuple[str, int]:
    return render_template(template, min_password=users.MIN_PASSWORD_CHARS, **values), status


def _start_session(info: users.UserInfo) -> None:
    # A fresh session (and CSRF token) for the signed-in person: nothing set before carries over.
    session.clear()
    login_user(SessionUser(info))


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup() -> Response | tuple[str, int]:
    ctx = get_context()
    if request.method == "GET":
        if users.count_users(ctx):
            return redirect(url_for("session.signin"))
        return _page("setup.html")
    name = request.form.get("username", "")
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return _page("setup.html", 400, error="The two passwords differ.", username=name)
    try:
        info = users.create_user(ctx, name, "admin", password, only_if_none=True)
    except Conflict as exc:
        return _page("setup.html", 409, error=str(exc), closed=True)
    except BadInput as exc:
        return _page("setup.html", 400, error=str(exc), username=name)
    _start_session(info)
    return redirect(url_for("timeline_page.timeline"))


@bp.route("/signin", methods=["GET", "POST"])
@public
def signin() -> Response | tuple[str, int]:
    ctx = get_context()
    if request.method == "GET":
        if not users.count_users(ctx):
            return redirect(url_for("session.setup"))
        return _page("signin.html", next=_next_url())
    name = request.form.get("username", "")
    try:
        info = users.authenticate(ctx, name, request.form.get("password", ""),
                                  address=request.remote_addr)
    except users.SignInLimited as exc:
        body, status = _page("signin.html", 429, error=str(exc), username=name,
                             next=_next_url())
        return Response(body, status, {"Retry-After": str(exc.retry_after)},
                        mimetype="text/html")
    if info is None:
        return _page("signin.html", 401, error="Wrong username or password.", username=name,
                     next=_next_url())
    target = _next_url()
    _start_session(info)
    return redirect(target)


@bp.post("/signout")
@requires("viewer")
def signout() -> Response:
    logout_user()
    return redirect(url_for("session.signin"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
