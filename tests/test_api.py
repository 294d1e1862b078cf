"""Package-wide API rules: constraint tables, __all__, import hygiene."""

import importlib
import subprocess
import sys

import numpy as np
import pytest

import quests
from quests import InvalidInputError, QuestsError
from quests.data import rattled_crystal

PUBLIC_MODULES = ["quests", "quests.descriptor", "quests.neighbors", "quests.kde",
                  "quests.structures", "quests.io", "quests.report", "quests.data",
                  "quests.uncertainty", "quests.analysis", "quests.plotting",
                  "quests.compression", "quests.learning", "quests.thermo", "quests.lammps"]


def _public_functions():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if callable(obj) and hasattr(obj, "_parameter_constraints"):
                yield f"{name}.{attr}", obj


def _is_class(item):
    return isinstance(item[1], type)


FUNCTIONS = dict(item for item in _public_functions() if not _is_class(item))
CLASSES = dict(item for item in _public_functions() if _is_class(item))
X = np.random.default_rng(0).normal(size=(20, 4)) * 0.02
# minimal valid positional arguments per function
VALID_ARGS = {
    "compute_descriptors": (rattled_crystal(),),
    "nearest_neighbors": (rattled_crystal(),),
    "neighbor_pairs": (rattled_crystal(),),
    "entropy_report": ({"a": rattled_crystal()},),
    "kernel_sum": (X,),
    "entropy": (X,),
    "diversity": (X,),
    "dataset_entropy": (X,),
    "log_kernel_sum": (X, X),
    "differential_entropy": (X, X),
    "overlap": (X, X),
    "select_structures": (X, [5, 5, 5, 5], 2),
    "selection_curve": (X, [5, 5, 5, 5], [2, 0]),
    "compress": ([rattled_crystal(seed=s) for s in range(3)], 2),
    "learning_curve": (X,),
    "active_learning": ([X, X[:5]],),
}


FRAMES = [rattled_crystal(stdev=0.05, seed=s) for s in range(6)]
PHASES = {"cold": [rattled_crystal(stdev=0.02, seed=s) for s in range(2)],
          "hot": [rattled_crystal(stdev=0.3, seed=s) for s in range(2)]}


def _classifier():
    from quests.thermo import PhaseClassifier

    return PhaseClassifier(PHASES).fit()


# per class: positional arguments of the constructor, the call that runs the constraint
# check (fit for estimators, run for trajectory analyses), and a fitted attribute that
# must raise AttributeError before it (None where the class has none)
CHECKS = {
    "NeighborIndex": (lambda: (), lambda obj: obj.fit(X), "descriptors_"),
    "UncertaintyEstimator": (lambda: (), lambda obj: obj.fit(rattled_crystal()),
                             "descriptors_"),
    "PhaseClassifier": (lambda: (), lambda obj: obj.fit(PHASES), "species_"),
    "TrajectoryEntropy": (lambda: (), lambda obj: obj.run(FRAMES), None),
    "NucleationAnalysis": (lambda: (_classifier(),), lambda obj: obj.run(FRAMES), None),
}


def test_every_constrained_function_is_covered():
    names = {qual.rsplit(".", 1)[1] for qual in FUNCTIONS}
    assert names == set(VALID_ARGS)
    assert {qual.rsplit(".", 1)[1] for qual in CLASSES} == set(CHECKS)


@pytest.mark.parametrize("qualname", sorted(CLASSES))
def test_class_constraints_are_checked_when_used(qualname):
    cls = CLASSES[qualname]
    positional, use, fitted_attribute = CHECKS[qualname.rsplit(".", 1)[1]]
    if fitted_attribute is not None:
        with pytest.raises(AttributeError):
            getattr(cls(*positional()), fitted_attribute)
    use(cls(*positional()))
    for param, constraint in cls._parameter_constraints.items():
        estimator = cls(*positional(), **{param: constraint.invalid_example()})  # stored only
        with pytest.raises(InvalidInputError, match=f"The '{param}' parameter of") as info:
            use(estimator)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS))
def test_constraints_reject_invalid_values(qualname):
    func = FUNCTIONS[qualname]
    args = VALID_ARGS[qualname.rsplit(".", 1)[1]]
    func(*args)  # valid call works
    for param, constraint in func._parameter_constraints.items():
        bad = constraint.invalid_example()
        with pytest.raises(InvalidInputError, match=f"The '{param}' parameter of") as info:
            func(*args, **{param: bad})
        assert "\n" not in str(info.value)
        assert isinstance(info.value, ValueError) and isinstance(info.value, QuestsError)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_names_exist(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ lists missing {name}"


@pytest.mark.parametrize("code", [
    "import quests",
    "from click.testing import CliRunner; from quests.cli import cli; "
    "assert CliRunner().invoke(cli, ['entropy', '--help']).exit_code == 0",
], ids=["import quests", "quests entropy --help"])
def test_light_imports(code):
    """Importing the package, and the CLI's help, load none of the heavy dependencies."""
    check = (f"import sys; {code}; print(','.join(m for m in ('numba', 'torch', 'matplotlib', "
             "'ase', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_version():
    assert quests.__version__.count(".") == 2


class _FakeTerminal:
    def __init__(self):
        self.text = []

    def isatty(self):
        return True

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass


def test_progress_bars_only_on_a_terminal(monkeypatch):
    from quests._progress import _Silent, progress_bar

    assert isinstance(progress_bar(10, "x", verbose=False), _Silent)
    monkeypatch.setattr(sys, "stderr", _FakeTerminal())
    bar = progress_bar(10, "x", verbose=True)
    assert not isinstance(bar, _Silent)
    bar.close()
    import io

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # redirected: no bar
    assert isinstance(progress_bar(10, "x", verbose=True), _Silent)


def test_every_public_name_has_an_example():
    """Each public function and class shows a runnable example (the doctest pass runs it)."""
    import inspect

    missing = set()
    for name in PUBLIC_MODULES + ["quests.zenn", "quests.distributed"]:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) \
                    and ">>>" not in (inspect.getdoc(obj) or ""):
                missing.add(f"{name}.{attr}")
    assert not missing, sorted(missing)
