"""Per-atom classes learnt by a ZENNClassifier on QUESTS descriptors of labelled frames.

A label per atom (a per-atom array of the frames: CNA codes, phases, defect
types), a temperature per frame (an info key) or a source per frame (an
info key, with some sources' temperatures known); features are the QUESTS
descriptors of each atom. Prediction on other frames uses their own
temperature key or, when asked, one temperature per frame inferred from
its atoms' descriptors alone (``ZENNClassifier.infer_temperature``).
"""

from dataclasses import dataclass, field

import numpy as np

from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._text import align_table

__all__ = ["AtomClassification", "atom_labels", "zenn_classify"]


def atom_labels(frames, key, names=None):
    """The per-atom array ``key`` of every frame, joined: (n_atoms_total,).

    Refuses, by the frame's name, a frame without the array or with one value
    per atom missing, and arrays of more than one column.

    Examples
    --------
    >>> from ase import Atoms
    >>> frames = [Atoms("Cu2", positions=[[0, 0, 0], [2, 0, 0]]) for _ in range(2)]
    >>> frames[0].arrays["phase"] = np.array([1, 1]); frames[1].arrays["phase"] = np.array([0, 1])
    >>> atom_labels(frames, "phase").tolist()
    [1, 1, 0, 1]
    >>> atom_labels(frames, "cna", names=["md.xyz frame 0", "md.xyz frame 1"])
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: md.xyz frame 0 has no per-atom array 'cna' (labels)
    """
    out = []
    for i, atoms in enumerate(frames):
        where = names[i] if names is not None else f"frame {i}"
        values = getattr(atoms, "arrays", {}).get(key)
        if values is None:
            raise InvalidInputError(f"{where} has no per-atom array {key!r} (labels)")
        values = np.asarray(values)
        if values.shape != (len(atoms),):
            raise InvalidInputError(f"{where}: the per-atom array {key!r} must hold one label "
                                    f"per atom; got shape {values.shape}")
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise InvalidInputError(f"{where}: the labels {key!r} hold NaN or infinite values")
        out.append(values)
    return np.concatenate(out) if out else np.zeros(0)


def _frame_numbers(frames, key, names, what):
    """info[key] of every frame as floats, refused by name where missing or not a number."""
    from quests.structures import info_values

    values = info_values(frames, key, names, what)
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        raise InvalidInputError(f"the info key {key!r} ({what}) must be a number in every "
                                "frame") from None


def _frame_sources(frames, key, names):
    """info[key] of every frame as integer source ids, refused by name otherwise."""
    values = _frame_numbers(frames, key, names, "source")
    if not np.all(values == np.round(values)):
        raise InvalidInputError(f"the info key {key!r} (source) must be an integer in every "
                                "frame")
    return values.astype(np.int64)


@dataclass
class AtomClassification:
    """Per-atom classes of some frames, and the model that gave them.

    Attributes
    ----------
    labels : list of arrays (n_atoms,), one per frame, values of ``classes``
    probabilities : list of arrays (n_atoms, n_classes)
    temperatures : (n_frames,), K: given (``temperature_key``), learnt (a
        trained source) or inferred from the frame's atoms
    temperature_origin : list of str per frame: 'given', 'source' or 'inferred'
    classes : (n_classes,)
    names : list of str, the frames
    accuracy : (n_frames,) or None: agreement with the frames' own labels, where
        they carry the training label array (read only after prediction)
    model : ZENNClassifier
    trained_on : dict, what the model learnt from (atoms, frames, class counts), or {}

    Examples
    --------
    Made by ``zenn_classify``; one frame of three atoms, two fcc (CNA code 1):

    >>> result = AtomClassification([np.array([1, 1, 5])], [np.full((3, 2), 0.5)],
    ...                             np.array([1500.0]), ["given"], np.array([1, 5]),
    ...                             ["md.xyz frame 0"])
    >>> result.fractions().round(3).tolist()
    [[0.667, 0.333]]
    >>> sorted(result.rows()[0])
    ['fraction_1', 'fraction_5', 'frame', 'temperature', 'temperature_K']
    """

    labels: list
    probabilities: list
    temperatures: np.ndarray
    temperature_origin: list
    classes: np.ndarray
    names: list
    accuracy: np.ndarray = None
    model: object = None
    trained_on: dict = field(default_factory=dict)

    def fractions(self):
        """(n_frames, n_classes): fraction of each frame's atoms in each class."""
        return np.array([[float(np.mean(lab == c)) for c in self.classes]
                         for lab in self.labels]).reshape(len(self.labels), self.classes.size)

    def rows(self):
        """One dict per frame: name, temperature, its origin, class fractions, accuracy."""
        out, fractions = [], self.fractions()
        for i, name in enumerate(self.names):
            row = {"frame": name, "temperature_K": float(self.temperatures[i]),
                   "temperature": self.temperature_origin[i]}
            row.update({f"fraction_{c}": float(f) for c, f in zip(self.classes, fractions[i])})
            if self.accuracy is not None:
                row["accuracy"] = float(self.accuracy[i])
            out.append(row)
        return out

    def to_dict(self):
        from quests.io import to_jsonable

        return to_jsonable({"classes": self.classes.tolist(), "trained_on": self.trained_on,
                            "frames": self.rows()})

    def summary(self):
        lines = []
        if self.trained_on:
            t = self.trained_on
            lines.append(f"trained on {t['atoms']} atoms of {t['frames']} frames "
                         f"({', '.join(f'{c}: {n}' for c, n in t['class_counts'].items())}); "
                         f"{t['temperatures']}")
        header = ["frame", "T (K)", "T from"] + [f"{c}" for c in self.classes]
        if self.accuracy is not None:
            header.append("accuracy")
        body = []
        for row in self.rows():
            cells = [row["frame"], f"{row['temperature_K']:.1f}", row["temperature"]]
            cells += [f"{row[f'fraction_{c}']:.3f}" for c in self.classes]
            if self.accuracy is not None:
                cells.append(f"{row['accuracy']:.3f}")
            body.append(cells)
        lines.append("fraction of each frame's atoms per class:")
        lines.append(align_table(header, body))
        if self.accuracy is not None:
            sizes = np.array([lab.size for lab in self.labels])
            overall = float((self.accuracy * sizes).sum() / sizes.sum())
            lines.append(f"agreement with the frames' own labels: {overall:.4f} of "
                         f"{int(sizes.sum())} atoms")
        return "\n".join(lines)


