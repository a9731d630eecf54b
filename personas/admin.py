"""/api/v1/personas/admin: what operators call, gated by an admin JWT from mana-auth."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from personas import insights, releases, transcripts, webhooks
from personas.auth import check_admin, gate
from personas.db import get_db
from personas.errors import Conflict, NotFound, Unavailable, UpstreamError, ValidationFailed
from personas.mana_auth import get_mana_auth
from personas.openapi import operation
from personas.paging import PageKey
from personas.queries import queries
from personas.response_shapes import Deleted, PersonaDetail, PersonaList, RunNow, TickDetail, Upserted
from personas.streaming import ListStream
from personas.ticks import shown_tick
from personas.validation import NAME_MAX, PersonaListPage, PersonaUpsert, parse_body, parse_query, tick_id

bp = Blueprint("admin", __name__, url_prefix="/api/v1/personas/admin")
RECENT_ACTIONS = 20
RECENT_TICKS = 20
# A pair's view: the shared spaces shown, and each partner's newest ticks in each.
SHARED_SPACES = 10
SPACE_TICKS = 10
# A delete's claim on its persona outlives the time it may spend on mana-auth by this much.
DELETE_CLAIM_MARGIN = 5.0
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


gate(bp, check_admin, "adminJwt")


def private_answer(response: Response) -> Response:
    """Admin answers hold operators' data: never cached, never sniffed into another type.
    Registered on the app, keyed on the path: a blueprint's own hook misses the paths
    under it that match no route (404, 405)."""
    if request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Nested once, when this module loads: Flask refuses to nest into a blueprint that an app
# has registered already, so doing it in create_app broke every second app of a process.
bp.register_blueprint(insights.bp)
bp.register_blueprint(releases.bp)
bp.register_blueprint(webhooks.bp)


def require_persona_domain(email: str) -> None:
    """Only addresses in the persona domain can become personas: never a human's account."""
    domain = current_app.config["PERSONAS"].persona_email_domain
    if not email.lower().endswith("@" + domain):
        raise ValidationFailed(
            f"email: must be an address at @{domain}; only synthetic users can be personas.",
            [{"field": "email", "message": f"must end with @{domain}"}],
        )


def ensure_user(body: PersonaUpsert) -> dict[str, Any]:
    """The mana-auth user with this email, registered first when absent. The id is always
    the one mana-auth's find-by-email row names, never the register answer's: a lost race
    and a mana-auth with email verification on both answer with an id that is not the user's."""
    client = get_mana_auth()
    user = client.find_user(body.email, g.admin_token)
    if user is not None:
        return user
    client.register(body.email, body.password, body.name or body.email.split("@", 1)[0])
    user = client.find_user(body.email, g.admin_token)
    if user is None:
        raise UpstreamError("register", "mana-auth answered the registration but does not list the user.")
    return user


def user_name(user: dict[str, Any]) -> str | None:
    """The name mana-auth holds for the user, if it is one we can store and show."""
    name = user.get("name")
    if not isinstance(name, str):
        return None
    # PostgreSQL text holds neither NUL nor a lone surrogate (which a JSON answer can carry).
    name = _UNSTORABLE.sub("", name).strip()[:NAME_MAX]
    return name or None


@bp.post("", strict_slashes=False)
@operation(
    "Create or update a persona by email (through mana-auth).",
    ok=Upserted,
    body=PersonaUpsert,
    errors=(400, 401, 403, 409, 413, 502, 504),
)
def upsert() -> Response:
    body = parse_body(PersonaUpsert)
    require_persona_domain(body.email)
    with get_db().connection() as conn:
        holder = queries.admin.persona_by_email(conn, email=body.email)
    user = ensure_user(body)
    user_id = str(user["id"])
    if holder and holder["user_id"] != user_id:
        raise Conflict(
            f"A persona with this email exists under another user id ({holder['user_id']}); delete it first."
        )
    # Stamping is idempotent, so a re-run after any failure above or below repairs the persona.
    get_mana_auth().stamp_persona(user_id)
    email = str(user.get("email") or body.email)
    settings = {**body.settings_dump(), "name": body.name or user_name(user)}
    created = store_persona(user_id, email, Jsonb(settings))
    return jsonify(
        ok=True,
        userId=user_id,
        email=email,
        created=created,
        loginOk=login_check(email, body.password),
    )


def store_persona(user_id: str, email: str, settings: Jsonb) -> bool:
    """Insert or refresh the persona; whether it was created. Two upserts of one new persona
    at once can both find no row and meet at the email's unique index, which the upsert's
    ON CONFLICT (user_id) does not arbitrate: the one that loses tries once more and finds
    the other's row. Losing again means another user id holds the email."""
    for _ in range(2):
        try:
            with get_db().connection() as conn:
                return queries.admin.upsert_persona(conn, user_id=user_id, email=email, settings=settings)
        except UniqueViolation:
            continue
    raise Conflict("A persona with this email exists under another user id; delete it first.")


