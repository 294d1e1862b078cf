"""How entropy grows with data: learning curves, the information gap, active learning.

``learning_curve`` measures H on random subsets of increasing size (several
seeds each) and fits H(n) = a - b exp(-c (ln n)^2); a is the entropy the
data would reach with unlimited sampling of the same distribution, and
a - H(N) is the information gap of the full set (QUESTS, Schwalbe-Koda et
al. 2025). ``active_learning`` follows a training set generation by
generation: what each generation added (novelty, gains in H and D), and
which added nothing.
"""

import numbers
from dataclasses import dataclass, field

import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._progress import progress_bar
from quests._text import align_table
from quests._validation import CUTOFF, N_JOBS, NEIGHBORS, SCALAR_BANDWIDTH, Interval, \
    Options, check_descriptors, check_grouped_descriptors, validate_params

__all__ = [
    "GapFit",
    "LearningCurve",
    "ActiveLearning",
    "information_gap_model",
    "fit_information_gap",
    "learning_curve_sizes",
    "learning_curve",
    "active_learning",
    "split_generations",
]


def information_gap_model(n, a, b, c):
    """H(n) = a - b exp(-c (ln n)^2), nats; n > 0 (structures or environments).

    Examples
    --------
    H starts at a - b for one sample and levels off at a:

    >>> information_gap_model([1, 10, 1e3, 1e6], a=7.0, b=6.5, c=0.08).round(3).tolist()
    [0.5, 2.747, 6.857, 7.0]
    """
    log_n = np.log(np.asarray(n, dtype=np.float64))
    return a - b * np.exp(-c * log_n * log_n)


@dataclass(frozen=True)
class GapFit:
    """Least-squares fit of ``information_gap_model``.

    Attributes
    ----------
    a, b, c : float
        a is the extrapolated maximum entropy (nats); a - b the entropy at n = 1.
    a_error, b_error, c_error : float
        One-sigma uncertainties from the fit covariance.
    covariance : ndarray of shape (3, 3)
    rms_residual : float
        Root-mean-square residual of the fitted points, nats.

    Examples
    --------
    Made by ``fit_information_gap``; ``predict`` evaluates the fitted curve:

    >>> import numpy as np
    >>> n = np.geomspace(1, 1e5, 12)
    >>> fit = fit_information_gap(n, information_gap_model(n, 7.0, 6.5, 0.08))
    >>> fit.predict([1, 100, 1e5]).round(3).tolist()
    [0.5, 5.809, 7.0]
    >>> bool(fit.a_error < 1e-6 and fit.rms_residual < 1e-6)
    True
    """

    a: float
    b: float
    c: float
    a_error: float
    b_error: float
    c_error: float
    covariance: np.ndarray
    rms_residual: float

    def predict(self, n):
        return information_gap_model(n, self.a, self.b, self.c)


def fit_information_gap(sizes, entropies, errors=None):
    """Fit H(n) = a - b exp(-c (ln n)^2) to entropies measured at sizes n.

    Parameters
    ----------
    sizes : array-like of shape (n_points,)
        Subset sizes, > 0; at least 4 distinct ones.
    entropies : array-like of shape (n_points,)
        H at each size, nats.
    errors : array-like of shape (n_points,) or None
        One-sigma errors of the entropies; None weighs all points equally.
        Errors below 1e-3 nats are raised to it (a point measured once,
        such as the full set, is not infinitely precise).

    Returns
    -------
    GapFit

    Examples
    --------
    >>> import numpy as np
    >>> n = np.geomspace(1, 1e5, 12)
    >>> fit = fit_information_gap(n, information_gap_model(n, 7.0, 6.5, 0.08))
    >>> round(fit.a, 6), round(fit.b, 6), round(fit.c, 6)
    (7.0, 6.5, 0.08)
    """
    from scipy.optimize import curve_fit

    n = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(entropies, dtype=np.float64)
    if n.ndim != 1 or n.shape != y.shape:
        raise InvalidInputError(
            f"sizes and entropies must be 1-D of equal length; got {n.shape} and {y.shape}")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(y))) or (n <= 0).any():
        raise InvalidInputError("sizes must be positive and entropies finite")
    if np.unique(n).shape[0] < 4:
        raise InvalidInputError(
            f"the fit of a, b, c needs at least 4 distinct sizes; got {np.unique(n).shape[0]}")
    sigma = None
    if errors is not None:
        sigma = np.maximum(np.asarray(errors, dtype=np.float64), 1e-3)
    log2 = np.log(n) ** 2
    # c sets where the curve turns; scan it on a log grid for a start that
    # converges, with a and b from linear least squares at each c
    best = None
    for c0 in np.geomspace(1e-4, 10.0, 41):
        design = np.column_stack([np.ones_like(n), -np.exp(-c0 * log2)])
        w = 1.0 if sigma is None else 1.0 / sigma
        (a0, b0), *_ = np.linalg.lstsq(design * np.reshape(w, (-1, 1)), y * w, rcond=None)
        sse = np.sum(((design @ [a0, b0]) - y) ** 2 * w ** 2)
        if best is None or sse < best[0]:
            best = (sse, a0, max(b0, 0.0), c0)
    _, a0, b0, c0 = best
    try:
        params, cov = curve_fit(information_gap_model, n, y, p0=(a0, b0, c0), sigma=sigma,
                                absolute_sigma=sigma is not None,
                                bounds=([-np.inf, 0.0, 0.0], [np.inf, np.inf, np.inf]),
                                maxfev=20000)
    except RuntimeError as exc:
        raise InvalidInputError(f"the learning-curve fit did not converge: {exc}") from None
    errs = np.sqrt(np.clip(np.diag(cov), 0.0, np.inf))
    errs = np.where(np.isfinite(errs), errs, np.inf)
    rms = float(np.sqrt(np.mean((information_gap_model(n, *params) - y) ** 2)))
    return GapFit(float(params[0]), float(params[1]), float(params[2]), float(errs[0]),
                  float(errs[1]), float(errs[2]), cov, rms)