def _fit(frames, names, label_key, temperature_key, source_key, source_temperatures, k, cutoff,
         species, classifier, n_jobs, verbose):
    from quests.descriptor import compute_descriptors, resolve_species, structure_species
    from quests.zenn._classifier import ZENNClassifier

    # 'all' made concrete now: the frames to classify must get the same descriptor blocks
    species = resolve_species(species, frames)
    if (temperature_key is None) == (source_key is None):
        raise InvalidInputError("give a temperature key or a source key (exactly one) for "
                                "the training frames")
    if source_temperatures and source_key is None:
        raise InvalidInputError("source temperatures go with a source key, not with a "
                                "temperature key")
    y = atom_labels(frames, label_key, names)
    sizes = np.array([len(a) for a in frames])
    x = compute_descriptors(frames, k, cutoff, species=species, n_jobs=n_jobs, verbose=verbose)
    model = ZENNClassifier(**{"verbose": verbose, **(classifier or {})})
    if temperature_key is not None:
        t = _frame_numbers(frames, temperature_key, names, "temperature")
        model.fit(x, y, temperature=np.repeat(t, sizes))
        temps = f"T {t.min():.0f}-{t.max():.0f} K from {temperature_key!r}"
    else:
        s = _frame_sources(frames, source_key, names)
        model.fit(x, y, sources=np.repeat(s, sizes), source_temperatures=source_temperatures)
        temps = "source temperatures " + ", ".join(
            f"{s}: {t:.0f} K" for s, t in model.source_temperatures_.items())
    counts = {str(c): int(n) for c, n in zip(*np.unique(y, return_counts=True))}
    model.metadata_ = {"k": k, "cutoff": cutoff, "species": species, "label_key": label_key,
                       "temperature_key": temperature_key, "source_key": source_key,
                       "training_species": structure_species(frames)}
    return model, {"atoms": int(y.size), "frames": len(frames), "class_counts": counts,
                   "temperatures": temps}


