"""The dashboard at ``/``: one server-rendered page whose script uses the same JSON API.

The page itself holds no data and needs no token; the person pastes a token (from
``daguerre tokens create NAME``) once, the browser keeps it in ``localStorage`` and sends it as a
Bearer header to ``/api/v1``; thumbnails load through ``?token=`` since ``<img>`` cannot send a
header.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from daguerre.platform.web.api import PREFIX

# Templates and static files are the app's own (web/templates, web/static).
bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> str:
    return render_template("dashboard.html", api_prefix=PREFIX)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