def learning_curve_sizes(n_total, n_sizes=8, smallest=1):
    """Geometrically spaced subset sizes from ``smallest`` up to ``n_total`` (included).

    Examples
    --------
    >>> learning_curve_sizes(100, 5).tolist()
    [1, 3, 10, 32, 100]
    """
    if n_total < 1:
        raise InvalidInputError("the dataset is empty")
    smallest = max(1, min(smallest, n_total))
    sizes = np.unique(np.round(np.geomspace(smallest, n_total, n_sizes)).astype(np.int64))
    return sizes


@dataclass
class LearningCurve:
    """Entropy of random subsets against their size, and the information gap.

    Attributes
    ----------
    unit : {'structures', 'environments'}
        What a subset size counts.
    sizes : ndarray of shape (n_sizes,) int
    n_environments : ndarray of shape (n_sizes, n_seeds) int
    entropies : ndarray of shape (n_sizes, n_seeds)
        H of each subset, nats (the full set, drawn once, fills its row).
    mean, std : ndarray of shape (n_sizes,)
        Mean and standard deviation over seeds, nats.
    full_entropy : float
        H of the whole dataset, nats.
    fit : GapFit or None
        None when fewer than 4 distinct sizes were measured.
    gap, gap_error : float or None
        a - H(N) and its one-sigma error, nats.
    parameters : dict

    Examples
    --------
    Made by ``learning_curve``: 400 environments nearly saturate their entropy.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(scale=0.02, size=(400, 3))
    >>> curve = learning_curve(X, n_sizes=6, n_seeds=3)
    >>> curve.unit, curve.sizes.tolist(), curve.entropies.shape
    ('environments', [10, 21, 44, 91, 191, 400], (6, 3))
    >>> round(curve.full_entropy, 3), round(curve.fit.a, 3), round(curve.gap, 3)
    (2.392, 2.4, 0.008)
    >>> print(curve.summary().splitlines()[-1])
    H(N) = 2.3921 nats; information gap a - H(N) = 0.0077 ± 0.0069 nats
    """

    unit: str
    sizes: np.ndarray
    n_environments: np.ndarray
    entropies: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    full_entropy: float
    fit: object = None
    gap: object = None
    gap_error: object = None
    parameters: dict = field(default_factory=dict)

    def rows(self):
        """One dict per size: the size (keyed by ``unit``), mean environments, H mean, std."""
        return [{self.unit: int(n), "n_environments": float(np.mean(e)), "H_mean": m,
                 "H_std": s}
                for n, e, m, s in zip(self.sizes, self.n_environments, self.mean, self.std)]

    def summary(self):
        """What ``quests learning-curve`` prints: the table, the fit and the gap."""
        table = [(str(n), f"{int(np.mean(e))}", f"{m:.4f}", f"{s:.4f}")
                 for n, e, m, s in zip(self.sizes, self.n_environments, self.mean, self.std)]
        lines = [align_table((self.unit, "environments", "H mean (nats)", "H std"), table), ""]
        fit = self.fit
        if fit is None:
            return "\n".join(lines + ["fewer than 4 sizes: no fit"])
        lines += [f"fit H(n) = a - b exp(-c (ln n)^2): a = {fit.a:.4f} ± {fit.a_error:.4f}, "
                  f"b = {fit.b:.4f} ± {fit.b_error:.4f}, c = {fit.c:.5f} ± {fit.c_error:.5f} "
                  f"(rms residual {fit.rms_residual:.4f})",
                  f"H(N) = {self.full_entropy:.4f} nats; information gap a - H(N) = "
                  f"{self.gap:.4f} ± {self.gap_error:.4f} nats"]
        if fit.b <= fit.b_error:
            lines.append("the curve is flat within its errors (b ~ 0, c undetermined): even "
                         "the smallest subsets hold all the entropy the data show")
        return "\n".join(lines)

    def to_dict(self):
        """The result as a plain dict (``quests.io.write_json`` makes it strict JSON)."""
        out = {name: getattr(self, name) for name in
               ("parameters", "unit", "sizes", "n_environments", "entropies", "mean", "std",
                "full_entropy", "gap", "gap_error")}
        if self.fit is not None:
            out["fit"] = {name: getattr(self.fit, name) for name in
                          ("a", "b", "c", "a_error", "b_error", "c_error", "rms_residual")}
            out["max_entropy"] = self.fit.a
        return out


