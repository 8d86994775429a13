"""How the sandbox starts: in process, from the command line, as pytest fixtures; and what it
must never do (import the client, show secrets)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from flinkey_async.sandbox import Sandbox
from flinkey_async.sandbox._cli import build_parser, describe, fault_config, main, serve_forever

from .rawhttp import Api

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# -- in process ---------------------------------------------------------------------------------


async def test_in_process_sandbox_gives_what_a_client_needs() -> None:
    async with Sandbox(cars=3, seed=7, customers=3) as sb:
        assert sb.running
        assert sb.base_url == f"http://127.0.0.1:{sb.port}/v3"
        assert sb.url("cars/1") == f"{sb.base_url}/cars/1"
        assert len(sb.customer_ids) == 3
        assert sb.customer_id == sb.customer_ids[0]
        assert sb.api_key
        assert sb.username
        assert sb.password
        kwargs = sb.client_kwargs()
        assert kwargs == {"api_key": sb.api_key, "username": sb.username,
                          "password": sb.password, "customer_id": sb.customer_ids[0],
                          "base_url": sb.base_url}  # fmt: skip
        async with aiohttp.ClientSession() as http:
            assert (await Api(sb, http).get("/cars")).status == 200
    assert not sb.running
    await sb.close()  # closing twice is fine


async def test_given_credentials_and_port_are_used() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with Sandbox(
        cars=1, port=port, api_key="k", username="u@example.com", password="p"
    ) as sb:
        assert sb.port == port
        assert (sb.api_key, sb.username, sb.password) == ("k", "u@example.com", "p")


async def test_same_seed_same_fleet_over_http(session: aiohttp.ClientSession) -> None:
    bodies = []
    for _ in range(2):
        async with Sandbox(cars=15, seed=7) as sb:
            api = Api(sb, session)
            bodies.append([(await api.get(p)).body for p in ("/cars", "/products", "/groups")])
    assert bodies[0] == bodies[1]


async def test_secrets_stay_out_of_repr() -> None:
    async with Sandbox(cars=1, api_key="sekrit-key", password="sekrit-password") as sb:
        texts = [repr(sb), str(sb), repr(sb.credentials), repr(sb.authority), repr(sb.faults)]
        token = sb.issue_token()
        for text in texts:
            assert "sekrit" not in text
            assert token not in text


async def test_not_started_and_started_twice() -> None:
    sb = Sandbox(cars=1)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = sb.base_url
    with pytest.raises(RuntimeError, match="not been started"):
        _ = sb.state
    async with sb:
        with pytest.raises(RuntimeError, match="already running"):
            await sb.start()


async def test_port_in_use_fails_cleanly() -> None:
    async with Sandbox(cars=1) as first:
        with pytest.raises(OSError):  # noqa: PT011 - the OS words it
            await Sandbox(cars=1, port=first.port).start()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="port"):
        Sandbox(port=70000)
    with pytest.raises(ValueError, match="token_ttl"):
        Sandbox(token_ttl=0)
    with pytest.raises(ValueError, match="customers"):
        Sandbox(customers=0)


async def test_ipv6_loopback_base_url() -> None:
    try:
        sb = await Sandbox(cars=1, host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert sb.base_url == f"http://[::1]:{sb.port}/v3"
    finally:
        await sb.close()


# -- upstream edits, as the sync job's tests make them ------------------------------------------


async def test_state_changes_show_up_in_answers(api: Api, sandbox: Sandbox) -> None:
    cid = sandbox.customer_id
    car = sandbox.state.cars(cid)[0]
    sandbox.state.update_car(cid, car.id, name="Renamed upstream", license_plate=None)
    served = (await api.get(f"/cars/{car.id}")).json()
    assert (served["name"], served["licensePlate"]) == ("Renamed upstream", None)
    sandbox.state.delete_car(cid, car.id)
    assert (await api.get(f"/cars/{car.id}")).status == 404
    added = sandbox.state.add_car(cid, "Added upstream")
    assert added.id in [c["id"] for c in (await api.get("/cars")).json()]


# -- the command line ---------------------------------------------------------------------------


def test_cli_options_build_a_fault_config() -> None:
    args = build_parser().parse_args(
        ["--port", "0", "--error-rate-503", "0.25", "--fault-route", "GET /cars",
         "--fault-route", "PUT /cars", "--token-outage", "--retry-after", "4"]
    )  # fmt: skip
    config = fault_config(args)
    assert config.error_rate_503 == 0.25
    assert config.routes == frozenset({"GET /cars", "PUT /cars"})
    assert config.token_outage
    assert config.retry_after == 4


def test_cli_rejects_inconsistent_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--error-rate-500", "0.8", "--error-rate-503", "0.8"]) == 2
    assert "more than 1" in capsys.readouterr().err


async def test_serve_forever_prints_details_and_stops_on_request() -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    seen: list[Sandbox] = []

    def ready(sb: Sandbox) -> None:
        seen.append(sb)
        stop.set()

    await serve_forever(0, 2, 7, fmt="json", output=out, stop=stop, ready=ready)
    details = json.loads(out.getvalue())
    assert details["base_url"] == seen[0].base_url
    assert details["customer_ids"] == seen[0].customer_ids
    assert not seen[0].running
    assert "base URL:" in describe(seen[0])


def test_python_dash_m_serves_until_terminated() -> None:
    command = [sys.executable, "-m", "flinkey_async.sandbox", "--port", "0", "--cars", "5",
               "--seed", "7", "--format", "json"]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    ) as process:
        try:
            assert process.stdout is not None
            details = json.loads(process.stdout.readline())
            assert details["base_url"].startswith("http://127.0.0.1:")
            assert len(details["customer_ids"]) == 2

            async def fetch() -> int:
                async with aiohttp.ClientSession() as http:
                    token_reply = await http.post(
                        details["base_url"] + "/oauth2/token",
                        data={"grant_type": "password", "username": details["username"],
                              "password": details["password"]},
                        headers={"flinkey-API-Key": details["api_key"]},
                    )  # fmt: skip
                    token = (await token_reply.json())["access_token"]
                    token_reply.release()
                    async with http.get(
                        details["base_url"] + "/cars",
                        headers={"flinkey-API-Key": details["api_key"],
                                 "Authorization": f"Bearer {token}",
                                 "Customer-ID": str(details["customer_ids"][0])},
                    ) as response:  # fmt: skip
                        return len(await response.json())

            assert asyncio.run(fetch()) == 5
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert process.returncode == 0


def test_text_output_names_url_and_credentials() -> None:
    command = [sys.executable, "-m", "flinkey_async.sandbox", "--port", "0", "--cars", "1",
               "--api-key", "key-1", "--username", "me@x.com", "--password", "pw"]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(6)]
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
    text = "".join(lines)
    assert "base URL:     http://127.0.0.1:" in text
    assert "API key:      key-1" in text
    assert "username:     me@x.com" in text
    assert "password:     pw" in text
    assert process.returncode == 0


# -- independence -------------------------------------------------------------------------------


def test_the_sandbox_never_imports_the_client() -> None:
    code = textwrap.dedent(
        """
        import sys
        import flinkey_async.sandbox as sandbox
        from flinkey_async.sandbox import Sandbox, FaultConfig
        import flinkey_async.sandbox._cli, flinkey_async.sandbox.pytest_plugin
        client_modules = [name for name in sys.modules
                          if name.startswith("flinkey_async.")
                          and name.split(".")[1] in {"_client", "_transport", "_auth", "_cars",
                                                     "_products", "_groups", "_customers",
                                                     "_engine", "_fleet", "sync", "bulk", "cli"}]
        print(",".join(client_modules))
        """
    )
    # flinkey_async/__init__.py re-exports the client; block it to see the sandbox's own imports.
    blocker = textwrap.dedent(
        """
        import sys, types, importlib.util
        spec = importlib.util.find_spec("flinkey_async")
        package = types.ModuleType("flinkey_async")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["flinkey_async"] = package
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", blocker + code], capture_output=True, text=True, env=_env(),
        check=True,
    )  # fmt: skip
    assert result.stdout.strip() == ""


