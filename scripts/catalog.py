"""The persona catalog (catalog.json), validated on load.

Every problem is reported at once, each naming the entry (its index and email) and
the field, so a hand-edited catalog can be fixed in one pass.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

DEFAULT_PATH = Path(__file__).resolve().parent / "catalog.json"
EMAIL_DOMAIN = "mana.test"

ARCHETYPES = (
    "adhd-student",
    "ceo-busy",
    "creative-parent",
    "solo-dev",
    "researcher",
    "freelancer",
    "overwhelmed-newbie",
)
# The platform's modules as personas see them; one spelling everywhere, so that the
# ratings of every persona add up per module.
MODULES = ("todo", "calendar", "notes", "contacts", "chat", "files", "habits", "finance", "journal", "spaces")
PROMPT_MIN_CHARS = 200
PROMPT_MIN_SENTENCES = 3

_EMAIL = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]*[a-z0-9])?@" + re.escape(EMAIL_DOMAIN) + "$")
_SENTENCE_END = re.compile(r"[.!?](?:[\"')\]]*)(?:\s|$)")


class CatalogError(ValueError):
    """The catalog cannot be used; `problems` holds one line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s):\n{lines}")
        self.path = path
        self.problems = problems


def persona_email(value: str) -> str:
    """Lower case and in the persona domain: the password recipe hashes the email exactly
    as written, so a capital letter here would lock the runner out."""
    if not _EMAIL.match(value):
        raise ValueError(f"must be a lower-case address ending in @{EMAIL_DOMAIN}, got {value!r}")
    return value


def prose(value: str) -> str:
    """A system prompt is a character, not a label: a few real sentences."""
    text = value.strip()
    sentences = len(_SENTENCE_END.findall(text))
    if len(text) < PROMPT_MIN_CHARS or sentences < PROMPT_MIN_SENTENCES:
        raise ValueError(
            f"must be real prose: at least {PROMPT_MIN_CHARS} characters and {PROMPT_MIN_SENTENCES} "
            f"sentences (got {len(text)} characters, {sentences} sentence(s))"
        )
    return value


Weight = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
Module = Literal[MODULES]  # type: ignore[valid-type]


class Pair(BaseModel):
    """The partner this persona will share a family or team space with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partner: Annotated[StrictStr, AfterValidator(persona_email)]
    space: Literal["family", "team"]


class CatalogPersona(BaseModel):
    # Unknown fields are refused: in a hand-written file they are typos ("tickCadance").
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Annotated[StrictStr, AfterValidator(persona_email)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    archetype: Literal[ARCHETYPES]  # type: ignore[valid-type]
    systemPrompt: Annotated[StrictStr, Field(max_length=20_000), AfterValidator(prose)]
    moduleMix: Annotated[dict[Module, Weight], Field(min_length=1)]
    tickCadence: Literal["hourly", "daily", "weekdays"]
    pair: Pair | None = None


def load_catalog(path: Path | str = DEFAULT_PATH) -> list[CatalogPersona]:
    """The catalog's personas, or a CatalogError listing every problem."""
    path = Path(path)
    entries = read_entries(path)
    personas: dict[int, CatalogPersona] = {}
    problems: list[str] = []
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            problems.append(f"{entry_label(index, raw)}: entry: must be an object, got {type(raw).__name__}")
            continue
        try:
            personas[index] = CatalogPersona.model_validate(raw)
        except ValidationError as exc:
            problems += [f"{entry_label(index, raw)}: {field}: {message}" for field, message in describe(exc)]
    problems += cross_entry_problems(entries, personas)
    if problems:
        raise CatalogError(path, problems)
    return list(personas.values())


def read_entries(path: Path) -> list[Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(path, [f"cannot read the file: {exc.strerror}"]) from None
    except ValueError as exc:
        raise CatalogError(path, [f"not valid JSON: {exc}"]) from None
    if not isinstance(document, dict) or not isinstance(document.get("personas"), list):
        raise CatalogError(path, ['expected an object {"personas": [...]}'])
    if not document["personas"]:
        raise CatalogError(path, ["personas: the list is empty"])
    return document["personas"]


def entry_label(index: int, raw: Any) -> str:
    """'personas[3] <kate.brandt@mana.test>': the index to find it, the email to know it."""
    email = raw.get("email") if isinstance(raw, dict) else None
    return f"personas[{index}] <{email if isinstance(email, str) else 'no email'}>"


def describe(exc: ValidationError) -> list[tuple[str, str]]:
    found = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "literal[", "[key]"))]
        message = err["msg"].removeprefix("Value error, ")
        found.append((".".join(loc) or "entry", message))
    return found


def cross_entry_problems(entries: list[Any], personas: dict[int, CatalogPersona]) -> list[str]:
    """Duplicates and pairs: what no single entry can get wrong on its own."""
    problems = []
    emails = Counter(p.email for p in personas.values())
    prompts = Counter(" ".join(p.systemPrompt.split()) for p in personas.values())
    by_email = {p.email: p for p in personas.values()}
    # An entry that failed on its own already has its problem: its partner need not
    # report it a second time as "not in the catalog".
    written = {raw.get("email") for raw in entries if isinstance(raw, dict)}
    for index, persona in personas.items():
        label = entry_label(index, entries[index])
        if emails[persona.email] > 1:
            problems.append(f"{label}: email: {persona.email} appears {emails[persona.email]} times")
        if prompts[" ".join(persona.systemPrompt.split())] > 1:
            problems.append(f"{label}: systemPrompt: the same prompt is used by another entry")
        if persona.pair and (persona.pair.partner in by_email or persona.pair.partner not in written):
            problem = pair_problem(persona.email, persona.pair, by_email.get(persona.pair.partner))
            if problem:
                problems.append(f"{label}: pair: {problem}")
    return problems


def pair_problem(email: str, pair: Pair, partner: CatalogPersona | None) -> str | None:
    if pair.partner == email:
        return "a persona cannot be paired with itself"
    if partner is None:
        return f"partner {pair.partner} is not in the catalog"
    if partner.pair is None or partner.pair.partner != email:
        back = partner.pair.partner if partner.pair else "nobody"
        return f"partner {pair.partner} is paired with {back}, not with {email}"
    if partner.pair.space != pair.space:
        return f"space is {pair.space!r} here but {partner.pair.space!r} at {pair.partner}"
    return None


def pairs(personas: list[CatalogPersona]) -> list[tuple[str, str, str]]:
    """Each pair once, as (email, partner email, space), in catalog order."""
    seen: set[str] = set()
    found = []
    for persona in personas:
        if persona.pair and persona.email not in seen:
            seen.update((persona.email, persona.pair.partner))
            found.append((persona.email, persona.pair.partner, persona.pair.space))
    return found


def to_upsert_body(persona: CatalogPersona, password: str) -> dict[str, Any]:
    """The body of POST /api/v1/personas/admin for this persona."""
    return {
        "email": persona.email,
        "password": password,
        "archetype": persona.archetype,
        "systemPrompt": persona.systemPrompt,
        "moduleMix": dict(persona.moduleMix),
        "name": persona.name,
        "tickCadence": persona.tickCadence,
    }