@validate_params({"bandwidth": SCALAR_BANDWIDTH, "n_seeds": Interval(numbers.Integral, 1, None),
                  "n_sizes": Interval(numbers.Integral, 2, None),
                  "seed": Interval(numbers.Integral, 0, None),
                  "method": Options("auto", "exact", "approx"), "n_jobs": N_JOBS})
def learning_curve(X, counts=None, sizes=None, *, n_sizes=8, n_seeds=5,
                   bandwidth=DEFAULT_BANDWIDTH, method="auto", seed=0, n_jobs=None,
                   verbose=False):
    """Entropy of random subsets of X at several sizes, fitted for the information gap.

    Parameters
    ----------
    X : array-like of shape (n_environments, n_features)
    counts : array-like of shape (n_structures,) int or None
        Environments per structure (rows of X in structure order): subsets
        are then drawn as whole structures and sizes count structures. None
        draws single environments.
    sizes : array-like of int or None
        Subset sizes; None gives ``n_sizes`` geometrically spaced sizes
        from 1 structure (10 environments) to the whole set.
    n_sizes : int, default=8
    n_seeds : int, default=5
        Random subsets per size (the whole set is measured once).
    bandwidth : float, default=0.015
    method : {'auto', 'exact', 'approx'}, default='auto'
        How each H is computed (see ``quests.kde.dataset_entropy``).
    seed : int, default=0
    n_jobs : int or None, default=None
    verbose : bool, default=False

    Returns
    -------
    LearningCurve

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(scale=0.02, size=(400, 3))
    >>> curve = learning_curve(X, n_sizes=6, n_seeds=3)
    >>> curve.sizes.tolist(), bool(curve.mean[-1] > curve.mean[0])
    ([10, 21, 44, 91, 191, 400], True)
    """
    from quests.descriptor import structure_offsets
    from quests.kde import dataset_entropy

    if counts is None:
        X = check_descriptors(X, "X")
        unit, counts_arr = "environments", np.ones(X.shape[0], dtype=np.int64)
    else:
        X, counts_arr = check_grouped_descriptors(X, counts)
        unit = "structures"
    n_total = counts_arr.shape[0]
    if sizes is None:
        sizes = learning_curve_sizes(n_total, n_sizes, 10 if unit == "environments" else 1)
    sizes = np.unique(np.asarray(sizes, dtype=np.int64))
    if sizes.min() < 1 or sizes.max() > n_total:
        raise InvalidInputError(f"learning-curve sizes must lie in [1, {n_total}] {unit}")
    offsets = structure_offsets(counts_arr)
    rng = np.random.default_rng(seed)
    entropies = np.empty((sizes.shape[0], n_seeds))
    n_env = np.empty((sizes.shape[0], n_seeds), dtype=np.int64)
    with progress_bar(int(sizes.shape[0] * n_seeds), "learning curve", verbose,
                      unit="subset") as bar:
        for i, size in enumerate(sizes):
            for j in range(n_seeds):
                if size == n_total and j > 0:
                    entropies[i, j], n_env[i, j] = entropies[i, 0], n_env[i, 0]
                    bar.update()
                    continue
                chosen = np.sort(rng.choice(n_total, size=size, replace=False))
                rows = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in chosen])
                result = dataset_entropy(X[rows], bandwidth, method=method, seed=seed,
                                         n_jobs=n_jobs)
                entropies[i, j], n_env[i, j] = result.entropy, rows.shape[0]
                bar.update()
    mean = entropies.mean(axis=1)
    std = entropies.std(axis=1, ddof=1) if n_seeds > 1 else np.zeros(sizes.shape[0])
    full = float(mean[-1]) if sizes[-1] == n_total else float(
        dataset_entropy(X, bandwidth, method=method, seed=seed, n_jobs=n_jobs).entropy)
    fit = gap = gap_error = None
    if sizes.shape[0] >= 4:
        fit = fit_information_gap(sizes, mean, std / np.sqrt(n_seeds) if n_seeds > 1 else None)
        gap = fit.a - full
        gap_error = fit.a_error
    parameters = {"bandwidth": bandwidth, "n_seeds": n_seeds, "method": method, "seed": seed,
                  "n_total": n_total}
    return LearningCurve(unit, sizes, n_env, entropies, mean, std, full, fit, gap, gap_error,
                         parameters)