def test_loading_the_pytest_plugin_imports_nothing_heavy() -> None:
    heavy = (
        "jwt", "flinkey_async.odata", "flinkey_async.sandbox._app",
        "flinkey_async.sandbox._server", "flinkey_async.sandbox._state",
    )  # fmt: skip
    code = (
        "import sys, flinkey_async.sandbox.pytest_plugin;"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_pytest_plugin_itself_imports_no_part_of_the_library() -> None:
    """Beyond the parent package that Python imports first, the plugin adds nothing of ours but
    the sandbox's default numbers (a module without imports)."""
    code = textwrap.dedent(
        """
        import sys, types, importlib.util
        spec = importlib.util.find_spec("flinkey_async")
        package = types.ModuleType("flinkey_async")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["flinkey_async"] = package
        import flinkey_async.sandbox.pytest_plugin
        print(sorted(name for name in sys.modules
                     if name.startswith(("flinkey_async.", "aiohttp", "jwt"))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    assert result.stdout.strip() == str(
        [
            "flinkey_async.sandbox",
            "flinkey_async.sandbox._defaults",
            "flinkey_async.sandbox.pytest_plugin",
        ]
    )


# -- the pytest plugin --------------------------------------------------------------------------


def _plugin_installed() -> bool:
    return any(
        entry.value == "flinkey_async.sandbox.pytest_plugin"
        for entry in importlib.metadata.entry_points(group="pytest11")
    )


@pytest.mark.slow
def test_pytest_plugin_fixtures_in_a_users_test_suite(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import aiohttp
            import pytest

            from flinkey_async.sandbox import FaultConfig


            async def test_default_sandbox(flinkey_sandbox):
                assert flinkey_sandbox.running
                assert len(flinkey_sandbox.state.cars(flinkey_sandbox.customer_id)) == 20


            @pytest.mark.flinkey_sandbox(cars=3, seed=9, faults=FaultConfig(token_outage=True))
            async def test_marker_options(flinkey_sandbox):
                assert len(flinkey_sandbox.state.cars(flinkey_sandbox.customer_id)) == 3
                assert flinkey_sandbox.spec.seed == 9
                async with aiohttp.ClientSession() as http:
                    async with http.post(
                        flinkey_sandbox.url("/oauth2/token"),
                        data={"grant_type": "password"},
                        headers={"flinkey-API-Key": flinkey_sandbox.api_key},
                    ) as response:
                        assert response.status == 503


            async def test_client_fixture(flinkey_client, flinkey_sandbox):
                cars = await flinkey_client.cars.list()
                assert len(cars) == 20
                assert flinkey_sandbox.counters.tokens_issued == 1
            """
        )
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--asyncio-mode=auto", "-W", "error::ResourceWarning", str(tmp_path)]  # fmt: skip
    if not _plugin_installed():
        command[3:3] = ["-p", "flinkey_async.sandbox.pytest_plugin"]
    try:
        import flinkey_async

        has_client = hasattr(flinkey_async, "FlinkeyClient")
    except ImportError:  # pragma: no cover
        has_client = False
    if not has_client:
        command += ["-k", "not client_fixture"]
    result = subprocess.run(
        command, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("3 passed" if has_client else "2 passed") in result.stdout
