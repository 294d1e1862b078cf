"""The QUESTS descriptor of atomic environments (DESIGN.md, "The math").

Each atom's environment becomes a vector of length 2k - 1 (63 for k = 32)
in 1/Å: the weighted inverse distances to its k nearest neighbours (x1)
followed by the averaged, sorted weighted inverse distances between those
neighbours (x2), with the smooth weight f(r) = (1 - (r/rc)^2)^2.
Parallel over structures (many small cells) and over atoms (large cells).
"""

import contextlib
import functools
import itertools
import os
import re
import threading

import numpy as np

from quests import _engine, _kernels
from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K, descriptor_length
from quests._errors import InvalidInputError, InvalidStructureError
from quests._kernels import descriptor as _dk
from quests._progress import progress_bar
from quests._kernels import neighbors as _nk
from quests._threads import parallel_map, resolve_jobs
from quests._validation import CUTOFF, N_JOBS, NEIGHBORS, Options, check_descriptors, \
    validate_params
from quests.neighbors import prepare_cells
from quests.structures import as_frames

__all__ = [
    "DEFAULT_K",
    "DEFAULT_CUTOFF",
    "compute_descriptors",
    "describe_groups",
    "descriptor_length",
    "resolve_species",
    "structure_offsets",
    "structure_species",
]


# Structures with at least this many atoms are parallelised over atoms;
# smaller ones are batched and parallelised over structures.
_LARGE_STRUCTURE = 2048
# Most atoms per batch of small structures (one progress update per batch).
_BATCH_ATOMS = 16384


def structure_species(structures):
    """Sorted atomic numbers present in ``structures`` (for ``species=``).

    Examples
    --------
    >>> from ase.build import bulk
    >>> structure_species([bulk("NaCl", "rocksalt", a=5.64), bulk("Cu", "fcc", a=3.61)])
    [11, 17, 29]
    >>> structure_species(bulk("Cu", "fcc", a=3.61))
    [29]
    """
    frames = as_frames(structures)
    if not frames:
        return []
    return sorted(int(z) for z in np.unique(np.concatenate([f.numbers for f in frames])))


def _describe_chunk(frames, first, k, cutoff, species, dtype):
    """Descriptors of one chunk of frames, the first of which is frame ``first`` of the
    whole input (so errors name the right frame), in one thread: an engine's task."""
    with numbered_from(first):
        return compute_descriptors(frames, k, cutoff, species=species, dtype=dtype, n_jobs=1)


def structure_offsets(counts):
    """Start row of each structure in grouped descriptors (one structure's rows after
    another, ``counts`` rows each), shape (n_structures + 1,); the last entry is the total.

    Examples
    --------
    >>> structure_offsets([2, 3]).tolist()
    [0, 2, 5]
    """
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def describe_groups(groups, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, *, species=None, names=None,
                    n_jobs=None, verbose=False):
    """Descriptors of several groups of structures, all in one descriptor space.

    Parameters
    ----------
    groups : sequence
        Each item a sequence of structures (anything ``compute_descriptors``
        takes) or an already computed descriptor array of shape
        (n_environments, n_features), which is checked and passed through.
    k, cutoff, species, n_jobs, verbose : as in ``compute_descriptors``
        ``species="all"`` means the species of all structure groups together.
    names : sequence of str or None
        Group names for error messages (default "group 0", "group 1", ...).

    Returns
    -------
    descriptors : list of ndarray of shape (n_environments_g, n_features)
    counts : list of (ndarray of shape (n_structures_g,) int64, or None for arrays)
        Atoms of each structure of the group.
    species : None or list of int
        The species list used.

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> xs, counts, _ = describe_groups([[rattled_crystal()] * 2, [rattled_crystal(size=3)]])
    >>> [x.shape for x in xs], [c.tolist() for c in counts]
    ([(64, 63), (108, 63)], [[32, 32], [108]])
    """
    names = [f"group {g}" for g in range(len(groups))] if names is None else list(names)
    frames = []
    for name, group in zip(names, groups):
        if isinstance(group, np.ndarray):
            frames.append(None)
            continue
        items = as_frames(group, label=f"structure of {name}")
        if not items:
            raise InvalidInputError(f"{name} holds no structures")
        frames.append(items)
    structures = [f for items in frames if items for f in items]
    species = resolve_species(species, structures) if species == "all" else species
    x_all = compute_descriptors(structures, k, cutoff, species=species, n_jobs=n_jobs,
                                verbose=verbose) if structures else None
    descriptors, counts, start = [], [], 0
    for name, group, items in zip(names, groups, frames):
        if items is None:
            descriptors.append(check_descriptors(group, name))
            counts.append(None)
            continue
        sizes = np.array([f.positions.shape[0] for f in items], dtype=np.int64)
        descriptors.append(x_all[start:start + sizes.sum()])
        counts.append(sizes)
        start += sizes.sum()
    return descriptors, counts, species


