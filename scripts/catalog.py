"""The persona catalog (catalog.json), validated on load.

Every problem is reported at once, each naming the entry (its index and email) and
the field, so a hand-edited catalog can be fixed in one pass. What is usable but
doubtful (a short prompt, a field this loader does not know) is a warning line instead,
so that the original TypeScript seed's catalog loads here as ours loads there.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

from apibase.limits import DEFAULT_CADENCE, NAME_MAX, PROMPT_MAX, Cadence
from apibase.module_mix import check_module_mix, check_weight

DEFAULT_PATH = Path(__file__).resolve().parent / "catalog.json"
EMAIL_DOMAIN = "mana.test"

# The archetypes and modules of our own catalog (benchmarks borrow them). Any other
# identifier is accepted too: module names and archetypes are the product's, and a
# catalog may name ones this list has never heard of.
ARCHETYPES = (
    "adhd-student",
    "ceo-busy",
    "creative-parent",
    "solo-dev",
    "researcher",
    "freelancer",
    "overwhelmed-newbie",
)
MODULES = ("todo", "calendar", "notes", "contacts", "chat", "files", "habits", "finance", "journal", "spaces")
IDENTIFIER_MAX = 64
PROMPT_MIN_CHARS = 20
PROMPT_WARN_CHARS = 200

_EMAIL = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]*[a-z0-9])?@" + re.escape(EMAIL_DOMAIN) + "$")
# `newsResearch`, `adhd-student`, `deep_work`: a letter, then letters and digits, with
# single hyphens or underscores between them; nothing that needs quoting in a URL or a log.
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*$")


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


def identifier(value: str) -> str:
    """A module name or an archetype, as the product spells it."""
    if len(value) > IDENTIFIER_MAX or not _IDENTIFIER.match(value):
        raise ValueError(
            "must be an identifier: a letter, then letters or digits, with single '-' or '_' between "
            f"them, at most {IDENTIFIER_MAX} characters (like newsResearch or adhd-student), got {value!r}"
        )
    return value


def prompt(value: str) -> str:
    text = value.strip()
    if len(text) < PROMPT_MIN_CHARS:
        raise ValueError(f"must be at least {PROMPT_MIN_CHARS} characters of prose, got {len(text)}")
    return value


Identifier = Annotated[StrictStr, AfterValidator(identifier)]
Weight = Annotated[float, Field(strict=True), AfterValidator(check_weight)]


class Pair(BaseModel):
    """The partner this persona will share a family or team space with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partner: Annotated[StrictStr, AfterValidator(persona_email)]
    space: Literal["family", "team"]


class CatalogPersona(BaseModel):
    # Unknown fields are ignored, each with a warning line (see unknown_fields): the
    # original catalog carries fields of its own, and a typo ("tickCadance") is still seen.
    model_config = ConfigDict(extra="ignore", frozen=True)

    email: Annotated[StrictStr, AfterValidator(persona_email)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=NAME_MAX)]
    archetype: Identifier
    systemPrompt: Annotated[StrictStr, Field(max_length=PROMPT_MAX), AfterValidator(prompt)]
    # The same rule as the admin API's: each weight finite, 0..10^6; one above 0.
    moduleMix: Annotated[dict[Identifier, Weight], AfterValidator(check_module_mix)]
    tickCadence: Cadence = DEFAULT_CADENCE
    pair: Pair | None = None


@dataclass(frozen=True)
class Catalog:
    personas: list[CatalogPersona]
    warnings: list[str]


def read_catalog(path: Path | str = DEFAULT_PATH) -> Catalog:
    """The catalog's personas and its warning lines, or a CatalogError listing every problem."""
    path = Path(path)
    entries = read_entries(path)
    personas: dict[int, CatalogPersona] = {}
    problems: list[str] = []
    warnings: list[str] = []
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            problems.append(f"{entry_label(index, raw)}: entry: must be an object, got {type(raw).__name__}")
            continue
        warnings += [f"{entry_label(index, raw)}: {w}" for w in unknown_fields(raw)]
        try:
            personas[index] = CatalogPersona.model_validate(raw)
        except ValidationError as exc:
            problems += [
                f"{entry_label(index, raw)}: {field}: {message}" for field, message in field_problems(exc)
            ]
    problems += cross_entry_problems(entries, personas)
    if problems:
        raise CatalogError(path, problems)
    warnings += short_prompts(entries, personas)
    return Catalog(list(personas.values()), warnings)


def load_catalog(path: Path | str = DEFAULT_PATH) -> list[CatalogPersona]:
    """The catalog's personas (its warnings left unsaid), or a CatalogError."""
    return read_catalog(path).personas


def unknown_fields(raw: dict[str, Any]) -> list[str]:
    return [f"{key}: unknown field, ignored" for key in raw if key not in CatalogPersona.model_fields]


def short_prompts(entries: list[Any], personas: dict[int, CatalogPersona]) -> list[str]:
    """Usable, but a prompt this short gives the model little of a person to play."""
    return [
        f"{entry_label(index, entries[index])}: systemPrompt: {length} characters, "
        f"under {PROMPT_WARN_CHARS}: a short prompt makes a thin persona"
        for index, persona in personas.items()
        if (length := len(persona.systemPrompt.strip())) < PROMPT_WARN_CHARS
    ]


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


def field_problems(exc: ValidationError) -> list[tuple[str, str]]:
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