def zenn_classify(frames, *, training=None, model=None, label_key=None, temperature_key=None,
                  source_key=None, source_temperatures=None, infer_temperature=False,
                  k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, species=None, classifier=None,
                  names=None, training_names=None, n_jobs=None, verbose=False):
    """Classify every atom of ``frames`` with a ZENNClassifier on QUESTS descriptors.

    Parameters
    ----------
    frames : sequence of ase.Atoms, the frames to classify
    training : sequence of ase.Atoms, optional
        Labelled frames to train on (or give ``model``).
    model : ZENNClassifier, optional
        A trained model whose ``metadata_`` holds its descriptor settings and
        keys (as written by this function and ``ZENNClassifier.save``).
    label_key : str
        Per-atom array of the training frames with the classes.
    temperature_key, source_key : str
        Info key with each training frame's temperature (K) or source (an
        integer); with sources, ``source_temperatures`` {source: T} gives at
        least two known ones.
    infer_temperature : bool, default=False
        Infer every classified frame's temperature from its atoms' descriptors
        (one per frame) instead of reading it. Otherwise a model trained on
        temperatures reads ``temperature_key`` from each frame, and a model
        trained on sources reads each frame's source: a trained source gives
        its learnt temperature, any other source an inferred one.
    k, cutoff, species : descriptor settings (training only; a model keeps its own)
    classifier : dict of ZENNClassifier parameters
    names, training_names : labels of the frames in messages and tables

    Returns
    -------
    AtomClassification

    Examples
    --------
    Solid and liquid copper at 1200 and 1300 K, atoms labelled by the CNA of the
    minimised frames (``cna_min``: 1 fcc, 2 hcp, 5 other); trained briefly on
    eight frames, applied to four others:

    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> frames = ase.io.read(trajectory_files()["cu_coexist_phases"], ":")
    >>> cold = [a for a in frames if a.info["target_K"] in (1200.0, 1300.0)]
    >>> result = zenn_classify(cold[1::8], training=cold[0::4], label_key="cna_min",
    ...                        temperature_key="target_K", k=12,
    ...                        classifier={"hidden": (8,), "max_iter": 50, "random_state": 0})
    >>> result.classes.tolist(), result.labels[0].shape, result.temperature_origin
    ([1, 2, 4, 5], (256,), ['given', 'given', 'given', 'given'])
    >>> bool(result.accuracy.mean() > 0.7)  # agreement with the frames' own cna_min
    True
    """
    from quests.descriptor import compute_descriptors

    if (training is None) == (model is None):
        raise InvalidInputError("give training frames or a trained model (exactly one)")
    frames = list(frames)
    if not frames:
        raise InvalidInputError("no frames to classify")
    names = names or [f"frame {i}" for i in range(len(frames))]
    trained_on = {}
    if training is not None:
        training = list(training)
        if not training:
            raise InvalidInputError("no training frames")
        if label_key is None:
            raise InvalidInputError("give the per-atom label array of the training frames")
        model, trained_on = _fit(training, training_names or
                                 [f"training frame {i}" for i in range(len(training))],
                                 label_key, temperature_key, source_key, source_temperatures,
                                 k, cutoff, species, classifier, n_jobs, verbose)
    meta = getattr(model, "metadata_", None) or {}
    if "k" not in meta:
        raise InvalidInputError("this model does not say which descriptors it was trained on "
                                "(train it with zenn_classify or `quests zenn classify`)")
    if "training_species" in meta:
        from quests.structures import check_known_species

        for atoms, name in zip(frames, names):
            check_known_species(atoms.numbers, meta["training_species"], name,
                                "the training frames")
    x = compute_descriptors(frames, meta["k"], meta["cutoff"], species=meta["species"],
                            n_jobs=n_jobs, verbose=verbose)
    sizes = np.array([len(a) for a in frames])
    frame_of_atom = np.repeat(np.arange(len(frames)), sizes)
    if meta["source_key"] is not None and not infer_temperature:
        known = getattr(model, "source_temperatures_", {})
        own = _frame_sources(frames, meta["source_key"], names).tolist()
        origin = ["source" if s in known else "inferred" for s in own]
        t = np.array([known.get(s, np.nan) for s in own], dtype=float)
    elif infer_temperature:
        t, origin = np.full(len(frames), np.nan), ["inferred"] * len(frames)
    else:
        t = _frame_numbers(frames, meta["temperature_key"], names,
                           "temperature; or infer it from the atoms")
        origin = ["given"] * len(frames)
    missing = np.isnan(t)
    if missing.any():
        rows = np.isin(frame_of_atom, np.flatnonzero(missing))
        inferred = model.infer_temperature(x[rows], sources=frame_of_atom[rows])
        # one value per frame: the atoms of a frame are consecutive, take its first
        firsts = np.r_[0, np.cumsum(sizes[missing])[:-1]]
        t[missing] = inferred[firsts]
    p = model.predict_proba(x, temperature=np.repeat(t, sizes))
    labels = model.classes_[p.argmax(axis=1)]
    splits = np.cumsum(sizes)[:-1]
    accuracy = None
    if all(meta["label_key"] in getattr(a, "arrays", {}) for a in frames):
        truth = atom_labels(frames, meta["label_key"], names)
        accuracy = np.array([float(np.mean(a == b)) for a, b in
                             zip(np.split(labels, splits), np.split(truth, splits))])
    return AtomClassification(np.split(labels, splits), np.split(p, splits), t, origin,
                              model.classes_, names, accuracy, model, trained_on)
