"""/dashboard: the operators' page. The shell holds no data; its script fetches the admin
JSON routes with the token the operator gives it, so the page itself needs no gate."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from personas.openapi import operation

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)

# Everything the page loads comes from this service; no inline script or style, no frames,
# no forms posting elsewhere, and no referrer that could carry anything off the page.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.get("/dashboard")
@operation("The operators' dashboard (HTML; data comes from the admin routes).", content_type="text/html")
def dashboard() -> Response:
    response = Response(render_template("dashboard.html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