@dataclass
class ActiveLearning:
    """What each generation of an active-learning loop added to the training set.

    Attributes
    ----------
    rows : list of dict
        One per generation: ``generation`` (name), ``n_structures``,
        ``n_new_environments``, ``n_environments`` (accumulated),
        ``entropy``/``diversity`` of the accumulated set (nats, with
        ``entropy_error``/``diversity_error`` and ``method``), ``novelty``
        (fraction of the generation's environments with dH > threshold
        against all earlier generations; None for the first),
        ``mean_novel_dh`` (mean dH of its novel environments, nats),
        ``entropy_gain``/``diversity_gain`` (change of H and D of the
        accumulated set), ``added_nothing`` (novelty <= ``min_novelty``).
    differential_entropy : list of ndarray
        dH of each generation's environments against everything before it
        (None for the first).
    parameters : dict

    Examples
    --------
    Made by ``active_learning``: a second cold generation adds nothing, a hot one does.

    >>> from quests.data import rattled_crystal
    >>> cold = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(3)]
    >>> cold_again = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(3, 6)]
    >>> hot = [rattled_crystal("Cu", size=2, stdev=0.15, seed=s) for s in range(3)]
    >>> report = active_learning([cold, cold_again, hot], names=["cold", "cold again", "hot"])
    >>> [row["novelty"] for row in report.rows], report.idle_generations
    ([None, 0.0, 1.0], ['cold again'])
    >>> round(report.rows[2]["entropy_gain"], 2)  # nats
    1.99
    >>> print(report.summary().splitlines()[-1])
    1 generation(s) added nothing: cold again
    """

    rows: list
    differential_entropy: list
    parameters: dict = field(default_factory=dict)

    @property
    def idle_generations(self):
        """Names of the generations that added nothing."""
        return [row["generation"] for row in self.rows if row["added_nothing"]]

    def to_dict(self):
        return {"parameters": self.parameters, "generations": self.rows,
                "idle_generations": self.idle_generations}

    def summary(self):
        """What ``quests active-learning`` prints: one line per generation, then which
        added nothing."""
        def shown(value, spec):
            return "-" if value is None else format(value, spec)

        table = [(r["generation"], str(r["n_structures"]), str(r["n_new_environments"]),
                  f"{r['entropy']:.4f}", f"{r['diversity']:.4f}", shown(r["novelty"], ".2%"),
                  shown(r["entropy_gain"], "+.4f"), shown(r["diversity_gain"], "+.4f"),
                  "added nothing" if r["added_nothing"] else "") for r in self.rows]
        idle = self.idle_generations
        return (align_table(("generation", "structures", "new env", "H (nats)", "D (nats)",
                             "novelty", "dH gain", "dD gain", ""), table)
                + f"\n\n{len(idle)} generation(s) added nothing"
                + (f": {', '.join(idle)}" if idle else ""))


