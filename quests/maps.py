"""A map of a dataset: its structures (or environments) on a plane, with what QUESTS
knows about each, for the chemiscope viewer.

``dataset_map(structures)`` places every structure at the 2-D projection (PCA,
or UMAP where ``umap-learn`` is installed) of its mean descriptor, and gives
each the numbers a user colours a map by: its own entropy H (nats), the max
dH of its atoms against the rest of the dataset (or against a reference), its
energy per atom, and its info keys (``config_type``, ``group``). Every atom of
a shown structure carries its dH, so the viewer's 3-D panel colours the atoms
by novelty. With ``environments=True`` the points are atoms, projected from
their own descriptors.

Large datasets are thinned for display by the package's coverage compression
(``quests.compression.select_structures``, method ``coverage``), never at
random: what is shown covers the dataset's environments and regions, and the
map says how many of how many are shown.

``DatasetMap.to_chemiscope()`` gives the chemiscope input; ``quests.io.write_map``
writes it as a standalone HTML page (the viewer's JavaScript inlined from the
``chemiscope`` package: it opens offline) or as ``.json.gz`` for the chemiscope
website and Jupyter widget.
"""

from dataclasses import dataclass, field

import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError

#: projections of the descriptors onto the map's plane
PROJECTIONS = ("pca", "umap")
#: the points shown at most, by default (chemiscope stays responsive to about this)
DEFAULT_MAX_POINTS = 5000


@dataclass
class DatasetMap:
    """What ``dataset_map`` measured, ready for a viewer.

    Attributes
    ----------
    structures : list of ase.Atoms
        The structures shown, in input order.
    shown : ndarray (n_shown,) int
        Their positions in the input.
    coordinates : ndarray (n_points, 2)
        The map: one row per structure shown, or per environment shown.
    target : {'structure', 'atom'}
    environments : ndarray (n_environments_shown, 2) int or None
        (position in ``structures``, atom index) of each atom point (target 'atom'),
        else None (every atom of every shown structure carries atom properties).
    structure_properties : dict name -> dict(values, units, description)
        One value per shown structure.
    atom_properties : dict name -> dict(values, units, description)
        One value per environment shown (all atoms of the shown structures for
        target 'structure').
    projection : str
        How the plane was made ("PCA, 71.2 % of the variance", "UMAP").
    note : str
        How many points of how many are shown, and how they were chosen.
    settings : dict
        The descriptor settings and bandwidth.
    axes : (str, str)
        Names of the map's axes ("PC1", "PC2" or "UMAP1", "UMAP2").
    """

    structures: list
    shown: np.ndarray
    coordinates: np.ndarray
    target: str
    environments: object
    structure_properties: dict
    atom_properties: dict
    projection: str
    note: str
    settings: dict = field(default_factory=dict)
    axes: tuple = ("PC1", "PC2")

    def summary(self):
        """Two lines: what the map shows, and how."""
        return f"{self.note}\nprojection: {self.projection}"

    def to_chemiscope(self, name="quests dataset map", color=None):
        """The chemiscope input (a dict of plain JSON values) of this map: the map coloured
        by ``color`` (a property name; default the max dH against the rest), the
        structure panel's atoms by their dH."""
        from quests._optional import require

        chemiscope = require("chemiscope", "quests map", "map")
        x_name, y_name = self.axes
        properties = {name: {"target": self.target, "values": self.coordinates[:, axis],
                             "description": self.projection}
                      for axis, name in enumerate(self.axes)}
        atom_target = self.target == "atom"
        if not atom_target:  # atom maps carry their structure's values per atom
            properties.update({key: {"target": "structure", **entry}
                               for key, entry in self.structure_properties.items()})
        properties.update({key: {"target": "atom", **entry}
                           for key, entry in self.atom_properties.items()})
        available = [k for k in properties if k not in self.axes]
        if color is None:  # the novelty of what a point is: a structure's most novel atom
            color = "dH (rest)" if atom_target else "max dH (rest)"
        if color not in available:
            raise InvalidInputError(f"cannot colour by {color!r}: the map has "
                                    + ", ".join(repr(k) for k in available))
        atom_color = next((k for k in ("dH (reference)", "dH (rest)")
                           if k in self.atom_properties), None)
        # (structure, atom, radius in Å of the neighbourhood the viewer highlights)
        if self.environments is None:
            environments = [(s, a, 3.5) for s, atoms in enumerate(self.structures)
                            for a in range(len(atoms))]
        else:
            environments = [(int(s), int(a), 3.5) for s, a in self.environments]
        # the cell is drawn, not replicated: a 3x3x3 supercell of 100-atom cells slows the
        # viewer to a crawl
        settings = chemiscope.quick_settings(
            x=x_name, y=y_name, map_color=color, structure_color=atom_color,
            target=self.target, structure_settings={"unitCell": True})
        data = chemiscope.create_input(
            structures=self.structures, properties=properties, environments=environments,
            settings=settings,
            metadata={"name": name, "description": f"{self.note}. Projection: "
                      f"{self.projection}. Made by quests."})
        from quests.io import to_jsonable

        return to_jsonable(data)