@validate_params(
    {
        "k": NEIGHBORS,
        "cutoff": CUTOFF,
        "dtype": Options("float64", "float32", np.float64, np.float32),
        "n_jobs": N_JOBS,
    }
)
def compute_descriptors(
    structures,
    k=DEFAULT_K,
    cutoff=DEFAULT_CUTOFF,
    *,
    species=None,
    dtype="float64",
    n_jobs=None,
    verbose=False,
):
    """QUESTS descriptors of every atom of one or more structures.

    Parameters
    ----------
    structures : ase.Atoms, Frame, (positions, cell, pbc) or a sequence of them
        Periodic along the axes where pbc is True: any triclinic cell, cells
        smaller than the cutoff, slabs and wires; a non-periodic structure
        ignores its cell.
    k : int, default=32
        Number of nearest neighbours.
    cutoff : float, default=5.0
        Cutoff radius rc of the weight function, Å.
    species : None, "all" or sequence of int, default=None
        None gives the single-component descriptor. Otherwise the
        multicomponent variant: the full descriptor followed by one block per
        atomic number in ``species`` ("all": those present, sorted), each
        computed on the sub-structure of that species alone, zeros for atoms
        of other species. Pass the same list to every dataset you compare.
    dtype : {"float64", "float32"}, default="float64"
        Output precision (computation is always float64).
    n_jobs : int or None, default=None
        Threads (None: all cores; -1 all, -2 all but one, ...).
    verbose : bool, default=False
        Progress bar on stderr for long runs.

    Returns
    -------
    ndarray of shape (n_atoms_total, (2k - 1) * (1 + n_species))
        Rows in the order of the structures and of their atoms, 1/Å.

    Raises
    ------
    InvalidStructureError
        A structure with no atoms, NaN/inf positions, a singular periodic
        cell, or two atoms at the same position.

    Examples
    --------
    Every atom of a perfect crystal has the same environment:

    >>> from ase.build import bulk
    >>> x = compute_descriptors(bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2))
    >>> x.shape
    (32, 63)
    >>> float(abs(x - x[0]).max()) < 1e-12
    True
    """
    frames = as_frames(structures)
    out_dtype = np.dtype(dtype)
    n_atoms = sum(f.positions.shape[0] for f in frames)
    species_list = _species_list(species, frames)
    width = 2 * k - 1
    if _engine.active() and len(frames) > 1:
        # chunks of frames across a dask cluster; species resolved above, for all chunks
        return _engine.run("describe", frames, k, float(cutoff), species_list, out_dtype.name,
                           verbose, local=_describe_chunk)
    _check_memory(n_atoms, k, 1 + len(species_list), out_dtype.itemsize, resolve_jobs(n_jobs))
    out = np.zeros((n_atoms, width * (1 + len(species_list))), dtype=out_dtype)
    if n_atoms == 0:
        return out
    cells, pbcs = prepare_cells(frames, float(cutoff))
    with progress_bar(n_atoms * (1 + len(species_list)), "descriptors", verbose,
                      unit="atom") as bar:
        out[:, :width] = _descriptor_rows(
            [f.positions for f in frames], cells, pbcs, k, float(cutoff), n_jobs, bar
        )
        for block, z in enumerate(species_list, start=1):
            masks = [f.numbers == z for f in frames]
            rows = np.concatenate(masks)
            sub = _descriptor_rows(
                [f.positions[m] for f, m in zip(frames, masks)], cells, pbcs, k, float(cutoff),
                n_jobs, bar,
            )
            out[rows, block * width:(block + 1) * width] = sub
            bar.update(n_atoms - int(rows.sum()))
    return out


