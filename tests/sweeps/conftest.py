"""Fixtures shared by the registry and CLI tests."""
import sys

import pytest

from sweeps import _registry


@pytest.fixture
def empty_registry(monkeypatch):
    """The test starts from an empty registry and leaves the real one alone."""
    monkeypatch.setattr(_registry, "_STUDIES", {})


@pytest.fixture
def write_study(tmp_path):
    """write_study(stem, text) -> the path of a study file; its imported module is forgotten after."""
    stems = []

    def write(stem, text):
        path = tmp_path / f"{stem}.py"
        path.write_text(text)
        stems.append(stem)
        return str(path)

    yield write
    for stem in stems:
        for name in [n for n in sys.modules if n.startswith(f"_sweeps_study_{stem}_")]:
            del sys.modules[name]


@pytest.fixture
def tmpfs():
    """tmpfs(folder, options, why): mount a real tmpfs there for this test (unmounted after);
    skip with ``why`` where it cannot be mounted (not root)."""
    from tests.processes import mount_tmpfs, unmount

    mounted = []

    def mount(folder, options, why):
        if not mount_tmpfs(folder, options):
            pytest.skip(why)
        mounted.append(folder)

    yield mount
    for folder in mounted:
        unmount(folder)
