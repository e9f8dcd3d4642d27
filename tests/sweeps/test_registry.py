"""The study registry: register, get_study, list_studies, study files, built-in studies."""
import sys
import textwrap

import pytest

from sweeps import (
    SweepsTypeError,
    SweepsValueError,
    UnknownStudyError,
    get_study,
    list_studies,
    load_study_file,
    register,
    sweep,
)
from sweeps import _registry
from tests.sweeps import tasks_for_tests as toys

STUDY_FILE = textwrap.dedent("""
    from sweeps import register


    class Task:
        info = {}

        def __init__(self, x):
            self.x = x

        def run(self, data):
            history = [{"value_test": self.x * data, "loss": 0.0, "iteration": 0}]
            return {"metrics": dict(history[-1]), "runs": {}, "output": {"history": history}}


    def load():
        return 3


    @register("from_file", grid=dict(x=[1, 2]), data=load)
    def create_task(x):
        return Task(x)
""")


pytestmark = pytest.mark.usefixtures("empty_registry")


@pytest.fixture
def study_file(write_study):
    return write_study("my_study", STUDY_FILE)


@pytest.fixture
def builtin_package(tmp_path, monkeypatch):
    """A stand-in for the repo's ``studies`` package, with one study file ``alpha.py``."""
    package = tmp_path / "fake_builtin_studies"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "alpha.py").write_text(
        "from sweeps import register\n"
        "from tests.sweeps.tasks_for_tests import create_task, load_offset\n"
        "register('alpha', create_task, grid=dict(x=[1, 2]), data=load_offset)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_registry, "BUILTIN_PACKAGE", "fake_builtin_studies")
    yield "alpha"
    for name in [n for n in sys.modules if n.startswith("fake_builtin_studies")]:
        del sys.modules[name]


def test_register_as_a_decorator_returns_the_function():
    @register("deco", grid=dict(x=[1, 2]), data=toys.load_offset)
    def create(x):
        return toys.ToyTask(x)

    study = get_study("deco")
    assert study.create_task is create and study.name == "deco"
    assert study.grid == {"x": [1, 2]} and study.data is toys.load_offset


def test_register_as_a_call():
    assert register("plain", toys.create_task, grid=dict(x=[1])) is toys.create_task
    assert get_study("plain").create_task is toys.create_task
    assert get_study("plain").data is None


def test_registering_again_replaces():
    register("again", toys.create_task)
    register("again", toys.create_task_two)
    assert get_study("again").create_task is toys.create_task_two


def test_the_study_keeps_its_own_copy_of_the_grid():
    grid = dict(x=[1])
    register("copy", toys.create_task, grid=grid)
    grid["x"] = [2]
    assert get_study("copy").grid == {"x": [1]}


@pytest.mark.parametrize("name", ["", None, 3])
def test_bad_names(name):
    with pytest.raises(SweepsValueError, match="name="):
        register(name, toys.create_task)


def test_bad_grid():
    with pytest.raises(SweepsValueError, match="grid=.*must be a dict"):
        register("bad", toys.create_task, grid=[1, 2])


def test_not_callable():
    with pytest.raises(SweepsTypeError, match="create_task=3 is not callable"):
        register("bad", 3)


def test_unknown_study_suggests_close_names_and_sweeps_list():
    register("breast_cancer", toys.create_task)
    with pytest.raises(UnknownStudyError) as caught:
        get_study("breast_cancr")
    message = str(caught.value)
    assert "did you mean 'breast_cancer'" in message and "`sweeps list`" in message
    assert isinstance(caught.value, KeyError)


def test_list_studies_is_sorted():
    register("b", toys.create_task)
    register("a", toys.create_task)
    assert [n for n in list_studies() if n in ("a", "b")] == ["a", "b"]


def test_builtin_studies_are_listed_before_and_found_by_import(builtin_package):
    assert builtin_package in list_studies()
    assert "alpha" not in _registry._STUDIES
    study = get_study(builtin_package)
    assert study.create_task is toys.create_task and study.grid == {"x": [1, 2]}


def test_unknown_study_lists_the_builtin_ones(builtin_package):
    with pytest.raises(UnknownStudyError, match="did you mean 'alpha'"):
        get_study("alpah")


def test_load_study_file(study_file):
    (study,) = load_study_file(study_file)
    assert study.name == "from_file" and study.grid == {"x": [1, 2]}
    assert load_study_file(study_file) == [study]  # imported once: the same functions


def test_get_study_by_path(study_file):
    assert get_study(study_file).name == "from_file"
    assert get_study("from_file").name == "from_file"


def test_a_study_file_pickles_by_value(study_file):
    import cloudpickle

    (study,) = load_study_file(study_file)
    payload = cloudpickle.dumps(study.create_task)
    module = study.create_task.__module__
    saved = sys.modules.pop(module)  # a worker process does not have the module
    try:
        task = cloudpickle.loads(payload)(x=2)
    finally:
        sys.modules[module] = saved
    assert task.run(5)["metrics"]["value_test"] == 10


@pytest.mark.slow
def test_a_study_file_runs_in_worker_processes(study_file, tmp_path):
    result = sweep(study_file, store=str(tmp_path / "s.log"), n_jobs=2, progress=False)
    assert result.name == "from_file"
    assert [r.metrics["value_test"] for r in result] == [3, 6]


def test_a_file_that_registers_nothing(tmp_path):
    path = tmp_path / "empty_study.py"
    path.write_text("x = 1\n")
    with pytest.raises(SweepsValueError, match="registers no study"):
        load_study_file(str(path))


def test_a_missing_file(tmp_path):
    with pytest.raises(SweepsValueError, match="does not exist"):
        get_study(str(tmp_path / "nope.py"))
