"""quests on a dask LocalCluster (2 worker processes, loopback only): the same numbers as
one process, descriptor stores, and what happens when a worker or the scheduler is lost."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from ase.build import bulk
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

from quests._errors import QuestsError  # noqa: E402
from quests.cli import cli  # noqa: E402
from quests.descriptor import compute_descriptors, store_descriptors  # noqa: E402
from quests.distributed import SchedulerError, dask_engine  # noqa: E402
from quests.io import begin_descriptor_store, read_descriptors, write_store_block  # noqa: E402
from quests.kde import dataset_entropy, differential_entropy, kernel_sum, overlap  # noqa: E402


def _cluster(n_workers=2):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=":0")


def _task_names(stream):
    """Kinds of task that ran on the cluster (``distributed.get_task_stream``)."""
    return {task["key"].split("-")[0] for task in stream.data}


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as c:
        yield c


def _data(n=3000, seed=0):
    """Clustered points, so kernel sums span many orders of magnitude."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, 12)) * 0.05
    return centres[rng.integers(0, 20, n)] + rng.normal(size=(n, 12)) * 0.01


def _frames(n=24):
    frames = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
        atoms.rattle(0.02 + 0.01 * (i % 4), seed=i)
        frames.append(atoms)
    return frames


def test_plain_path_imports_nothing_of_dask():
    code = ("import sys, numpy as np\n"
            "from quests.kde import entropy, differential_entropy\n"
            "from quests.descriptor import compute_descriptors\n"
            "import quests.cli, quests.distributed\n"
            "from ase.build import bulk\n"
            "x = compute_descriptors([bulk('Cu', cubic=True)] * 2)\n"
            "entropy(x); differential_entropy(x, x)\n"
            "from click.testing import CliRunner\n"
            "CliRunner().invoke(quests.cli.cli, ['entropy', '--help'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed', 'zarr')))\n")
    env = {key: value for key, value in os.environ.items() if key != "QUESTS_SCHEDULER"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_kernel_sums_on_the_cluster_equal_one_process(client):
    X, Y = _data(3000), _data(900, seed=1)
    hs = [0.01, 0.015]
    cut = float(np.median(differential_entropy(Y, X, 0.015, method="exact")))
    local = (kernel_sum(X, hs), dataset_entropy(X, 0.015, method="exact"),
             differential_entropy(Y, X, hs, method="exact"),
             overlap(Y, X, 0.015, threshold=cut, method="exact"),
             dataset_entropy(X, 0.015, method="approx", tolerance=0.05, seed=3))
    with dask_engine(client=client, block_rows=700), \
            distributed.get_task_stream(client) as stream:
        remote = (kernel_sum(X, hs), dataset_entropy(X, 0.015, method="exact"),
                  differential_entropy(Y, X, hs, method="exact"),
                  overlap(Y, X, 0.015, threshold=cut, method="exact"),
                  dataset_entropy(X, 0.015, method="approx", tolerance=0.05, seed=3))
    assert {"_self_sums_here", "_pair_sums", "_cross_log_sums_here"} <= _task_names(stream)
    np.testing.assert_allclose(remote[0], local[0], rtol=1e-12, atol=0)
    for ours, theirs in ((remote[1], local[1]), (remote[4], local[4])):
        assert ours.entropy == pytest.approx(theirs.entropy, abs=1e-12)
        assert ours.diversity == pytest.approx(theirs.diversity, abs=1e-12)
        assert ours.n_sampled == theirs.n_sampled
    assert 700 < local[4].n_sampled < 3000  # several sampled batches, each on the cluster
    np.testing.assert_allclose(remote[2], local[2], rtol=0, atol=1e-12)
    assert remote[3] == local[3] and 0 < local[3] < 1


@pytest.mark.parametrize("backend", ["hnsw", "brute"])
def test_approximate_dh_on_the_cluster_equals_one_process(client, backend):
    """The index is searched block by block on the workers: the same candidates, the same
    truncated sums and bounds."""
    from quests.kde import NeighborIndex

    X, Y = _data(4000, seed=2), _data(9000, seed=3)  # > 4096 queries: sent to the workers
    index = NeighborIndex(backend).fit(X)
    local = differential_entropy(Y, index, 0.015, method="approx", n_neighbors=16,
                                 return_bound=True)
    with dask_engine(client=client, block_rows=2500), \
            distributed.get_task_stream(client) as stream:
        remote = differential_entropy(Y, index, 0.015, method="approx", n_neighbors=16,
                                      return_bound=True)
    assert "_query_here" in _task_names(stream)
    np.testing.assert_array_equal(remote[0], local[0])
    np.testing.assert_array_equal(remote[1], local[1])


def test_descriptors_on_the_cluster_and_stores(client, tmp_path):
    frames = _frames()
    local = compute_descriptors(frames, species="all")
    with dask_engine(client=client, block_rows=100), \
            distributed.get_task_stream(client) as stream:  # 32-atom frames: 4 a task
        remote = compute_descriptors(frames, species="all")
        path = store_descriptors(frames, tmp_path / "d.zarr", species="all", rows_per_block=100,
                                 sources=np.arange(24) // 12, metadata={"note": "test"})
    assert {"_describe_chunk", "store_block"} <= _task_names(stream)
    np.testing.assert_array_equal(remote, local)
    # a structure that fails on a worker is named by its number in the whole input
    bad = _frames(8)
    bad[6].positions[3] = bad[6].positions[2]
    with dask_engine(client=client, block_rows=64), \
            pytest.raises(QuestsError, match="structure 6 has overlapping atoms"):
        compute_descriptors(bad)
    stored, meta, frame_of_row = read_descriptors(path)
    np.testing.assert_array_equal(stored, local)
    np.testing.assert_array_equal(frame_of_row, np.repeat(np.arange(24), 32))
    assert meta["k"] == 32 and meta["species"] == [29] and meta["note"] == "test"
    # the same store from one process, and only complete stores beside it
    again = store_descriptors(frames, tmp_path / "e.zarr", species="all", rows_per_block=100)
    np.testing.assert_array_equal(read_descriptors(again)[0], local)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.zarr", "e.zarr"]


def test_a_store_is_read_block_by_block_by_the_workers(client, tmp_path):
    """Inside an engine a DescriptorStore is never loaded by the client: the workers read
    its blocks, and H, D, the sampled H and dH equal those of the array in memory."""
    from quests.io import DescriptorStore

    frames = _frames(100)
    path = store_descriptors(frames, tmp_path / "s.zarr", rows_per_block=500)
    store = DescriptorStore(path)
    X = np.asarray(store)
    assert store.shape == X.shape == (3200, 63) and store.n_blocks == 7  # 16 frames a block
    rows = np.array([5, 3199, 0, 640, -1])
    np.testing.assert_array_equal(store[rows], X[rows])
    Y = compute_descriptors(_frames(3)[::-1])
    local = (dataset_entropy(X, 0.015, method="exact"),
             dataset_entropy(X, 0.015, method="approx", tolerance=0.1, seed=1),
             differential_entropy(Y, X, 0.015, method="exact"))
    with dask_engine(client=client, block_rows=300):
        loaded = []  # every block read in this process: none may be
        original = DescriptorStore.block
        DescriptorStore.block = lambda self, number: loaded.append(number) or \
            original(self, number)
        try:
            remote = (dataset_entropy(store, 0.015, method="exact"),
                      dataset_entropy(store, 0.015, method="approx", tolerance=0.1, seed=1),
                      differential_entropy(Y, store, 0.015, method="exact"))
        finally:
            DescriptorStore.block = original
    assert loaded == []  # the workers read the blocks, in their own processes
    for ours, theirs in zip(remote[:2], local[:2]):
        assert ours.entropy == pytest.approx(theirs.entropy, abs=1e-12)
        assert ours.diversity == pytest.approx(theirs.diversity, abs=1e-12)
    assert remote[1].n_sampled == local[1].n_sampled < 3200
    np.testing.assert_allclose(remote[2], local[2], rtol=0, atol=1e-12)


def test_approximate_dh_against_a_store_uses_one_index_per_block(client, tmp_path):
    """Brute-force indexes per block: the m nearest of all blocks are the m nearest of the
    whole store, so dH and its bound equal one brute-force index over everything; HNSW per
    block stays an upper bound of the exact dH."""
    from quests.io import DescriptorStore

    path = store_descriptors(_frames(60), tmp_path / "p.zarr", rows_per_block=400)
    store = DescriptorStore(path)
    X = np.asarray(store)
    Y = compute_descriptors(_frames(6)[::-1]) * 1.01
    local = differential_entropy(Y, X, 0.015, method="approx", n_neighbors=24,
                                 backend="brute", return_bound=True)
    exact = differential_entropy(Y, X, 0.015, method="exact")
    with dask_engine(client=client, block_rows=100):
        remote = differential_entropy(Y, store, 0.015, method="approx", n_neighbors=24,
                                      backend="brute", return_bound=True)
        assert differential_entropy(Y[:0], store, 0.015, method="approx").shape == (0,)
        assert differential_entropy(Y[:0], store, 0.015, method="exact").shape == (0,)
        graph = differential_entropy(Y, store, 0.015, method="approx", n_neighbors=24)
    assert store.n_blocks == 5
    np.testing.assert_allclose(remote[0], local[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(remote[1], local[1], rtol=0, atol=1e-12)
    assert np.all(graph >= exact - 1e-9) and np.all(graph <= exact + remote[1] + 1e-9)


def test_workers_write_their_first_blocks_at_once(tmp_path):
    """Eight writers start together on a new store (as the workers of a cluster do).

    Each used to create the store's 'blocks' group on demand; two creating it at once
    failed with ContainsGroupError (once in CI; 5 of 20 trials of this test). The
    group is now made when the store is begun.
    """
    import threading

    rows = dict(structure_index=np.zeros(3, int), atom_index=np.arange(3),
                numbers=np.full(3, 29), source=np.zeros(3, int))
    for trial in range(10):
        store = begin_descriptor_store(tmp_path / f"s{trial}.zarr")
        barrier, errors = threading.Barrier(8), []

        def write(block):
            barrier.wait()
            try:
                write_store_block(store, block, np.ones((3, 4)), **rows)
            except Exception as exc:  # noqa: BLE001 - any failure fails the test below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(b,)) for b in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors


def test_interrupted_stores_are_never_read(tmp_path):
    store = begin_descriptor_store(tmp_path / "x.zarr")
    write_store_block(store, 0, np.ones((3, 4)), structure_index=np.zeros(3, int),
                      atom_index=np.arange(3), numbers=np.full(3, 29), source=np.zeros(3, int))
    with pytest.raises(QuestsError, match="incomplete descriptor store"):
        read_descriptors(store)
    assert not (tmp_path / "x.zarr").exists()
    # a run that fails inside a block (two atoms on one site in structure 2, the second
    # block) leaves neither the store nor its temporary folder, and names the structure
    bad = _frames(3)
    bad[2].positions[5] = bad[2].positions[4]
    with pytest.raises(QuestsError, match="structure 2 has overlapping atoms"):
        store_descriptors(bad, tmp_path / "y.zarr", rows_per_block=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == [store.name]
    with pytest.raises(QuestsError, match="exists"):
        store_descriptors(_frames(2), tmp_path / store.name)
    # --overwrite replaces a store, never a folder that is not one
    (tmp_path / "other.zarr").mkdir()
    with pytest.raises(QuestsError, match="not a quests descriptor store"):
        store_descriptors(_frames(2), tmp_path / "other.zarr", overwrite=True)


def test_cli_scheduler_address_and_zarr_store(client, tmp_path, monkeypatch):
    from ase.io import write

    path = tmp_path / "cu.xyz"
    write(path, _frames(12))
    runner = CliRunner()
    plain = runner.invoke(cli, ["entropy", str(path), "-q"])
    assert plain.exit_code == 0, plain.output
    monkeypatch.setenv("QUESTS_SCHEDULER", client.scheduler.address)
    store = tmp_path / "cu.zarr"
    result = runner.invoke(cli, ["descriptors", str(path), "-o", str(store), "-q"])
    assert result.exit_code == 0, result.output
    assert "384 environments from 12 structures" in result.output
    on_cluster = runner.invoke(cli, ["entropy", str(store), "-q"])
    assert on_cluster.exit_code == 0, on_cluster.output
    # the same table but for the name and the time column
    strip = [line.split()[2:6] for line in plain.output.splitlines()[1:]]
    assert [line.split()[2:6] for line in on_cluster.output.splitlines()[1:]] == strip
    result = runner.invoke(cli, ["descriptors", str(path), "-o", str(store)])
    assert result.exit_code == 2 and "exists" in result.output
    # overlap and uncertainty print the same with the scheduler as without
    hot = tmp_path / "hot.xyz"
    frames = _frames(4)
    for atoms in frames:
        atoms.rattle(0.15, seed=7)
    write(hot, frames)
    for command in (["overlap", str(hot), str(path)],
                    ["uncertainty", str(hot), "-r", str(path), "-o", str(tmp_path / "u.json")]):
        with distributed.get_task_stream(client) as stream:
            with_dask = runner.invoke(cli, [*command, "-q", "--overwrite"])
        assert "_describe_chunk" in _task_names(stream)  # the cluster did the work
        monkeypatch.delenv("QUESTS_SCHEDULER")
        without = runner.invoke(cli, [*command, "-q", "--overwrite"])
        monkeypatch.setenv("QUESTS_SCHEDULER", client.scheduler.address)
        assert with_dask.exit_code == 0 == without.exit_code, with_dask.output
        assert with_dask.output == without.output
    monkeypatch.setenv("QUESTS_SCHEDULER", "tcp://127.0.0.1:9")  # nobody listens there
    result = runner.invoke(cli, ["entropy", str(store), "-q"])
    assert result.exit_code == 2 and "cannot reach the dask scheduler" in result.output


def test_a_killed_worker_does_not_change_the_result():
    """A worker is killed as the second sum over the same X starts (during it where the
    poll sees its tasks), after the first has left each block on one worker only (dask's
    memory manager trims extra copies every 2 s): the blocks it held are made again
    elsewhere and the sums do not change."""
    X = _data(12000, seed=5)
    expected = kernel_sum(X, 0.015)
    with _cluster() as cluster, distributed.Client(cluster) as c:
        pids = c.run(os.getpid)
        found, first_done, armed = {}, threading.Event(), threading.Event()

        def run():
            with dask_engine(client=c, block_rows=1000):
                found["first"] = kernel_sum(X, 0.015)
                first_done.set()
                armed.wait(60)
                found["sums"] = kernel_sum(X, 0.015)

        worker = threading.Thread(target=run)
        worker.start()
        assert first_done.wait(120)
        time.sleep(3)  # the memory manager trims extra copies every 2 s
        armed.set()  # the second sum starts only now, while we watch for its tasks
        deadline = time.time() + 2
        while time.time() < deadline and not any(c.processing().values()):
            time.sleep(0.005)
        # a worker busy with the second sum; if the poll missed its tasks (a fast machine
        # can finish them between two polls), one that holds blocks of X: either way
        # blocks the sum needs are lost and must be made again elsewhere
        busy = [address for address, tasks in c.processing().items() if tasks]
        holding = [address for address, keys in c.has_what().items() if keys]
        victim = (busy or holding or list(pids))[0]
        os.kill(pids[victim], signal.SIGKILL)
        worker.join(120)
        assert not worker.is_alive()
    np.testing.assert_allclose(found["first"], expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(found["sums"], expected, rtol=1e-12, atol=0)


def test_a_lost_scheduler_is_one_clear_error():
    cluster = _cluster(1)
    c = distributed.Client(cluster)
    try:
        with dask_engine(client=c, block_rows=500):
            cluster.close()
            with pytest.raises(SchedulerError, match="lost the dask scheduler"):
                kernel_sum(_data(2000), 0.015)
    finally:
        c.close()


def test_a_local_cluster_started_and_stopped_by_the_engine():
    X = _data(1500, seed=9)
    with dask_engine("local", n_workers=1, block_rows=400) as engine:
        sums = kernel_sum(X, 0.015)
        assert engine.client.status == "running"
    assert engine.client.status == "closed"
    np.testing.assert_allclose(sums, kernel_sum(X, 0.015), rtol=1e-12, atol=0)
