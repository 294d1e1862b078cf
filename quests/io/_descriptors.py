"""Descriptor files (.npz, .zarr) and datasets of structures or descriptors in one space."""

import json
import math
from pathlib import Path

import numpy as np

from quests import __version__
from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K, descriptor_length
from quests._errors import InvalidInputError, InvalidStructureError
from quests.io._outputs import atomic_write, to_jsonable
from quests.io._paths import DESCRIPTOR_SUFFIXES, ReadError, as_slice, check_readable, split_index
from quests.io._store import STORE_ROW_ARRAYS, DescriptorStore, read_descriptor_store
from quests.io._structures import read_structures


def write_descriptors(path, descriptors, metadata, overwrite=False, **arrays):
    """Save descriptors and their settings to ``.npz`` atomically.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import compute_descriptors
    >>> atoms = rattled_crystal()
    >>> x = compute_descriptors([atoms], k=4, cutoff=3.0)
    >>> folder = tempfile.mkdtemp()
    >>> path = write_descriptors(os.path.join(folder, "cu.npz"), x,
    ...                          {"k": 4, "cutoff": 3.0, "species": None},
    ...                          numbers=atoms.numbers)
    >>> descriptors, metadata, structure_index = read_descriptors(path)
    >>> descriptors.shape, metadata["k"], metadata["cutoff"]
    ((32, 7), 4, 3.0)
    >>> shutil.rmtree(folder)
    """
    meta = json.dumps({"quests_version": __version__, **to_jsonable(metadata)}, allow_nan=False)
    return atomic_write(
        path,
        lambda f: np.savez(f, descriptors=descriptors, metadata=np.array(meta), **arrays),
        overwrite,
        mode="wb",
    )


def read_descriptors(path, return_numbers=False):
    """Load ``(descriptors, metadata, structure_index)`` written by ``write_descriptors``.

    ``structure_index`` (n_rows,) says which frame each row comes from (all
    zeros if the file does not record it). With ``return_numbers`` a fourth
    item: the atomic number of each row's centre atom, (n_rows,), or None if
    the file does not record them. A folder (``.zarr``) is read as a
    descriptor store (``read_descriptor_store``).

    The file must agree with itself: its descriptors finite, their columns
    those its k and species give, and each per-row array one value per
    row; anything else (and a truncated or damaged archive) is a
    ``ReadError`` naming the file.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import store_descriptors
    >>> folder = tempfile.mkdtemp()
    >>> frames = [rattled_crystal(seed=0), rattled_crystal(seed=1)]
    >>> path = store_descriptors(frames, os.path.join(folder, "cu.npz"), k=4, cutoff=3.0)
    >>> x, metadata, structure_index = read_descriptors(path)
    >>> x.shape, metadata["k"], metadata["cutoff"], np.bincount(structure_index).tolist()
    ((64, 7), 4, 3.0, [32, 32])
    >>> numbers = read_descriptors(path, return_numbers=True)[3]
    >>> sorted(set(numbers.tolist()))
    [29]
    >>> shutil.rmtree(folder)
    """
    if Path(path).is_dir():
        x, metadata, frame_of_row = read_descriptor_store(path)
        numbers = DescriptorStore(path).column("numbers") if return_numbers else None
        _check_descriptor_file(path, x, metadata, {"structure_index": frame_of_row,
                                                   "numbers": numbers})
        return (x, metadata, frame_of_row, numbers) if return_numbers else \
            (x, metadata, frame_of_row)
    check_readable(path)
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as data:
            descriptors = np.asarray(data["descriptors"])
            metadata = json.loads(str(data["metadata"]))
            rows = {key: np.asarray(data[key]) for key in STORE_ROW_ARRAYS
                    if key in data.files}
    except KeyError as exc:
        raise ReadError(f"{path} is not a quests descriptor file: it has no {exc} array") \
            from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReadError(f"{path} is not a readable quests descriptor file (truncated or "
                        f"damaged?): {reason}") from None
    _check_descriptor_file(path, descriptors, metadata, rows)
    frame_of_row = rows.get("structure_index", np.zeros(len(descriptors), dtype=np.int64))
    if return_numbers:
        return descriptors, metadata, frame_of_row, rows.get("numbers")
    return descriptors, metadata, frame_of_row


