"""Shared pytest fixtures. Group new fixtures under a heading like the one below."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

# Test helpers live beside this file; make them importable as plain modules
# whether or not tests/ is a package and wherever pytest is started from.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from fake_segmind import FakeSegmind  # noqa: E402
from pack_loader import PACK_ROOT  # noqa: E402


# --------------------------------------------------------------------------- collection


class _PackRootIsAFolder:
    """The repository's root holds the pack's `__init__.py`, so pytest would make it a test
    package and import that file under the clone's folder name, which fails for a name that
    is not an identifier (`my-ltx-pack`, `comfyui-segmind-ltx2`) and, for one that is, loads
    the pack a second time outside pack_loader. The root is collected as a plain folder
    instead: tests load the pack through pack_loader, as ComfyUI would."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if path.resolve() == PACK_ROOT:
            return pytest.Dir.from_parent(parent, path=path)
        return None


# What the suite imports from outside the standard library, by module, with what installs it
# (requirements.txt, tests/requirements-test.txt and torch, which .ci/run pins first).
TEST_DEPENDENCIES = {"torch": "torch==2.13.0", "av": "av", "numpy": "numpy", "cv2": "opencv-python-headless",
                     "aiohttp": "aiohttp", "requests": "requests", "filelock": "filelock", "redis": "redis",
                     "fakeredis": "fakeredis[lua]", "tqdm": "tqdm"}


class _TestModule(pytest.Module):
    """A test module whose import needs a test dependency this Python lacks (collecting with a
    bare `python3 -m pytest`) is reported as skipped, naming what to install, instead of as a
    collection error with a traceback. In CI (.ci/run installs everything) it stays an error."""

    def _getobj(self):  # type: ignore[no-untyped-def]
        try:
            return super()._getobj()
        except self.CollectError as exc:
            cause = exc.__cause__
            top = (getattr(cause, "name", None) or "").split(".")[0]
            if isinstance(cause, ModuleNotFoundError) and top in TEST_DEPENDENCIES and not _in_ci():
                pytest.skip(f"needs {top}, which this Python lacks: run the suite as .ci/run does (README, Tests), "
                            f"or pip install {TEST_DEPENDENCIES[top]}", allow_module_level=True)
            raise


def _in_ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module:
    return _TestModule.from_parent(parent, path=module_path)


def pytest_configure(config: pytest.Config) -> None:
    # Registered as a plugin rather than defined here: this conftest's own hooks apply to
    # tests/ and below only, and the root is collected before tests/.
    if not config.pluginmanager.has_plugin("segmind-pack-root-folder"):
        config.pluginmanager.register(_PackRootIsAFolder(), "segmind-pack-root-folder")


# --------------------------------------------------------------------------- the process's shared state


@pytest.fixture(autouse=True)
def runtime() -> Iterator[Any]:
    """Every test runs with a runtime of its own (core.runtime): a fresh request budget
    (roomy: the suite sends far more than a Segmind plan allows a minute), nothing learned
    about run times, no job board, uploads or decode turns left over, and short waits.
    A test that needs other waits or a budget of its own enters `use(fresh_runtime(...))` itself
    (tests/runtimes.py).
    Spend reservations and the credits seen last are the ledger's, reset here too."""
    from pack_loader import pack_module
    from runtimes import fresh_runtime

    runtime_mod = pack_module("core.runtime")
    pack_module("core.credits").reset_credits()  # the credits seen last (reservations live in each test's user folder)
    with runtime_mod.use(fresh_runtime()) as rt:
        yield rt


@pytest.fixture
def use_runtime(runtime: Any) -> Iterator[Any]:
    """`use_runtime(rt)`: the process runs with `rt` (a Runtime, e.g. fresh_runtime(budget=...))
    from now until the test ends; what a restart of ComfyUI or a budget of a test's own needs."""
    from contextlib import ExitStack

    from pack_loader import pack_module

    runtime_mod = pack_module("core.runtime")
    with ExitStack() as stack:
        yield lambda rt: stack.enter_context(runtime_mod.use(rt))


# --------------------------------------------------------------------------- fake Segmind


@pytest.fixture
def fake_segmind() -> Iterator[FakeSegmind]:
    """A started local Segmind stand-in (about 5 ms to start); stopped afterwards."""
    with FakeSegmind() as server:
        yield server


@pytest.fixture
def segmind_env(fake_segmind: FakeSegmind, monkeypatch: pytest.MonkeyPatch) -> FakeSegmind:
    """fake_segmind, with SEGMIND_API_BASE / SEGMIND_STORAGE_BASE / SEGMIND_API_KEY pointing at it."""
    monkeypatch.setenv("SEGMIND_API_BASE", fake_segmind.api_base)
    monkeypatch.setenv("SEGMIND_STORAGE_BASE", fake_segmind.storage_base)
    monkeypatch.setenv("SEGMIND_API_KEY", fake_segmind.api_key)
    return fake_segmind


# --------------------------------------------------------------------------- Redis (issue 22)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """A real redis-server for this test session (tests/redis_server.py); each xdist worker
    starts its own. Missing redis-server: skipped on a developer's machine, failed in CI."""
    from redis_server import RedisServer, require_real_redis

    try:
        server = RedisServer()
    except FileNotFoundError as exc:
        if require_real_redis():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    """The real Redis's address, emptied before the test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def no_team_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No team setting from this shell (Redis address, when it is down, machine name, lock
    lease) and no Redis client kept by an earlier test, nor left for a later one."""
    from pack_loader import pack_module

    shared_store = pack_module("core.shared_store")
    for name in (shared_store.REDIS_URL_ENV, shared_store.WHEN_DOWN_ENV, shared_store.MACHINE_ENV,
                 pack_module("core.team_lock").LEASE_ENV):
        monkeypatch.delenv(name, raising=False)
    shared_store.forget_clients()
    yield
    shared_store.forget_clients()


# --------------------------------------------------------------------------- a node run


@pytest.fixture
def pack_env(segmind_env: FakeSegmind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSegmind:
    """What a node run in a test needs: the stand-in, private ComfyUI output and user
    folders (`.output`, `.home`) and default cache settings (the `runtime` fixture gives
    fast polling and retries and none of another test's in-process state)."""
    monkeypatch.setenv("SEGMIND_LTX2_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("SEGMIND_LTX2_HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SEGMIND_LTX2_CACHE_MAX_GB", raising=False)
    segmind_env.output = tmp_path / "output"
    segmind_env.home = tmp_path / "user"
    return segmind_env


# --------------------------------------------------------------------------- hardening rows


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fault-matrix", metavar="PATH", default=None,
                     help="write the fault and hardening tables this run records to PATH (see tests/fault_rows.py; "
                          "tools/write_fault_matrix.py updates docs/fault-matrix.md with it)")


@pytest.fixture
def fault_row(request: pytest.FixtureRequest):
    """Record one row of the hardening table (docs/fault-matrix.md): call it with the fault
    injected, where it hits, and what the user sees / what the pack does. Nothing is written
    unless the run was given --fault-matrix=PATH (see fault_rows.py)."""
    from fault_rows import record

    def row(fault: str, where: str, outcome: str) -> None:
        record("hardening-matrix", request.node.nodeid, fault, where, outcome)

    return row


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = session.config.getoption("fault_matrix", None)
    if target:
        from fault_rows import write_tables

        write_tables(session, (session.config.invocation_params.dir / target).resolve())