def _physical_memory():
    """Bytes of physical memory of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(n_atoms, k, n_blocks, itemsize, workers):
    """Refuse, before allocating, a k whose arrays exceed this machine's memory.

    Each worker thread holds a square scratch matrix of side ``network_size(k)``
    (the pair distances of one environment, float64), and the output holds
    n_atoms x (2k - 1) x n_blocks values; an absurd k (say 100,000) would
    otherwise fail deep inside the kernel with a bare MemoryError.
    """
    total = _physical_memory()
    if total is None:
        return
    side = _dk.network_size(k)
    scratch = 8 * side * side * workers
    output = itemsize * n_atoms * (2 * k - 1) * n_blocks
    if scratch + output > total:
        raise InvalidInputError(
            f"k={k} needs about {(scratch + output) / 2**30:.3g} GiB ({workers} threads x "
            f"{8 * side * side / 2**30:.3g} GiB of pair distances, and the descriptors), more "
            f"than this machine's {total / 2**30:.3g} GiB: use a smaller k (QUESTS uses 32; "
            "a k above the atoms within the cutoff only adds zeros)")


def resolve_species(species, structures=()):
    """The ``species=`` option made concrete: None (the single-component descriptor),
    the atomic numbers present in ``structures`` for "all" (sorted), or the given
    atomic numbers as ints, in their order.

    Examples
    --------
    >>> from ase import Atoms
    >>> resolve_species("all", [Atoms("CuAuCu")]), resolve_species([79, 29]), resolve_species(None)
    ([29, 79], [79, 29], None)
    """
    if species is None:
        return None
    if isinstance(species, str):
        if species != "all":
            raise InvalidInputError(
                f"species must be None, 'all' or a list of atomic numbers; got {species!r}"
            )
        return structure_species(structures)
    return [int(z) for z in species]


def _species_list(species, frames):
    """The atomic numbers of the multicomponent blocks: [] for the single-component
    descriptor."""
    return resolve_species(species, frames) or []


def frame_chunks(sizes, rows):
    """[(first, stop)] ranges of whole frames with about ``rows`` atoms each (at least one
    frame per range), for sizes (n_frames,) atoms per frame."""
    chunks, first = [], 0
    for chunk in grouped_frames(range(len(sizes)), lambda i: sizes[i], rows):
        chunks.append((first, first + len(chunk)))
        first += len(chunk)
    return chunks


def grouped_frames(frames, size, rows):
    """Lists of consecutive ``frames`` (any iterable, read lazily) with about ``rows`` atoms
    each: a list ends at the frame that brings it to ``rows`` (``size(frame)`` atoms each)."""
    group, atoms = [], 0
    for frame in frames:
        group.append(frame)
        atoms += int(size(frame))
        if atoms >= rows:
            yield group
            group, atoms = [], 0
    if group:
        yield group


@contextlib.contextmanager
def numbered_from(first):
    """Errors about "structure N" raised inside count from ``first``: the frames at hand
    are a chunk, starting at structure ``first``, of what the user gave."""
    try:
        yield
    except InvalidStructureError as exc:
        if not first:
            raise
        message = re.sub(r"\bstructure (\d+)",
                         lambda m: f"structure {int(m.group(1)) + first}", str(exc))
        raise InvalidStructureError(message) from None


def store_block(store, block, frames, first, k, cutoff, species, dtype, sources, n_jobs=None,
                resume_at=None):
    """Descriptors of ``frames`` (structures ``first``, ``first + 1``, ...) written as block
    ``block`` of a store being built; returns the rows written. Runs on dask workers too.
    ``resume_at``: where a resumed stream goes on after this block (``stream_descriptors``)."""
    from quests.io import write_store_block

    with numbered_from(first):
        x = compute_descriptors(frames, k, cutoff, species=species, dtype=dtype, n_jobs=n_jobs)
    sizes = [f.positions.shape[0] for f in frames]
    return write_store_block(
        store, block, x, resume_at=resume_at,
        structure_index=np.repeat(np.arange(first, first + len(frames)), sizes),
        atom_index=np.concatenate([np.arange(n) for n in sizes]),
        numbers=np.concatenate([f.numbers for f in frames]),
        source=np.repeat(np.asarray(sources, dtype=np.int64), sizes))


def store_descriptors(structures, path, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, *, species=None,
                      dtype="float64", sources=None, metadata=None, rows_per_block=65536,
                      overwrite=False, n_jobs=None, verbose=False):
    """Descriptors of every atom written to a descriptor file: a chunked on-disk store
    (``.zarr`` folder), or arrays in one ``.npz``.

    Either holds ``descriptors`` (n_atoms, n_features), per row ``structure_index``,
    ``atom_index``, ``numbers`` and ``source`` (which input file), and the settings
    as metadata. A ``.npz`` is computed in memory and written atomically. The store is
    built block by block (whole frames, about ``rows_per_block`` atoms each) in a
    temporary folder beside ``path``, then marked complete and renamed: an
    interrupted run never leaves something ``read_descriptors`` takes for a store.
    Inside ``quests.distributed.dask_engine`` the blocks are computed and written by
    the workers (``path`` must be on a filesystem they share). ``sources``
    (n_structures,) says which input file each structure came from; ``metadata``
    (dict) is kept with the k, cutoff and species.

    Returns the ``Path`` of the file. Read it with ``quests.io.read_descriptors``
    (or ``quests entropy STORE.zarr``).
    """
    from pathlib import Path

    from quests import io

    frames = as_frames(structures)
    if not frames:
        raise InvalidInputError("no structures to describe")
    species_list = _species_list(species, frames)
    sources = np.zeros(len(frames), dtype=np.int64) if sources is None else np.asarray(sources)
    if sources.shape != (len(frames),):
        raise InvalidInputError("sources must give one file number per structure")
    meta = {"k": k, "cutoff": cutoff, "species": species_list or None, **(metadata or {})}
    if Path(path).suffix.lower() == ".npz":
        x = compute_descriptors(frames, k, cutoff, species=species_list, dtype=dtype,
                                n_jobs=n_jobs, verbose=verbose)
        sizes = np.array([len(f.numbers) for f in frames])
        io.write_descriptors(path, x, meta, overwrite,
                             structure_index=np.repeat(np.arange(len(frames)), sizes),
                             atom_index=np.concatenate([np.arange(n) for n in sizes]),
                             numbers=np.concatenate([f.numbers for f in frames]),
                             source=np.repeat(sources, sizes))
        return Path(path)
    chunks = frame_chunks([f.positions.shape[0] for f in frames], rows_per_block)
    store = io.begin_descriptor_store(path, overwrite)
    try:
        if _engine.active():
            rows = _engine.run("store_blocks", store, frames, chunks, k, float(cutoff),
                               species_list, np.dtype(dtype).name, sources, verbose,
                               local=store_block)
        else:
            with progress_bar(len(chunks), "descriptor store", verbose, unit="block") as bar:
                rows = []
                for block, (first, stop) in enumerate(chunks):
                    rows.append(store_block(store, block, frames[first:stop], first, k,
                                            float(cutoff), species_list, dtype,
                                            sources[first:stop], n_jobs))
                    bar.update()
        return io.finish_descriptor_store(store, path, rows, meta, overwrite)
    except BaseException:
        io.discard_descriptor_store(store)
        raise


def stream_descriptors(specs, path, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, *, index=None,
                       format=None, select=None, species=None, dtype="float64",
                       metadata=None, rows_per_block=65536, overwrite=False, resume=True,
                       n_jobs=None, verbose=False):
    """Descriptors of every atom of structure files, streamed into a ``.zarr`` store.

    Structures are read one block at a time (whole frames, about
    ``rows_per_block`` atoms), described and written, so memory does not
    grow with the number of structures: for datasets far larger than memory
    (an OMat24 ``.aselmdb`` folder). An interrupted run leaves its complete
    blocks in ``.NAME.quests-resume.partial`` beside ``path``; the same call
    again (same files, settings and ``rows_per_block``) continues after the
    last complete block and gives the store an uninterrupted run would
    (``resume=False``: start again).

    Parameters
    ----------
    specs : list of str
        Structure files, folders or globs (``FILE[@SLICE]``), read with
        ``quests.io.iter_structures``; each row's ``source`` is its spec's number.
    path : str or Path
        The ``.zarr`` store to write.
    index, format, select
        As ``quests.io.iter_structures`` (``select`` None: ``quests.io.row_query()``).
    species : None or list of int
        None: one descriptor for every species; a list: per-species
        columns. ``'all'`` is refused here: it needs every structure before
        the first block (give the atomic numbers).

    Returns ``(Path, n_rows, n_structures)``.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from quests.data import demo_files
    >>> folder = tempfile.mkdtemp()
    >>> out, n_rows, n_structures = stream_descriptors(
    ...     [demo_files()["cu_300K"] + "@0:4"], os.path.join(folder, "cu.zarr"), k=4,
    ...     rows_per_block=200)
    >>> n_rows, n_structures
    (432, 4)
    >>> from quests.io import DescriptorStore
    >>> DescriptorStore(out).n_blocks  # 2 frames of 108 atoms per block
    2
    >>> shutil.rmtree(folder)
    """
    import hashlib
    import json
    from pathlib import Path

    from quests import io

    compute_descriptors.check_params(k=k, cutoff=cutoff, n_jobs=n_jobs)
    if Path(path).suffix.lower() != ".zarr":
        raise InvalidInputError(f"{path}: descriptors are streamed into a .zarr store")
    if species == "all":
        raise InvalidInputError("species='all' needs every structure before the first "
                                "block; give the atomic numbers (--species 26,78)")
    if not isinstance(rows_per_block, (int, np.integer)) or rows_per_block < 1:
        raise InvalidInputError(f"rows_per_block must be a positive integer; got "
                                f"{rows_per_block!r}")
    species_list = sorted(int(z) for z in species) if species else None
    specs = [str(spec) for spec in specs]
    select = io.row_query() if select is None else select
    files = []
    for spec in specs:
        paths = io.structure_paths(io.split_index(spec, index)[0])
        for f in paths:
            io.check_readable(f)
        files.append([(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in paths])
    from quests import __version__

    # blocks are continued only by a run of the same version on the same files and settings
    settings = {"version": __version__, "specs": specs, "index": index, "format": format,
                "select": select, "k": k, "cutoff": float(cutoff), "species": species_list,
                "dtype": np.dtype(dtype).name, "rows_per_block": int(rows_per_block),
                "files": files}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    meta = {"k": k, "cutoff": cutoff, "species": species_list, **(metadata or {})}
    with io.resumable_descriptor_store(path, key, overwrite, restart=not resume) as found:
        store, done = found
        rows = [n for n, _ in done]
        spec_number, position, n_structures = done[-1][1] if done else (0, -1, 0)
        if done and verbose:
            print(f"continuing {path}: {len(done)} blocks ({sum(rows)} environments, "
                  f"{n_structures} structures) already written", flush=True)
        frames = _frames_after(specs, spec_number, position, index, format, select)
        # a run that fails (an interruption, a full disk, a bad row found late) keeps its
        # complete blocks: the same command continues after them once the cause is gone
        with progress_bar(None, "descriptor store", verbose, unit="structure") as bar:
            for block in grouped_frames(frames, lambda frame: len(frame[2]), rows_per_block):
                sources, positions, atoms = zip(*block)
                first = n_structures
                n_structures += len(atoms)
                rows.append(store_block(store, len(rows), list(atoms), first, k, cutoff,
                                        species_list, dtype, sources, n_jobs,
                                        resume_at=[sources[-1], positions[-1], n_structures]))
                bar.update(len(atoms))
        if not rows:
            io.discard_descriptor_store(store)
            raise InvalidInputError("no structures to describe"
                                    + (f" (--select {select!r})" if select else ""))
        out = io.finish_descriptor_store(store, path, rows, meta, overwrite)
    return out, int(sum(rows)), n_structures


def _frames_after(specs, spec_number, position, index, format, select):
    """``(spec number, position in it, atoms)`` of every selected frame after frame
    ``position`` of spec ``spec_number``: a spec's own slice is moved on where it can be,
    so the rows before are not read again."""
    from quests import io

    for number in range(spec_number, len(specs)):
        skip = position + 1 if number == spec_number else 0
        path, idx = io.split_index(specs[number], index)
        selection = io.as_slice(idx)
        start, stop, step = selection.start or 0, selection.stop, selection.step or 1
        read_past = skip
        if skip and step > 0 and start >= 0 and (stop is None or stop >= 0):
            idx = f"{start + skip * step}:{'' if stop is None else stop}:{step}"
            read_past = 0  # the slice starts after them: they are not read
        frames = io.iter_structures(path, index=idx, format=format, select=select)
        for offset, (_, atoms) in enumerate(itertools.islice(frames, read_past, None)):
            yield number, skip + offset, atoms


def _descriptor_rows(positions_list, cells, pbcs, k, cutoff, n_jobs, bar):
    """float64 descriptors of the stacked structures (validated, cells augmented).

    Small structures are batched, each batch a task for a worker thread;
    a large structure is searched once and its atoms split into blocks.
    """
    _kernels.before_kernels()
    network = _sorting_network(k)
    sizes = np.array([p.shape[0] for p in positions_list], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = np.zeros((int(offsets[-1]), 2 * k - 1))
    workers = resolve_jobs(n_jobs)
    # enough batches to balance the workers, few enough to keep overheads low
    batch_atoms = int(np.clip(offsets[-1] // (8 * workers), 256, _BATCH_ATOMS))
    tasks = []
    s = 0
    while s < len(positions_list):
        if sizes[s] >= _LARGE_STRUCTURE:
            tasks.extend(_large_structure_tasks(positions_list[s], cells[s], pbcs[s], s, k,
                                                cutoff, network, out[offsets[s]:offsets[s + 1]],
                                                workers))
            s += 1
            continue
        e, total = s, 0
        while e < len(positions_list) and sizes[e] < _LARGE_STRUCTURE and total < batch_atoms:
            total += sizes[e]
            e += 1
        tasks.append(_batch_task(positions_list, cells, pbcs, offsets, s, e, k, cutoff,
                                 network, out))
        s = e
    parallel_map(lambda task: task(), tasks, workers, on_done=bar.update)
    return out


def _batch_task(positions_list, cells, pbcs, offsets, s, e, k, cutoff, network, out):
    def run():
        positions = np.ascontiguousarray(np.concatenate(positions_list[s:e]))
        status = _dk.batch_descriptors(positions, cells[s:e], pbcs[s:e],
                                       offsets[s:e + 1] - offsets[s], k, cutoff, network,
                                       out[offsets[s]:offsets[e]])
        _check_status(status, s)
        return int(offsets[e] - offsets[s])

    return run


def _large_structure_tasks(positions, cell, pbc, index, k, cutoff, network, out, workers):
    """Tasks over blocks of atoms of one structure; the search is built once, lazily."""
    n = positions.shape[0]
    block = max(256, -(-n // (8 * workers)))
    state = {}
    lock = threading.Lock()

    def search():
        with lock:
            if "search" not in state:
                state["search"] = _nk.neighbor_search(positions, cell, pbc, cutoff)
        return state["search"]

    def make(start, stop):
        def run():
            found, n_max = search()
            status = _dk.block_descriptors(found, n_max, start, stop, k, cutoff, network,
                                           out[start:stop])
            _check_status(np.array([status]), index)
            return stop - start

        return run

    return [make(a, min(a + block, n)) for a in range(0, n, block)]


@functools.lru_cache(maxsize=8)
def _sorting_network(k):
    network = _dk.sorting_network(_dk.network_size(k))
    network.setflags(write=False)
    return network


def _check_status(status, first):
    bad = np.flatnonzero(status != 0)
    if bad.size:
        raise InvalidStructureError(
            f"structure {first + int(bad[0])} has overlapping atoms (distance < 1e-8 Å)"
        )