def _check_descriptor_file(path, descriptors, metadata, rows):
    """A descriptor file that contradicts itself is refused, naming what disagrees."""
    if descriptors.ndim != 2 or descriptors.shape[0] == 0:
        raise InvalidStructureError(f"{path} holds no descriptors")
    if descriptors.dtype.kind != "f":
        raise ReadError(f"{path}: descriptors are {descriptors.dtype}, not floating point")
    if not isinstance(metadata, dict):
        raise ReadError(f"{path}: its metadata is not a JSON object")
    k, species = metadata.get("k"), metadata.get("species")
    if not (isinstance(k, int) and k >= 1) or not (
            species is None or (isinstance(species, list)
                                and all(isinstance(z, int) for z in species))):
        raise ReadError(f"{path}: its metadata has no valid k and species "
                        f"(k={k!r}, species={species!r})")
    cutoff = metadata.get("cutoff")
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
        raise ReadError(f"{path}: its metadata has no valid cutoff (cutoff={cutoff!r})")
    expected = descriptor_length(k, len(species or []))
    if descriptors.shape[1] != expected:
        raise ReadError(f"{path}: descriptors have {descriptors.shape[1]} columns, but its "
                        f"k={k} and species={species} give {expected}")
    for key, values in rows.items():
        if values is None:
            continue
        if values.shape != (descriptors.shape[0],) or values.dtype.kind not in "iu":
            raise ReadError(f"{path}: {key} has shape {values.shape} of {values.dtype}, not "
                            f"one integer per descriptor row ({descriptors.shape[0]})")
    if "structure_index" in rows and rows["structure_index"] is not None:
        index = rows["structure_index"]
        if index.min() < 0 or np.any(np.diff(index) < 0):
            raise ReadError(f"{path}: structure_index is not a non-decreasing frame number")
    if rows.get("numbers") is not None:
        numbers = rows["numbers"]
        if numbers.min() < 1 or numbers.max() > 118:
            raise ReadError(f"{path}: numbers holds atomic numbers outside 1-118")
    # finite last: it reads every value (blocks of rows keep the memory small)
    for start in range(0, descriptors.shape[0], 65536):
        if not np.all(np.isfinite(descriptors[start:start + 65536])):
            raise ReadError(f"{path}: descriptors contain NaN or inf")


def _dataset_names(specs):
    """Unique short names: the file stem, the full spec where stems clash, then #2, #3..."""
    names = [Path(split_index(s)[0]).stem for s in specs]
    names = [str(s) if names.count(n) > 1 else n for s, n in zip(specs, names)]
    unique = []
    for name in names:
        candidate, copy = name, 1
        while candidate in unique:
            copy += 1
            candidate = f"{name}#{copy}"
        unique.append(candidate)
    return unique


class Datasets(dict):
    """Datasets by name, each a list of ``ase.Atoms`` or descriptors (an array, or a
    ``DescriptorStore`` left on disk for a dask engine), all in one descriptor space.

    Attributes
    ----------
    settings : dict
        ``k``, ``cutoff`` and ``species`` that describe every dataset: those
        given, else those the descriptor files hold, else the defaults.
    counts : dict name -> ndarray (n_structures,)
        Rows of each selected structure, per descriptor file (not for a store left
        on disk).

    Examples
    --------
    >>> from quests.data import demo_files
    >>> files = [demo_files()["cu_300K"] + "@0:2", demo_files()["cu_melt"] + "@0:3"]
    >>> data = read_datasets(files)
    >>> {name: len(frames) for name, frames in data.items()}, data.settings["cutoff"]
    ({'cu_300K': 2, 'cu_melt': 3}, 5.0)
    >>> len(data.combined())
    5

    A descriptor file sets the descriptor space and records its rows:

    >>> import os, shutil, tempfile
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import store_descriptors
    >>> folder = tempfile.mkdtemp()
    >>> frames = [rattled_crystal(seed=0), rattled_crystal(seed=1)]
    >>> path = store_descriptors(frames, os.path.join(folder, "cu.npz"), k=4, cutoff=3.0)
    >>> data = read_datasets([path])
    >>> data.settings["k"], data.counts["cu"].tolist(), data.combined().shape
    (4, [32, 32], (64, 7))
    >>> sorted(set(data.numbers("cu").tolist()))
    [29]
    >>> X, counts, sources = data.grouped()
    >>> X.shape, counts.tolist(), sources
    ((64, 7), [32, 32], [('cu', 0), ('cu', 1)])
    >>> shutil.rmtree(folder)
    """

    def __init__(self, data, settings, counts, numbers):
        super().__init__(data)
        self.settings, self.counts, self._numbers = settings, counts, numbers

    def numbers(self, name):
        """Atomic number of each row of a descriptor dataset, (n_rows,); None where the
        file does not record them (a store on disk is read for them only now)."""
        found = self._numbers.get(name)
        return found.column("numbers") if isinstance(found, DescriptorStore) else found

    def combined(self, what="the files"):
        """All datasets as one descriptor array (or one store), or one list of structures;
        a mix of structures and descriptors is refused (it names ``what``)."""
        parts = list(self.values())
        stored = [isinstance(p, (np.ndarray, DescriptorStore)) for p in parts]
        if all(stored):
            # one store stays on disk; several parts are joined in memory
            return parts[0] if len(parts) == 1 else np.vstack(parts)
        if any(stored):
            raise InvalidInputError(f"{what} must be all structure files or all descriptor "
                                    "files (.npz, .zarr)")
        return [s for p in parts for s in p]

    def grouped(self, what="the files"):
        """Descriptor datasets as ``(X, counts, sources)`` in memory: X (n_rows, n_features),
        counts (n_structures,) rows of each structure, sources a (dataset name, structure
        number in it) per structure. Structure files are refused (naming ``what``)."""
        data = self.combined(what)
        if isinstance(data, list):
            raise InvalidInputError(f"{what} must be descriptor files (.npz, .zarr) here")
        counts = [self.counts[name] if name in self.counts else np.unique(
            self[name].column("structure_index"), return_counts=True)[1] for name in self]
        sources = [(name, i) for name, c in zip(self, counts) for i in range(len(c))]
        return np.asarray(data), np.concatenate(counts), sources

    def row_numbers(self):
        """Atomic numbers of every descriptor row of all datasets, joined; None unless
        every dataset is a descriptor file that records them."""
        parts = [self.numbers(name) if name in self._numbers else None for name in self]
        if not parts or any(p is None for p in parts):
            return None
        return np.concatenate(parts)