def _entry(values, units, description):
    """A property: its values, and units (left out where it has none: the viewer would
    label the axis "name /") and description."""
    return {"values": values, **({"units": units} if units else {}),
            "description": description}


def rest_differential_entropy(X, counts, structures_wanted, bandwidth=DEFAULT_BANDWIDTH,
                              n_jobs=None):
    """dH of every atom of the wanted structures against all the other structures.

    dH(x | X without x's structure) = -ln(sum over the rows before x's structure of K
    + sum over the rows after it), each a log-sum-exp: exact however novel x is, and
    nothing of X copied (the leave-one-structure-out form of
    ``quests.kde.select_bandwidth``).

    Parameters
    ----------
    X : ndarray (n_environments, n_features)
    counts : ndarray (n_structures,) int
    structures_wanted : ndarray (n_wanted,) int

    Returns a list of arrays, one per wanted structure: dH of its atoms, nats (inf for
    a dataset of one structure).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.0], [0.01]])  # two structures: 2 atoms, then 1
    >>> [d.round(3).tolist() for d in rest_differential_entropy(X, np.array([2, 1]),
    ...                                                         np.array([0, 1]))]
    [[0.222, 0.222], [-0.471]]
    """
    from quests.kde import KernelSums

    offsets = np.concatenate([[0], np.cumsum(counts)])
    sums = KernelSums(X, bandwidth, n_jobs=n_jobs)  # validated and centred once
    out = []
    for s in np.asarray(structures_wanted, dtype=int):
        start, stop = offsets[s], offsets[s + 1]
        own = sums.X_[start:stop]
        out.append(-np.logaddexp(sums.log_sums(own, sums.X_[:start]),
                                 sums.log_sums(own, sums.X_[stop:])))
    return out


def project(points, projection="pca", seed=0, fit_on=None):
    """2-D coordinates of ``points`` (n, n_features) and a description of the projection.

    ``fit_on`` (m, n_features): the rows the projection is learnt from (default the
    points themselves). PCA is scikit-learn's; UMAP needs ``umap-learn``.

    Examples
    --------
    >>> import numpy as np
    >>> xy, how = project(np.random.default_rng(0).normal(size=(50, 4)) * [5, 1, 1, 1])
    >>> xy.shape, how.startswith("PCA")
    ((50, 2), True)
    """
    if projection not in PROJECTIONS:
        raise InvalidInputError(f"projection must be one of {', '.join(PROJECTIONS)}; "
                                f"got {projection!r}")
    fit_on = points if fit_on is None else fit_on
    if projection == "umap":
        from quests._optional import require

        umap = require("umap", "--projection umap", "map", note=" and pip install umap-learn")
        reducer = umap.UMAP(n_components=2, random_state=seed,
                            n_neighbors=min(15, max(2, len(fit_on) - 1)))
        reducer.fit(fit_on)
        return np.asarray(reducer.transform(points)), "UMAP of the descriptors"
    from sklearn.decomposition import PCA

    n = min(2, fit_on.shape[0], fit_on.shape[1])
    pca = PCA(n_components=n).fit(fit_on)
    xy = np.zeros((points.shape[0], 2))
    xy[:, :n] = pca.transform(points)
    share = 100 * float(np.sum(pca.explained_variance_ratio_)) if n else 0.0
    return xy, f"PCA of the descriptors, {share:.1f} % of their variance"