def login_check(email: str, password: str) -> bool | None:
    """Whether the persona logs in with this password, asked once it is stored: an existing
    user keeps the password it was registered with, so after a seed-secret rotation this
    says so rather than a plain 200 for a persona whose every tick would fail at login.
    None when mana-auth could not tell (a 429, 5xx, timeout): the persona is stored anyway,
    and a login problem is not the upsert's failure."""
    try:
        return get_mana_auth().login_works(email, password)
    except (UpstreamError, Unavailable):
        return None


LIST_STREAM = ListStream("admin", "personas", page_key=lambda row: PageKey(row["createdAt"], row["userId"]))


@bp.get("", strict_slashes=False)
@operation(
    "Every persona, newest first, with its 7-day activity; paged and searched on request.",
    ok=PersonaList,
    query=PersonaListPage,
    errors=(400, 401, 403),
)
def list_personas() -> Response:
    """Newest first; streamed, and paged or searched when the caller asks."""
    page = parse_query(PersonaListPage)
    return LIST_STREAM.respond(queries.admin.list_personas, page, **page.search_params())


@bp.get("/<persona:id>")
@operation(
    "One persona, its 20 newest actions, its ratings per module, its shared spaces.",
    ok=PersonaDetail,
    errors=(401, 403, 404),
)
def detail(id: str) -> Response:
    with get_db().connection() as conn:
        persona = queries.admin.persona_detail(conn, persona_id=id)
        if persona is None:
            raise NotFound("No persona with that id.")
        actions = queries.admin.recent_actions(conn, persona_id=id, limit=RECENT_ACTIONS)
        modules = queries.admin.feedback_by_module(conn, persona_id=id)
        ticks = queries.admin.recent_ticks(conn, persona_id=id, limit=RECENT_TICKS)
        spaces = queries.admin.shared_spaces(conn, persona_id=id, spaces=SHARED_SPACES, ticks=SPACE_TICKS)
    return jsonify(
        persona=persona,
        recentActions=actions,
        feedbackByModule=modules,
        recentTicks=[shown_tick(t) for t in ticks],
        spaces=spaces,
    )


@bp.get("/<persona:id>/ticks/<tickId>")
@operation(
    "One tick: its record, its actions in call order, its ratings and its transcript.",
    ok=TickDetail,
    errors=(400, 401, 403, 404),
)
def tick_detail(id: str, tickId: str) -> Response:
    tid = tick_id(tickId)
    with get_db().connection() as conn:
        # The tick as its runner reads it back (sql/internal/ticks.sql): one shape everywhere.
        tick = queries.internal.tick_answer(conn, persona_id=id, tick_id=tid)
        if tick is None:
            raise NotFound("No tick with that id for this persona.")
        actions = queries.admin.tick_actions(conn, persona_id=id, tick_id=tid)
        ratings = queries.admin.tick_ratings(conn, persona_id=id, tick_id=tid)
        stored = queries.admin.tick_transcript(conn, persona_id=id, tick_id=tid)
    transcript = None if stored is None else {"events": transcripts.unpack(stored)}
    return jsonify(tick=shown_tick(tick), actions=actions, ratings=ratings, transcript=transcript)


@bp.delete("/<persona:id>")
@operation("Hard-delete a persona here and in mana-auth.", ok=Deleted, errors=(401, 403, 404, 502, 504))
def delete(id: str) -> Response:
    # Three short steps, nothing held between them: concurrent deletes of one persona are
    # decided by the claim (one goes on, the rest 404, as a retry after it would), and none
    # ties up a pooled connection or the persona's row while mana-auth answers.
    seconds = current_app.config["PERSONAS"].upstream_request_deadline + DELETE_CLAIM_MARGIN
    with get_db().connection() as conn:
        claimed = queries.admin.claim_delete(conn, persona_id=id, seconds=seconds)
    if claimed is None:
        # No persona row, no call to mana-auth: this route can never delete a human.
        raise NotFound("No persona with that id.")
    # mana-auth first: if it fails, our rows stay and a retry finishes the job; the other
    # order could leave a mana-auth user nothing here points to.
    try:
        get_mana_auth().delete_user(id, g.admin_token)
    except Exception:
        with get_db().connection() as conn:
            queries.admin.release_delete(conn, persona_id=id, claimed_until=claimed)
        raise
    with get_db().connection() as conn:
        queries.admin.delete_persona_rows(conn, persona_id=id, claimed_until=claimed)
    return jsonify(ok=True, deleted=id)


@bp.post("/<persona:id>/run-now")
@operation("Make a persona due at once, whatever its cadence.", ok=RunNow, errors=(401, 403, 404, 413))
def run_now(id: str) -> Response:
    """Due at once for /due and claims, whatever the cadence, until its next tick posts."""
    with get_db().connection() as conn:
        if not queries.admin.request_run(conn, persona_id=id):
            raise NotFound("No persona with that id.")
    return jsonify(ok=True, userId=id)
