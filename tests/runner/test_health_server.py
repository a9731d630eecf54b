"""The runner's /health server binds RUNNER_HOST: every interface unless told otherwise,
so a container's health check from outside reaches it."""

from __future__ import annotations

import pytest
import requests

from devstack.postgres import free_port
from persona_runner.config import RunnerConfig
from persona_runner.drivers import ScriptedDriver
from persona_runner.service import RunnerService, health_server


def test_runner_host_defaults_to_every_interface_and_is_read_from_the_environment():
    assert RunnerConfig.from_env({"MANA_SERVICE_KEY": "key"}).host == "0.0.0.0"
    assert RunnerConfig.from_env({"MANA_SERVICE_KEY": "key", "RUNNER_HOST": "127.0.0.2"}).host == "127.0.0.2"


def test_health_answers_on_the_host_it_binds_and_nowhere_else():
    config = RunnerConfig(service_key="key", runner_id="bound", host="127.0.0.2", port=free_port())
    server = health_server(RunnerService(config, ScriptedDriver()), config.host, config.port)
    try:
        health = requests.get(f"http://127.0.0.2:{config.port}/health", timeout=5)
        assert health.status_code == 200 and health.json()["runnerId"] == "bound"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{config.port}/health", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