def split_generations(structures, key, labels=None):
    """Structures grouped by the generation in ``atoms.info[key]``, for ``active_learning``.

    Numeric keys are sorted, others kept in order of first appearance.
    ``labels`` name each structure in the error a missing key raises.

    Returns (groups: list of lists of ase.Atoms, names: list of str).

    Examples
    --------
    >>> from ase import Atoms
    >>> frames = [Atoms("H", info={"gen": g}) for g in (1, 0, 1)]
    >>> groups, names = split_generations(frames, "gen")
    >>> [len(g) for g in groups], names
    ([1, 2], ['0', '1'])
    """
    from quests.structures import info_values

    values = info_values(structures, key, labels, "generation")
    unique = list(dict.fromkeys(values))
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in unique):
        unique = sorted(unique)
    groups = [[s for s, value in zip(structures, values) if value == u] for u in unique]
    return groups, [str(u) for u in unique]


@validate_params({"bandwidth": SCALAR_BANDWIDTH, "threshold": Interval(numbers.Real),
                  "min_novelty": Interval(numbers.Real, 0, 1),
                  "method": Options("auto", "exact", "approx"), "n_jobs": N_JOBS,
                  "k": NEIGHBORS, "cutoff": CUTOFF})
def active_learning(generations, names=None, *, bandwidth=DEFAULT_BANDWIDTH, threshold=0.0,
                    min_novelty=0.0, method="auto", k=DEFAULT_K, cutoff=DEFAULT_CUTOFF,
                    species=None, seed=0, n_jobs=None, verbose=False):
    """Evaluate an active-learning loop generation by generation.

    Parameters
    ----------
    generations : sequence of (list of ase.Atoms or ndarray of shape (n_g, n_features))
        The data each generation added, in order: structures (described
        with ``k``, ``cutoff``, ``species``) or descriptor arrays.
    names : sequence of str or None
        Generation names (default '0', '1', ...).
    bandwidth : float, default=0.015
    threshold : float, default=0.0
        dH (nats) above which a new environment is novel.
    min_novelty : float, default=0.0
        A generation whose novelty is <= this added nothing.
    method : {'auto', 'exact', 'approx'}, default='auto'
        For H, D and dH (see ``quests.kde``).
    seed, n_jobs, verbose : as elsewhere

    Returns
    -------
    ActiveLearning

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> gen0 = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(3)]
    >>> report = active_learning([gen0, [a.copy() for a in gen0]])
    >>> report.rows[1]["novelty"], report.idle_generations
    (0.0, ['1'])
    """
    from quests.kde import dataset_entropy, differential_entropy

    generations = list(generations)
    if not generations:
        raise InvalidInputError("no generations given")
    names = [str(g) for g in range(len(generations))] if names is None else [str(n) for n in names]
    if len(names) != len(generations):
        raise InvalidInputError(f"{len(names)} names for {len(generations)} generations")
    from quests.descriptor import describe_groups

    descriptors, counts, species = describe_groups(
        generations, k, cutoff, species=species, names=[f"generation {g}" for g in names],
        n_jobs=n_jobs, verbose=verbose)
    n_structures = [None if c is None else len(c) for c in counts]
    width = descriptors[0].shape[1]
    for name, x in zip(names, descriptors):
        if x.shape[1] != width:
            raise InvalidInputError(
                f"generation {name} has {x.shape[1]} descriptor features, the first has {width}: "
                "all must be computed with the same settings")
    rows, dhs = [], []
    previous = before = None
    with progress_bar(len(generations), "generations", verbose, unit="generation") as bar:
        for g, (name, x) in enumerate(zip(names, descriptors)):
            accumulated = x if before is None else np.concatenate([before, x])
            summary = dataset_entropy(accumulated, bandwidth, method=method, seed=seed,
                                      n_jobs=n_jobs)
            row = {"generation": name, "n_structures": n_structures[g],
                   "n_new_environments": int(x.shape[0]), **summary.summary(),
                   "novelty": None, "mean_novel_dh": None, "entropy_gain": None,
                   "diversity_gain": None, "added_nothing": False}
            dh = None
            if before is not None:
                dh = differential_entropy(x, before, bandwidth, method=method, n_jobs=n_jobs)
                novel = dh > threshold
                row["novelty"] = float(novel.mean())
                row["mean_novel_dh"] = float(dh[novel].mean()) if novel.any() else 0.0
                row["entropy_gain"] = summary.entropy - previous.entropy
                row["diversity_gain"] = summary.diversity - previous.diversity
                row["added_nothing"] = bool(row["novelty"] <= min_novelty)
            rows.append(row)
            dhs.append(dh)
            previous, before = summary, accumulated
            bar.update()
    parameters = {"bandwidth": bandwidth, "threshold": threshold, "min_novelty": min_novelty,
                  "method": method, "k": k, "cutoff": cutoff, "species": species}
    return ActiveLearning(rows, dhs, parameters)