def read_datasets(specs, index=None, format=None, *, k=None, cutoff=None, species=None,
                  lazy=True, verbose=False):
    """Structure files and descriptor files (``.npz``, ``.zarr``) read into one descriptor
    space.

    ``k``, ``cutoff`` and ``species`` are what the caller asks for (None: not
    asked). A descriptor file must agree with those asked for and lends its own
    to those not asked for, so structure files read alongside it are described
    the same way (``Datasets.settings``). ``index`` selects frames of every file
    (a FILE@SLICE overrides it), rows of a descriptor file by their frame. With
    ``lazy`` a whole ``.zarr`` store inside a dask engine stays on disk (the
    workers read it block by block).

    Returns
    -------
    Datasets (dict name -> structures or descriptors), names unique short file names

    Examples
    --------
    >>> from quests.data import demo_files
    >>> data = read_datasets([demo_files()["cu_crystal"], demo_files()["cu_melt"]])
    >>> list(data), len(data["cu_crystal"]), data.settings["k"]
    (['cu_crystal', 'cu_melt'], 1, 32)
    """
    from quests import _engine

    settings = {"k": k, "cutoff": cutoff, "species": species}
    given = {key for key, value in settings.items() if value is not None}
    data, counts, numbers = {}, {}, {}
    for name, spec in zip(_dataset_names(specs), specs):
        path, idx = split_index(spec, index)
        if Path(path).suffix.lower() not in DESCRIPTOR_SUFFIXES:
            data[name] = read_structures(spec, index=index, format=format, verbose=verbose)
            continue
        if lazy and _engine.active() and Path(path).suffix.lower() == ".zarr" and idx == ":":
            x = DescriptorStore(path)  # read block by block by the dask workers
            meta, frame_of_row, row_numbers = x.metadata, None, x  # numbers read if asked
        else:
            x, meta, frame_of_row, row_numbers = read_descriptors(path, return_numbers=True)
        for key in ("k", "cutoff", "species"):
            stored = meta.get(key)
            if key in given and stored != settings[key]:
                raise InvalidInputError(
                    f"{path} holds descriptors with {key}={stored}, not {settings[key]}")
            settings[key] = stored
            given.add(key)
        if idx != ":":
            frames = np.arange(int(frame_of_row.max()) + 1)[as_slice(idx)]
            selected = np.isin(frame_of_row, frames)
            x, frame_of_row = x[selected], frame_of_row[selected]
            if x.shape[0] == 0:
                raise InvalidInputError(f"{path}: index {idx} selects no frame")
            row_numbers = None if row_numbers is None else row_numbers[selected]
        numbers[name] = row_numbers
        if frame_of_row is not None:
            counts[name] = np.unique(frame_of_row, return_counts=True)[1]
        data[name] = x
    settings["k"] = DEFAULT_K if settings["k"] is None else settings["k"]
    settings["cutoff"] = DEFAULT_CUTOFF if settings["cutoff"] is None else settings["cutoff"]
    return Datasets(data, settings, counts, numbers)
