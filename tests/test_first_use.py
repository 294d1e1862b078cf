"""A new user's first command (issue 15, class 6).

With an empty numba cache the first command compiles the kernels for 10-15 s:
it says so on stderr before the silence, the entropy table's time column
holds the dataset's own time (the kernels are compiled before the clock
starts), and the next run, with the cache filled, says nothing about it.
Warnings are printed once each, after the result, never before an error.
"""

import os
import subprocess
import sys
import time
import warnings

import pytest
from click.testing import CliRunner

from quests.cli import cli
from quests.data import demo_files

MAIN = "import sys; from quests.cli import main; sys.exit(main())"


@pytest.mark.slow
def test_first_run_says_it_compiles_and_times_only_the_work(tmp_path):
    files = [demo_files()["cu_300K"], demo_files()["cu_900K"]]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", MAIN, "entropy", *files], env=env,
                             capture_output=True, text=True, timeout=600)
        runs.append((run, time.perf_counter() - start))
    (cold, cold_wall), (warm, _) = runs
    assert cold.returncode == 0 and warm.returncode == 0, cold.stderr + warm.stderr
    assert cold.stderr.startswith("compiling the numba kernels")
    assert "compiling" not in warm.stderr
    # the compile (seconds) is outside the first row's time: that row, a few thousand
    # environments, takes a small part of the cold run
    first_row_seconds = float(cold.stdout.splitlines()[1].split()[-1])
    assert first_row_seconds < 0.3 * cold_wall, (first_row_seconds, cold_wall)
    assert cold.stdout.splitlines()[1:] != [] and cold.stdout.split()[0] == "dataset"


def test_quiet_runs_and_kernel_free_commands_say_nothing(tmp_path, monkeypatch):
    import quests._kernels

    monkeypatch.setattr(quests._kernels, "cache_is_cold", lambda: True)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["entropy", demo_files()["cu_crystal"], "-q"])
    assert result.exit_code == 0 and "compiling" not in result.stderr
    result = CliRunner().invoke(cli, ["entropy", demo_files()["cu_crystal"]])
    assert result.stderr.startswith("compiling the numba kernels")
    result = CliRunner().invoke(cli, ["zentropy", "missing_folder"])
    assert "compiling" not in result.stderr
    # refused on its input: nothing compiles, so nothing is said about compiling
    result = CliRunner().invoke(cli, ["entropy", "missing.xyz"])
    assert result.exit_code == 2 and result.stderr.splitlines() == [
        "error: file not found: missing.xyz"]


def test_warnings_come_after_the_result_and_never_before_an_error(tmp_path, monkeypatch):
    import quests.report

    original = quests.report.dataset_entropy

    def noisy(*args, **kwargs):
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        warnings.warn("overflow encountered in exp", RuntimeWarning)
        return original(*args, **kwargs)

    def noisy_then_fails(*args, **kwargs):
        warnings.warn("something odd", UserWarning)
        raise quests.InvalidInputError("the real problem")

    monkeypatch.setattr(quests.report, "dataset_entropy", noisy)
    ok = CliRunner().invoke(cli, ["entropy", demo_files()["cu_crystal"], "-q"])
    assert ok.exit_code == 0
    assert ok.stderr.splitlines() == ["warning: overflow encountered in exp"]
    monkeypatch.setattr(quests.report, "dataset_entropy", noisy_then_fails)
    bad = CliRunner().invoke(cli, ["entropy", demo_files()["cu_crystal"], "-q"])
    assert bad.exit_code == 2
    assert bad.stderr.splitlines() == ["error: the real problem"]