def _info_properties(structures):
    """Info keys every structure has with a number or a string: one property each."""
    import numbers

    keys = set.intersection(*(set(a.info) for a in structures)) if structures else set()
    out = {}
    for key in sorted(keys):
        values = [a.info[key] for a in structures]
        if all(isinstance(v, str) for v in values):
            out[key] = _entry(values, "", f"info key {key}")
        elif all(isinstance(v, (numbers.Real, np.number)) and not isinstance(v, bool)
                 for v in values):
            out[key] = _entry(np.asarray(values, dtype=float), "", f"info key {key}")
    return out


def _energies_per_atom(structures):
    values = []
    for atoms in structures:
        try:
            values.append(float(atoms.get_potential_energy()) / len(atoms))
        except Exception:  # noqa: BLE001 - no calculator, or one without an energy
            return None
    return np.asarray(values)


def dataset_map(structures, *, reference=None, projection="pca", environments=False,
                max_points=DEFAULT_MAX_POINTS, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF,
                species=None, bandwidth=DEFAULT_BANDWIDTH, seed=0, n_jobs=None,
                verbose=False):
    """Map a dataset of structures: 2-D positions and the QUESTS numbers of each.

    Parameters
    ----------
    structures : list of ase.Atoms
    reference : list of ase.Atoms or None
        Also the dH of every atom against it (``dH (reference)``), and each
        structure's max (``max dH (reference)``).
    projection : {'pca', 'umap'}
        PCA of mean descriptors (structures) or descriptors (environments).
    environments : bool
        One point per atom instead of per structure.
    max_points : int
        Points shown at most; beyond, chosen by coverage compression.
    k, cutoff, species : descriptor settings (``compute_descriptors``)
    bandwidth : float
        h, 1/Å.

    Returns
    -------
    DatasetMap
        Structure properties: ``atoms``, ``entropy`` (H of the structure's own
        environments, nats), ``max dH (rest)`` (nats, against every other
        structure), ``max dH (reference)``, ``energy per atom`` (eV, where every
        structure has one) and the info keys all structures share. Atom
        properties: ``dH (rest)`` and ``dH (reference)``.

    Examples
    --------
    >>> from quests.data import mixed_cu_dataset
    >>> data = mixed_cu_dataset(n_crystal=3, n_rattled=2, n_surface=1, n_melt=1)
    >>> m = dataset_map(data)
    >>> m.coordinates.shape, sorted(m.structure_properties)[:3]
    ((7, 2), ['atoms', 'entropy', 'kind'])
    >>> m.note
    'all 7 structures shown'
    """
    from quests.compression import describe_structures, mean_descriptors, select_structures
    from quests.kde import dataset_entropy, differential_entropy

    if projection not in PROJECTIONS:
        raise InvalidInputError(f"projection must be one of {', '.join(PROJECTIONS)}; "
                                f"got {projection!r}")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) \
            or max_points < 2:
        raise InvalidInputError(f"max_points must be an integer >= 2; got {max_points!r}")
    structures = list(structures)
    if len(structures) < 2:
        raise InvalidInputError(f"a map needs at least 2 structures (their dH against the "
                                f"rest); got {len(structures)}")
    X, counts, ref, species = describe_structures(structures, reference, k=k, cutoff=cutoff,
                                                  species=species, n_jobs=n_jobs,
                                                  verbose=verbose)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n_structures, n_rows = len(counts), int(offsets[-1])
    owner = np.repeat(np.arange(n_structures), counts)
    settings = {"k": k, "cutoff": cutoff, "species": species, "bandwidth": bandwidth}

    def thinned(counts_of_points, what):
        """The points shown (sorted) and what the map says about them."""
        n = len(counts_of_points)
        if n <= max_points:
            return np.arange(n), f"all {n} {what} shown"
        chosen = select_structures(X, counts_of_points, int(max_points), "coverage",
                                   bandwidth=bandwidth, seed=seed, n_jobs=n_jobs)
        return np.sort(chosen.indices), (f"{int(max_points)} of {n} {what} shown, chosen by "
                                         "coverage compression (not at random)")

    if not environments:
        shown, note = thinned(counts, "structures")
        means = mean_descriptors(X, counts)
        coordinates, how = project(means[shown], projection, seed, fit_on=means)
        point_environments = None
    else:  # every environment a point of its own: groups of one row
        atom_rows, note = thinned(np.ones(n_rows, dtype=int), "environments")
        shown = np.unique(owner[atom_rows])
        coordinates, how = project(X[atom_rows], projection, seed, fit_on=X)
        position = np.searchsorted(shown, owner[atom_rows])
        point_environments = np.stack([position, atom_rows - offsets[owner[atom_rows]]], 1)
    shown_structures = [structures[i] for i in shown]

    rest = rest_differential_entropy(X, counts, shown, bandwidth, n_jobs=n_jobs)
    own_entropy = [dataset_entropy(X[offsets[s]:offsets[s + 1]], bandwidth).entropy
                   for s in shown]
    structure_properties = {
        "atoms": _entry(counts[shown].astype(float), "", "atoms in the structure"),
        "entropy": _entry(np.asarray(own_entropy), "nats",
                          "H of the structure's own environments"),
        "max dH (rest)": _entry(np.array([d.max() for d in rest]), "nats",
                                "largest dH of its atoms against every other structure"),
    }
    dh_rest = np.concatenate(rest)  # atoms of the shown structures, in order
    atom_properties = {}
    # every atom of the shown structures, in order; ``local`` where each structure begins
    local = np.concatenate([[0], np.cumsum(counts[shown])])
    if ref is not None:
        shown_rows = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in shown])
        dh_ref = differential_entropy(X[shown_rows], ref, bandwidth, n_jobs=n_jobs)
        structure_properties["max dH (reference)"] = _entry(
            np.maximum.reduceat(dh_ref, local[:-1]), "nats",
            "largest dH of its atoms against the reference")
    energies = _energies_per_atom(shown_structures)
    if energies is not None:
        structure_properties["energy per atom"] = _entry(energies, "eV", "energy / atoms")
    structure_properties.update(_info_properties(shown_structures))

    # atom properties: every atom of the shown structures, or the atoms shown
    if point_environments is None:
        pick = slice(None)
    else:
        pick = local[point_environments[:, 0]] + point_environments[:, 1]
    atom_properties["dH (rest)"] = _entry(dh_rest[pick], "nats",
                                          "dH against every other structure")
    if ref is not None:
        atom_properties["dH (reference)"] = _entry(dh_ref[pick], "nats",
                                                   "dH against the reference")
    if point_environments is not None:
        for key, entry in structure_properties.items():
            values = entry["values"]
            atom_properties.setdefault(key, _entry(
                [values[i] for i in point_environments[:, 0]] if isinstance(values, list)
                else np.asarray(values)[point_environments[:, 0]], entry.get("units", ""),
                entry["description"] + " (of the atom's structure)"))
    axes = ("UMAP1", "UMAP2") if projection == "umap" else ("PC1", "PC2")
    return DatasetMap(shown_structures, shown, coordinates, "atom" if environments
                      else "structure", point_environments, structure_properties,
                      atom_properties, how, note, settings, axes)
