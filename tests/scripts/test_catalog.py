"""The catalog: the real one is complete and well-formed; a broken one is refused with
a message naming the entry (index and email) and the field."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.catalog import (
    ARCHETYPES,
    DEFAULT_PATH,
    MODULES,
    CatalogError,
    load_catalog,
    pairs,
    read_catalog,
    to_upsert_body,
)
from tests.support.originals import ORIGINAL_SHAPE


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def raw_entries() -> list[dict[str, Any]]:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))["personas"]


def test_real_catalog_has_ten_personas_covering_all_seven_archetypes(catalog):
    assert len(catalog) == 10
    assert {p.archetype for p in catalog} == set(ARCHETYPES)
    assert len(ARCHETYPES) == 7


def test_real_catalog_forms_five_reciprocal_pairs_covering_everyone(catalog):
    found = pairs(catalog)
    assert len(found) == 5
    by_email = {p.email: p for p in catalog}
    for email, partner, space in found:
        assert by_email[partner].pair.partner == email
        assert by_email[partner].pair.space == space == by_email[email].pair.space
    members = Counter(email for pair in found for email in pair[:2])
    assert set(members) == set(by_email) and set(members.values()) == {1}


def test_real_catalog_has_distinct_emails_names_and_prompts(catalog):
    for field in ("email", "name", "systemPrompt"):
        values = [getattr(p, field) for p in catalog]
        assert len(set(values)) == len(values), field


def test_real_catalog_prompts_are_prose_that_names_the_persona(catalog):
    for persona in catalog:
        assert len(persona.systemPrompt) >= 400, persona.email
        assert persona.name.split()[-1] in persona.systemPrompt, persona.email


def test_real_catalog_uses_known_modules_and_every_module_is_used(catalog):
    used = {module for p in catalog for module, weight in p.moduleMix.items() if weight > 0}
    assert used == set(MODULES)
    for persona in catalog:
        assert set(persona.moduleMix) <= set(MODULES)
        assert sum(persona.moduleMix.values()) > 0, persona.email


def test_real_catalog_emails_are_lower_case_in_the_persona_domain(catalog):
    for persona in catalog:
        assert persona.email == persona.email.lower()
        assert persona.email.endswith("@mana.test")


def test_upsert_body_carries_exactly_the_admin_route_fields(catalog):
    persona = catalog[0]
    body = to_upsert_body(persona, "a-password-of-32-characters-long")
    assert set(body) == {"email", "password", "archetype", "systemPrompt", "moduleMix", "name", "tickCadence"}
    assert body["email"] == persona.email
    assert body["password"] == "a-password-of-32-characters-long"
    assert body["moduleMix"] == persona.moduleMix
    json.dumps(body)  # serialisable as it is


def write_catalog(tmp_path: Path, entries: list[Any]) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"personas": entries}), encoding="utf-8")
    return path


def set_field(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda entry: entry.__setitem__(field, value)


def set_weight(value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda entry: entry["moduleMix"].__setitem__("calendar", value)


# (how the entry at index 2 is broken, the field the error must name)
REFUSALS = {
    "archetype that is not an identifier": (set_field("archetype", "ceo busy"), "archetype"),
    "archetype as a number": (set_field("archetype", 7), "archetype"),
    "email outside mana.test": (set_field("email", "kate.brandt@example.com"), "email"),
    "email with capitals": (set_field("email", "Kate.Brandt@mana.test"), "email"),
    "blank prompt": (set_field("systemPrompt", "   "), "systemPrompt"),
    "prompt under 20 characters": (set_field("systemPrompt", "  You are Kate.     "), "systemPrompt"),
    "negative weight": (set_weight(-0.1), "moduleMix.calendar"),
    "weight over a million": (set_weight(1e308), "moduleMix.calendar"),
    "only zero weights": (lambda e: e.__setitem__("moduleMix", {"todo": 0, "notes": 0.0}), "moduleMix"),
    "weight as a string": (set_weight("0.35"), "moduleMix.calendar"),
    "weight as a bool": (set_weight(True), "moduleMix.calendar"),
    "module that is not an identifier": (
        lambda e: e["moduleMix"].__setitem__("news research", 0.1),
        "moduleMix.news research",
    ),
    "module with a dot": (lambda e: e["moduleMix"].__setitem__("todo.create", 0.1), "moduleMix.todo.create"),
    "module of 65 characters": (lambda e: e["moduleMix"].__setitem__("m" * 65, 0.1), f"moduleMix.{'m' * 65}"),
    "invalid cadence": (set_field("tickCadence", "weekly"), "tickCadence"),
}


@pytest.mark.parametrize("broken", list(REFUSALS), ids=list(REFUSALS))
def test_broken_entry_is_refused_naming_its_index_email_and_field(tmp_path, raw_entries, broken):
    breaks, field = REFUSALS[broken]
    entries = copy.deepcopy(raw_entries)
    breaks(entries[2])
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    label = f"personas[2] <{entries[2]['email']}>"
    assert any(p.startswith(f"{label}: {field}:") for p in refused.value.problems), refused.value.problems
    assert label in str(refused.value)


def test_an_identifier_refusal_says_what_an_identifier_is(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    entries[3]["moduleMix"]["news research"] = 1
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    (problem,) = refused.value.problems
    assert problem.startswith(
        f"personas[3] <{entries[3]['email']}>: moduleMix.news research: must be an identifier"
    )
    assert "like newsResearch or adhd-student" in problem and "'news research'" in problem


def test_a_catalog_in_the_original_shape_loads_with_warnings_only(raw_entries):
    raw = json.loads(ORIGINAL_SHAPE.read_text(encoding="utf-8"))["personas"]
    assert sorted(len(e["systemPrompt"]) for e in raw)[0] == 149
    assert sorted(len(e["systemPrompt"]) for e in raw)[-1] == 194
    catalog = read_catalog(ORIGINAL_SHAPE)
    by_email = {p.email: p for p in catalog.personas}
    assert list(by_email) == [e["email"] for e in raw]
    modules = {m for p in catalog.personas for m in p.moduleMix}
    assert {"mood", "articles", "dreams", "library", "goals", "newsResearch", "invoices"} <= modules
    assert {p.archetype for p in catalog.personas} - set(ARCHETYPES) == {
        "night-owl-writer",
        "small-business-owner",
        "retiree",
    }
    for entry in raw:
        persona = by_email[entry["email"]]
        assert persona.tickCadence == entry.get("tickCadence", "daily")
        assert persona.pair is None
        assert persona.moduleMix == entry["moduleMix"]
    short = [
        f"personas[{i}] <{e['email']}>: systemPrompt: {len(e['systemPrompt'])} characters, under 200: "
        "a short prompt makes a thin persona"
        for i, e in enumerate(raw)
    ]
    assert catalog.warnings == [
        "personas[2] <ines.carvalho@mana.test>: locale: unknown field, ignored",
        *short,
    ]


def test_unknown_fields_are_ignored_with_a_warning_line_each(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    entries[2]["tickCadance"] = "hourly"
    entries[5]["avatar"] = "kate.png"
    catalog = read_catalog(write_catalog(tmp_path, entries))
    assert catalog.warnings == [
        f"personas[2] <{entries[2]['email']}>: tickCadance: unknown field, ignored",
        f"personas[5] <{entries[5]['email']}>: avatar: unknown field, ignored",
    ]
    assert catalog.personas[2].tickCadence == raw_entries[2]["tickCadence"]


def test_our_own_catalog_loads_without_a_warning():
    assert read_catalog().warnings == []


def test_duplicate_email_is_refused_naming_both_entries(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    entries[4]["email"] = entries[1]["email"]
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    email = entries[1]["email"]
    for index in (1, 4):
        assert f"personas[{index}] <{email}>: email: {email} appears 2 times" in refused.value.problems


def test_pair_with_a_persona_not_in_the_catalog_is_refused(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    entries[0]["pair"]["partner"] = "nobody@mana.test"
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    assert any(
        p.startswith(
            f"personas[0] <{entries[0]['email']}>: pair: partner nobody@mana.test is not in the catalog"
        )
        for p in refused.value.problems
    )


def test_one_sided_pair_is_refused_naming_the_entry_whose_partner_does_not_point_back(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    partner_email = entries[0]["pair"]["partner"]
    partner_index = next(i for i, e in enumerate(entries) if e["email"] == partner_email)
    del entries[partner_index]["pair"]
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    assert refused.value.problems == [
        f"personas[0] <{entries[0]['email']}>: pair: partner {partner_email} is paired with nobody, "
        f"not with {entries[0]['email']}"
    ]


def test_pair_whose_partners_disagree_on_the_space_is_refused(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    entries[0]["pair"]["space"] = "team" if entries[0]["pair"]["space"] == "family" else "family"
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    assert any(
        p.startswith(f"personas[0] <{entries[0]['email']}>: pair: space") for p in refused.value.problems
    )


def test_every_problem_is_reported_in_one_pass(tmp_path, raw_entries):
    entries = copy.deepcopy(raw_entries)
    entries[1]["tickCadence"] = "never"
    entries[6]["archetype"] = "astro naut"
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, entries))
    assert [p.split(":")[0] for p in refused.value.problems] == [
        f"personas[1] <{entries[1]['email']}>",
        f"personas[6] <{entries[6]['email']}>",
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[]", '{"personas": [...]}'),
        ('{"personas": []}', "empty"),
        ('{"personas": ["hello"]}', "personas[0] <no email>: entry: must be an object"),
    ],
    ids=["not json", "not an object", "empty list", "entry not an object"],
)
def test_malformed_file_is_refused_with_a_clear_message(tmp_path, content, says):
    path = tmp_path / "catalog.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        load_catalog(path)
    assert says in str(refused.value)


def test_missing_file_is_refused_naming_the_path(tmp_path):
    with pytest.raises(CatalogError) as refused:
        load_catalog(tmp_path / "nowhere.json")
    assert "nowhere.json" in str(refused.value)
