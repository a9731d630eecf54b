"""devmcp keeps the product stand-in's promises, driven by the official MCP client."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests
from mcp.shared.exceptions import MCPError
from mcp_types import PaginatedRequestParams

from devmcp.config import DevMcpConfig, ProductionRefused
from devstack.processes import ROOT
from tests.support.auth import bearer
from tests.support.mcp import ACCEPT, INIT, call, headers_of, mcp_session, new_user, run
from tests.support.standin import TIMEOUT


def add_fault(devmcp, **fault) -> None:
    response = requests.post(f"{devmcp.url}/dev/faults", json=fault, timeout=TIMEOUT)
    assert response.status_code == 204, response.text


def test_every_catalog_module_has_a_read_and_a_write_tool(clean_devmcp, devauth):
    user = new_user(devauth)

    async def names():
        async with mcp_session(clean_devmcp.url, headers_of(user)) as session:
            return {tool.name: tool for tool in (await session.list_tools()).tools}

    tools = run(names())
    catalog = json.loads((ROOT / "scripts" / "catalog.json").read_text())
    modules = {m for persona in catalog["personas"] for m in persona["moduleMix"]} - {"spaces"}
    for module in modules:
        assert {f"{module}.list", f"{module}.create", f"{module}.complete"} <= set(tools)
    assert "spaces.list" in tools and "spaces.post" in tools
    assert all(tool.input_schema["type"] == "object" for tool in tools.values())


def test_items_live_per_space_and_outlast_the_session(clean_devmcp, devauth):
    owner, stranger = new_user(devauth), new_user(devauth)
    created = run(call(clean_devmcp.url, headers_of(owner), "todo.create", {"title": "Book the dentist"}))
    assert not created.is_error
    item_id = json.loads(created.content[0].text)["item"]["id"]

    listed = run(call(clean_devmcp.url, headers_of(owner), "todo.list"))
    assert [i["id"] for i in json.loads(listed.content[0].text)["items"]] == [item_id]
    done = run(call(clean_devmcp.url, headers_of(owner), "todo.complete", {"id": item_id}))
    assert json.loads(done.content[0].text)["item"]["done"] is True

    assert json.loads(run(call(clean_devmcp.url, headers_of(stranger), "todo.list")).content[0].text) == {
        "items": []
    }
    foreign = run(call(clean_devmcp.url, headers_of(stranger), "todo.complete", {"id": item_id}))
    assert foreign.is_error and foreign.content[0].text.startswith("todo.complete: no todo item")


def test_invalid_arguments_are_a_tool_error_naming_the_field(clean_devmcp, devauth):
    result = run(call(clean_devmcp.url, headers_of(new_user(devauth)), "notes.create", {"title": ""}))
    assert result.is_error and result.content[0].text.startswith("notes.create: invalid title")


def test_spaces_list_names_the_callers_spaces(clean_devmcp, devauth):
    user = new_user(devauth)
    spaces = json.loads(run(call(clean_devmcp.url, headers_of(user), "spaces.list")).content[0].text)[
        "spaces"
    ]
    assert [(s["id"], s["current"]) for s in spaces] == [(user.space_id, True)]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-jwt", "X-Mana-Space": "x"}, 401),
        ({"Authorization": "Basic abc", "X-Mana-Space": "x"}, 401),
    ],
)
def test_requests_without_a_valid_token_are_401(clean_devmcp, headers, status):
    response = requests.post(
        f"{clean_devmcp.url}/mcp", json=INIT, headers={**ACCEPT, **headers}, timeout=TIMEOUT
    )
    assert response.status_code == status
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_space_that_is_missing_or_not_the_callers_is_403(clean_devmcp, devauth):
    user, other = new_user(devauth), new_user(devauth)
    for space in ("", other.space_id):
        headers = {**ACCEPT, **bearer(user.token), "X-Mana-Space": space}
        response = requests.post(f"{clean_devmcp.url}/mcp", json=INIT, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 403, space
    with pytest.raises((MCPError, Exception)):
        run(call(clean_devmcp.url, headers_of(user, other.space_id), "todo.list"))


def test_a_session_used_by_another_user_is_403(clean_devmcp, devauth):
    opener, intruder = new_user(devauth), new_user(devauth)
    opened = requests.post(
        f"{clean_devmcp.url}/mcp", json=INIT, headers={**ACCEPT, **headers_of(opener)}, timeout=TIMEOUT
    )
    assert opened.status_code == 200
    session_id = opened.headers["mcp-session-id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    stolen = requests.post(
        f"{clean_devmcp.url}/mcp",
        json=ping,
        headers={**ACCEPT, **headers_of(intruder), "Mcp-Session-Id": session_id},
        timeout=TIMEOUT,
    )
    assert stolen.status_code == 403 and "another user" in stolen.json()["message"]
    own = requests.post(
        f"{clean_devmcp.url}/mcp",
        json=ping,
        headers={
            **ACCEPT,
            **headers_of(opener),
            "Mcp-Session-Id": session_id,
            "Mcp-Protocol-Version": "2025-06-18",
        },
        timeout=TIMEOUT,
    )
    assert own.status_code == 200


def test_a_faulted_tool_answers_is_error_with_its_name_and_others_work(clean_devmcp, devauth):
    user = new_user(devauth)
    add_fault(clean_devmcp, tool="todo.*")
    failed = run(call(clean_devmcp.url, headers_of(user), "todo.list"))
    assert failed.is_error and failed.content[0].text == "todo.list: the store did not answer"
    assert not run(call(clean_devmcp.url, headers_of(user), "notes.list")).is_error
    requests.delete(f"{clean_devmcp.url}/dev/faults", timeout=TIMEOUT).raise_for_status()
    assert not run(call(clean_devmcp.url, headers_of(user), "todo.list")).is_error


def test_error_rate_and_times_are_deterministic(clean_devmcp, devauth):
    user = new_user(devauth)
    add_fault(clean_devmcp, tool="habits.list", errorRate=0.5)
    add_fault(clean_devmcp, tool="notes.list", times=1)

    async def outcomes():
        async with mcp_session(clean_devmcp.url, headers_of(user)) as session:
            habits = [(await session.call_tool("habits.list", {})).is_error for _ in range(4)]
            notes = [(await session.call_tool("notes.list", {})).is_error for _ in range(2)]
            return habits, notes

    assert run(outcomes()) == ([False, True, False, True], [True, False])


def test_a_bad_fault_is_400_naming_the_field(clean_devmcp):
    response = requests.post(
        f"{clean_devmcp.url}/dev/faults", json={"tool": "x", "errorRate": 2}, timeout=TIMEOUT
    )
    assert response.status_code == 400 and "errorRate" in response.json()["message"]


def set_listing(devmcp, **switch) -> requests.Response:
    return requests.post(f"{devmcp.url}/dev/listing", json=switch, timeout=TIMEOUT)


def test_the_listing_switch_pages_the_tools_and_declares_other_schemas(clean_devmcp, devauth):
    user = new_user(devauth)
    broken = {"type": "object", "properties": {"title": {"type": "text"}}}
    declared_output = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    answer = set_listing(
        clean_devmcp,
        pageSize=3,
        inputSchema={"notes.create": broken},
        outputSchema={"todo.list": declared_output},
    )
    assert answer.status_code == 204, answer.text

    async def pages():
        async with mcp_session(clean_devmcp.url, headers_of(user)) as session:
            listed, cursor = [], None
            while True:
                page = await session.list_tools(
                    params=PaginatedRequestParams(cursor=cursor) if cursor else None
                )
                listed.append(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    return listed, await session.call_tool("notes.create", {"title": "Still served"})

    listed, served = run(pages())
    assert all(len(page) == 3 for page in listed[:-1]) and 1 <= len(listed[-1]) <= 3
    tools = {tool.name: tool for page in listed for tool in page}
    assert len(tools) == sum(len(page) for page in listed) > 3
    assert tools["notes.create"].input_schema == broken
    assert tools["todo.list"].output_schema == declared_output
    assert not served.is_error  # calls still check the tool's own schema


def test_a_bad_listing_switch_is_400_naming_the_field(clean_devmcp):
    for body, field in (({"pageSize": 0}, "pageSize"), ({"inputSchema": {"a.b": 1}}, "inputSchema")):
        answer = set_listing(clean_devmcp, **body)
        assert answer.status_code == 400 and answer.json()["details"] == [{"field": field}]


def test_the_call_log_lists_every_served_call_oldest_first(clean_devmcp, devauth):
    user = new_user(devauth)
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    add_fault(clean_devmcp, tool="calendar.create", times=1)

    async def day():
        async with mcp_session(clean_devmcp.url, headers_of(user)) as session:
            await session.call_tool("calendar.create", {"title": "Standup"})
            await session.call_tool("calendar.list", {})
            await session.call_tool("nonsense.tool", {})

    run(day())
    response = requests.get(f"{clean_devmcp.url}/dev/calls", params={"since": since}, timeout=TIMEOUT)
    mine = [c for c in response.json()["calls"] if c["userId"] == user.id]
    assert [(c["tool"], c["isError"], c["spaceId"]) for c in mine] == [
        ("calendar.create", True, user.space_id),
        ("calendar.list", False, user.space_id),
        ("nonsense.tool", True, user.space_id),
    ]
    assert all("traceparent" not in c for c in mine)
    later = requests.get(f"{clean_devmcp.url}/dev/calls", params={"since": "2999-01-01T00:00:00Z"}, timeout=5)
    assert later.json() == {"calls": []}
    assert (
        requests.get(f"{clean_devmcp.url}/dev/calls", params={"since": "yesterday"}, timeout=5).status_code
        == 400
    )


def test_the_call_log_keeps_each_calls_traceparent_its_meta_one_before_the_headers(clean_devmcp, devauth):
    user = new_user(devauth)
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    meta = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    async def day():
        async with mcp_session(clean_devmcp.url, {**headers_of(user), "traceparent": header}) as session:
            await session.call_tool("calendar.list", {})
            await session.call_tool("calendar.list", {}, meta={"traceparent": meta})

    run(day())
    response = requests.get(f"{clean_devmcp.url}/dev/calls", params={"since": since}, timeout=TIMEOUT)
    mine = [c for c in response.json()["calls"] if c["userId"] == user.id]
    assert [c["traceparent"] for c in mine] == [header, meta]


def test_devmcp_refuses_production():
    with pytest.raises(ProductionRefused):
        DevMcpConfig.from_env({"APP_ENV": "production", "DATABASE_URL": "postgresql://x/y"})
    done = subprocess.run(
        [sys.executable, "-m", "devmcp"],
        env={"APP_ENV": "production", "DATABASE_URL": "postgresql://x/y", "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "DEVELOPMENT STAND-IN" in done.stderr


def test_devmcp_imports_nothing_of_the_service_or_the_other_stand_ins():
    sources = "".join(p.read_text() for p in (ROOT / "devmcp").rglob("*.py"))
    for package in ("personas", "persona_runner", "devllm", "devauth"):
        assert f"from {package}" not in sources and f"import {package}" not in sources
