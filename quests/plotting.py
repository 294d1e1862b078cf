"""Figures for command-line reports (matplotlib, imported only when a plot is made).

Each function draws on given axes, or on a new figure, and returns the
figure; ``quests.io.save_figure`` writes it atomically.
"""

import sys

import numpy as np


__all__ = ["plot_frame_uncertainty", "plot_calibration", "uncertainty_figure",
           "plot_selection_curves", "plot_learning_curve", "plot_active_learning",
           "plot_trajectory_entropy", "plot_phase_fractions", "plot_nucleation",
           "plot_phase_boundary", "plot_boundary_line", "plot_zentropy", "plot_phase_diagram",
           "frame_axis"]


def _pyplot():
    from quests._optional import require

    matplotlib = require("matplotlib", "a plot", "plot")
    if "matplotlib.pyplot" not in sys.modules:
        # headless default for the command line; a notebook or script that
        # already chose a backend (inline, Qt, ...) keeps it
        matplotlib.use("Agg")
    return require("matplotlib.pyplot", "a plot", "plot")


def plot_frame_uncertainty(rows, threshold=0.0, ax=None):
    """Max and mean dH per frame (``TrajectoryUncertainty.results.rows``), flagged frames marked.

    Examples
    --------
    Frames rattled ever more strongly, against a cold-crystal reference:

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.data import rattled_crystal
    >>> from quests.uncertainty import TrajectoryUncertainty, UncertaintyEstimator
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> estimator = UncertaintyEstimator(train).fit()
    >>> frames = [rattled_crystal("Cu", size=2, stdev=s, seed=9) for s in (0.02, 0.05, 0.1, 0.2)]
    >>> results = TrajectoryUncertainty(estimator).run(frames).results
    >>> fig = plot_frame_uncertainty(results.rows, threshold=0.0)
    >>> len(fig.axes), [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    (1, ['max dH', 'mean dH', 'flagged'])
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    frames = np.arange(len(rows))
    max_dh = np.array([r["max_dH"] for r in rows])
    mean_dh = np.array([r["mean_dH"] for r in rows])
    ax.plot(frames, max_dh, label="max dH", color="C3")
    ax.plot(frames, mean_dh, label="mean dH", color="C0")
    flagged = max_dh > threshold
    infinite = np.isinf(max_dh)
    ax.scatter(frames[flagged & ~infinite], max_dh[flagged & ~infinite], s=10, color="C3",
               zorder=3, label="flagged")
    if infinite.any():  # atoms of a species the reference lacks: drawn at the top edge
        ax.scatter(frames[infinite], np.full(infinite.sum(), 0.97), marker="^", s=14,
                   color="C1", zorder=3, transform=ax.get_xaxis_transform(),
                   label="dH = inf (species the reference lacks)")
    ax.axhline(threshold, color="k", lw=0.8, ls="--")
    ax.set_xlabel("frame")
    ax.set_ylabel("dH (nats)")
    ax.legend(frameon=False, fontsize=8)
    return ax.figure


def plot_calibration(calibration, dh, errors, ax=None):
    """Per-atom error against dH (log scale), bin quantiles and the fitted quantile lines.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.uncertainty import calibrate
    >>> rng = np.random.default_rng(0)
    >>> dh = rng.uniform(-5, 5, 500)  # errors that grow tenfold every 5 nats, with scatter
    >>> errors = 10 ** (0.2 * dh - 1 + 0.1 * rng.normal(size=dh.size))
    >>> calibration = calibrate(dh, errors, n_bins=5)
    >>> fig = plot_calibration(calibration, dh, errors)
    >>> fig.axes[0].get_title(), len(fig.axes[0].get_legend().get_texts())  # one per quantile
    ('Spearman 0.99, 500 atoms', 3)
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    dh = np.asarray(dh, dtype=float)
    errors = np.asarray(errors, dtype=float)
    positive = errors > 0
    ax.hexbin(dh[positive], np.log10(errors[positive]), gridsize=40, mincnt=1, cmap="Greys",
              bins="log")
    centres = 0.5 * (calibration.bin_edges[1:] + calibration.bin_edges[:-1])
    grid = np.linspace(dh.min(), dh.max(), 50)
    for j, q in enumerate(calibration.quantiles):
        with np.errstate(divide="ignore"):
            ax.plot(centres, np.log10(calibration.bin_quantiles[:, j]), "o", ms=3, color=f"C{j}")
        a, b = calibration.fits[q]
        ax.plot(grid, a + b * grid, color=f"C{j}", label=f"q={q:g}: {a:.2f} + {b:.3f} dH")
    ax.set_xlabel("dH (nats)")
    ax.set_ylabel("log10 error")
    ax.set_title(f"Spearman {calibration.spearman:.2f}, {calibration.n_atoms} atoms", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    return ax.figure


def uncertainty_figure(rows, threshold=0.0, calibration=None, dh=None, errors=None):
    """The ``quests uncertainty --plot`` figure: dH per frame, and calibration if given.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.data import rattled_crystal
    >>> from quests.uncertainty import TrajectoryUncertainty, UncertaintyEstimator
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> estimator = UncertaintyEstimator(train).fit()
    >>> frames = [rattled_crystal("Cu", size=2, stdev=s, seed=9) for s in (0.02, 0.05, 0.1, 0.2)]
    >>> results = TrajectoryUncertainty(estimator).run(frames).results
    >>> from quests.uncertainty import calibrate
    >>> rng = np.random.default_rng(0)
    >>> dh = rng.uniform(-5, 5, 500)  # errors that grow tenfold every 5 nats, with scatter
    >>> errors = 10 ** (0.2 * dh - 1 + 0.1 * rng.normal(size=dh.size))
    >>> calibration = calibrate(dh, errors, n_bins=5)
    >>> len(uncertainty_figure(results.rows).axes)  # dH per frame only
    1
    >>> fig = uncertainty_figure(results.rows, 0.0, calibration, dh, errors)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['frame', 'dH (nats)']
    >>> matplotlib.pyplot.close("all")
    """
    plt = _pyplot()
    panels = 2 if calibration is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    plot_frame_uncertainty(rows, threshold, axes[0, 0])
    if calibration is not None:
        plot_calibration(calibration, dh, errors, axes[0, 1])
    fig.tight_layout()
    return fig


def plot_selection_curves(curves, full_entropy=None, axes=None):
    """H and overlap along selection orders (``selection_curve`` dicts, keyed by label).

    Draws two panels: entropy of the kept set, and the fraction of the full
    set it covers, against the number of structures kept.

    Examples
    --------
    Three copies of one structure and one distinct: picking the distinct one second
    covers the full set sooner than the order of the files.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.compression import selection_curve
    >>> from quests.kde import entropy
    >>> X = np.concatenate([np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 3)), np.zeros((2, 3))])
    >>> curves = {"diverse first": selection_curve(X, [2, 2, 2, 2], [0, 2, 1, 3]),
    ...           "file order": selection_curve(X, [2, 2, 2, 2], [0, 1, 2, 3])}
    >>> [curve["overlap"].tolist() for curve in curves.values()]
    [[0.75, 1.0, 1.0, 1.0], [0.75, 0.75, 1.0, 1.0]]
    >>> fig = plot_selection_curves(curves, full_entropy=entropy(X))
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['diverse first', 'file order', 'full set']
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for j, (label, curve) in enumerate(curves.items()):
        x = np.asarray(curve["n_structures"])
        axes[0].plot(x, curve["entropy"], color=f"C{j}", label=label)
        axes[1].plot(x, curve["overlap"], color=f"C{j}", label=label)
    if full_entropy is not None:
        axes[0].axhline(full_entropy, color="k", lw=0.8, ls="--", label="full set")
    axes[0].set_ylabel("H of kept set (nats)")
    axes[1].set_ylabel("overlap with full set")
    for ax in axes:
        ax.set_xlabel("structures kept")
        ax.legend(frameon=False, fontsize=8)
    axes[0].figure.tight_layout()
    return axes[0].figure


def plot_learning_curve(curve, ax=None):
    """H of random subsets against size (``LearningCurve``), the fit and the gap.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.learning import learning_curve
    >>> X = np.random.default_rng(0).normal(scale=0.02, size=(400, 3))
    >>> curve = learning_curve(X, n_sizes=6, n_seeds=3)
    >>> fig = plot_learning_curve(curve)
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_xlabel(), fig.axes[0].texts[0].get_text()
    ('log', 'environments in subset', 'gap 0.01 nats')
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    sizes = np.asarray(curve.sizes, dtype=float)
    for j in range(curve.entropies.shape[1]):
        ax.scatter(sizes, curve.entropies[:, j], s=8, color="0.6", zorder=1)
    ax.errorbar(sizes, curve.mean, yerr=curve.std, fmt="o", color="C0", ms=4, capsize=2,
                label="random subsets (mean, std)", zorder=2)
    if curve.fit is not None:
        grid = np.geomspace(sizes.min(), sizes.max() * 100, 200)
        fit = curve.fit
        ax.plot(grid, fit.predict(grid), color="C3",
                label=f"a - b exp(-c ln²n): a = {fit.a:.2f} ± {fit.a_error:.2f}")
        ax.axhline(fit.a, color="C3", lw=0.8, ls="--")
        ax.annotate(f"gap {curve.gap:.2f} nats", (sizes.max(), curve.full_entropy),
                    textcoords="offset points", xytext=(6, -14), fontsize=8, color="C3")
    ax.set_xscale("log")
    ax.set_xlabel(f"{curve.unit} in subset")
    ax.set_ylabel("H (nats)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


def plot_active_learning(report, axes=None):
    """H and D of the accumulated set per generation, and each generation's novelty.

    Examples
    --------
    A second cold generation adds nothing (its bar red), a hot one is all novel:

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.data import rattled_crystal
    >>> from quests.learning import active_learning
    >>> cold = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(3)]
    >>> cold_again = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(3, 6)]
    >>> hot = [rattled_crystal("Cu", size=2, stdev=0.15, seed=s) for s in range(3)]
    >>> report = active_learning([cold, cold_again, hot], names=["cold", "cold again", "hot"])
    >>> fig = plot_active_learning(report)
    >>> [label.get_text() for label in fig.axes[1].get_xticklabels()]
    ['cold', 'cold again', 'hot']
    >>> [round(float(bar.get_height()), 2) for bar in fig.axes[1].patches]  # novel fractions
    [0.0, 0.0, 1.0]
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    rows = report.rows
    names = [r["generation"] for r in rows]
    x = np.arange(len(rows))
    axes[0].plot(x, [r["entropy"] for r in rows], "o-", label="H")
    axes[0].plot(x, [r["diversity"] for r in rows], "s-", label="D")
    axes[0].set_ylabel("accumulated set (nats)")
    axes[0].legend(frameon=False, fontsize=8)
    novelty = [0.0 if r["novelty"] is None else r["novelty"] for r in rows]
    colours = ["0.7" if r["novelty"] is None else ("C3" if r["added_nothing"] else "C2")
               for r in rows]
    axes[1].bar(x, novelty, color=colours)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_ylabel("novel fraction of new environments")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(names)
        ax.set_xlabel("generation")
    axes[0].figure.tight_layout()
    return axes[0].figure


def frame_axis(rows):
    """``x`` and ``xlabel`` of the per-frame plots, as keywords: the frames' time where
    every row of a trajectory table has one, else frame numbers.

    Examples
    --------
    >>> frame_axis([{"frame": "0", "time": 0.0}, {"frame": "1", "time": 2.5}])
    {'x': array([0. , 2.5]), 'xlabel': 'time'}
    >>> frame_axis([{"frame": "0", "time": 0.0}, {"frame": "1", "time": None}])
    {'x': None, 'xlabel': 'frame'}
    """
    times = [r.get("time") for r in rows]
    if rows and all(t is not None for t in times):
        return {"x": np.array(times, dtype=float), "xlabel": "time"}
    return {"x": None, "xlabel": "frame"}


def plot_trajectory_entropy(results, axes=None, x=None, xlabel="frame"):
    """H(t) and mean dH(t) of a ``TrajectoryEntropy`` run, detected events marked.

    ``x`` (n_frames,) replaces frame numbers on the horizontal axis (time, T).

    Examples
    --------
    Cu heated through melting; the event found near 1640 K is marked on both panels:

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> from quests.thermo import TrajectoryEntropy
    >>> frames = ase.io.read(trajectory_files()["cu_melting"], "45:70")
    >>> results = TrajectoryEntropy(bandwidth="volume", k=12, cutoff=5.0).run(frames).results
    >>> fig = plot_trajectory_entropy(results, **frame_axis(results.rows))
    >>> [ax.get_ylabel() for ax in fig.axes], fig.axes[1].get_xlabel()
    (['H (nats)', 'mean dH (nats)'], 'time')
    >>> len(results.events), [line.get_label() for line in fig.axes[0].lines][1:]
    (1, ['event'])
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    x = np.arange(len(results.entropy)) if x is None else np.asarray(x, dtype=float)
    for ax, values, label in ((axes[0], results.entropy, "H (nats)"),
                              (axes[1], results.mean_dh, "mean dH (nats)")):
        ax.plot(x, values, color="C0", marker=".", ms=3)
        ax.set_ylabel(label)
        for i, event in enumerate(results.events):
            ax.axvline(x[event.frame], color="C3", lw=1, ls="--",
                       label="event" if i == 0 else None)
    if results.events:
        axes[0].legend(frameon=False, fontsize=8)
    axes[-1].set_xlabel(xlabel)
    return axes[0].figure


def plot_phase_fractions(results, ax=None, x=None, xlabel="frame"):
    """Per-frame fraction of each phase (and unknown) of a ``PhaseAnalysis`` run.

    Examples
    --------
    A Cu melt crystallising at 800 K (no atom unknown, so no unknown line):

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> from quests.thermo import PhaseClassifier
    >>> files = trajectory_files()
    >>> references = {"solid": ase.io.read(files["cu_solid_ref"], ":2"),
    ...               "liquid": ase.io.read(files["cu_liquid_ref"], ":2")}
    >>> clf = PhaseClassifier(references, k=12, cutoff=5.0).fit()
    >>> from quests.thermo import PhaseAnalysis
    >>> results = PhaseAnalysis(clf).run(ase.io.read(files["cu_quench"], "::26")).results
    >>> fig = plot_phase_fractions(results, **frame_axis(results.rows))
    >>> [(line.get_label(), line.get_ydata().round(2).tolist()) for line in fig.axes[0].lines]
    [('solid', [0.02, 0.9, 0.91]), ('liquid', [0.98, 0.1, 0.09])]
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    fractions = np.asarray(results.fractions)
    x = np.arange(fractions.shape[0]) if x is None else np.asarray(x, dtype=float)
    for column, name in enumerate(list(results.phases) + ["unknown"]):
        if name == "unknown" and not fractions[:, column].any():
            continue
        ax.plot(x, fractions[:, column], label=name, color="0.5" if name == "unknown" else None)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of atoms")
    ax.legend(frameon=False, fontsize=8)
    return ax.figure


def plot_nucleation(results, axes=None, x=None, xlabel="frame"):
    """Largest solid cluster n_max(t) with the onset, and the CNT fit of -kT ln P(n).

    Examples
    --------
    A Cu melt at 800 K, 4 ps apart; cluster sizes seen once are enough for a CNT fit
    here (``min_count=1``):

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> from quests.thermo import PhaseClassifier
    >>> files = trajectory_files()
    >>> references = {"solid": ase.io.read(files["cu_solid_ref"], ":2"),
    ...               "liquid": ase.io.read(files["cu_liquid_ref"], ":2")}
    >>> clf = PhaseClassifier(references, k=12, cutoff=5.0).fit()
    >>> from quests.thermo import NucleationAnalysis
    >>> frames = ase.io.read(files["cu_quench"], "4:16:2")
    >>> results = NucleationAnalysis(clf, onset_size=50, min_count=1).run(frames).results
    >>> results.onset, results.cnt is not None
    (3, True)
    >>> fig = plot_nucleation(results)
    >>> [ax.get_xlabel() for ax in fig.axes], fig.axes[1].get_ylabel()
    (['frame', 'cluster size n'], 'free energy (eV)')
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    n_max = np.asarray(results.n_max)
    x = np.arange(n_max.size) if x is None else np.asarray(x, dtype=float)
    ax = axes[0]
    ax.plot(x, n_max, color="C0", label="largest cluster")
    ax.plot(x, results.n_solid, color="C1", lw=0.8, label="solid-like atoms")
    if results.onset is not None:
        ax.axvline(x[results.onset], color="C3", ls="--", lw=1, label="onset")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("atoms")
    ax.legend(frameon=False, fontsize=8)
    ax = axes[1]
    fit = results.cnt
    if fit is None:
        import textwrap

        ax.text(0.5, 0.5, "no CNT fit:\n" + textwrap.fill(str(results.cnt_error), 45),
                ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_axis_off()
        return axes[0].figure
    units = "eV" if fit.temperature is not None else "kT"
    ax.errorbar(fit.sizes, fit.free_energy, fit.free_energy_error, fmt="o", ms=3, color="C0",
                label="-kT ln P(n)")
    n = np.linspace(1, max(fit.sizes.max(), min(2 * fit.n_critical, 10 * fit.sizes.max())), 200)
    ax.plot(n, fit.free_energy_of(n), color="C3",
            label=f"CNT: dmu = {fit.dmu:.3g}, sigma = {fit.sigma:.3g} {units}\n"
                  f"n* = {fit.n_critical:.0f} +- {fit.n_critical_error:.0f}")
    ax.set_xlabel("cluster size n")
    ax.set_ylabel(f"free energy ({units})")
    ax.legend(frameon=False, fontsize=8)
    return axes[0].figure


def plot_phase_boundary(boundaries, ax=None):
    """dG(T) of each ``PhaseBoundary`` with its fit and the coexistence temperature.

    The axis spans the sampled temperatures, widened to the root when it lies
    within one more span of them; a root further out is named in the legend.

    Examples
    --------
    Solid and liquid at 1200-1400 K: the liquid wins above 1326 K.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.thermo import PhaseState, phase_boundary
    >>> def states(phase, energy, volume, entropy):
    ...     return [PhaseState(phase, t, 0.0, 8, 2048, energy + 3e-4 * t, 1e-3, volume, 0.01,
    ...                        0.06, entropy, 0.01) for t in (1200.0, 1300.0, 1400.0)]
    >>> boundaries = phase_boundary(states("solid", -3.8, 12.0, 1.0),
    ...                             states("liquid", -3.68, 12.6, 2.05))
    >>> fig = plot_phase_boundary(boundaries)
    >>> fig.axes[0].get_ylabel()
    'G(liquid) - G(solid) (meV/atom)'
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['dG = 0 at 1326 +- 15 K', 'P = 0 GPa']
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    for i, b in enumerate(boundaries):
        color = f"C{i}"
        t0, t0_error = b.coexistence_temperature, b.coexistence_temperature_error
        low, high = b.temperatures.min(), b.temperatures.max()
        span = max(high - low, 1.0)
        shown = low - span <= t0 <= high + span
        lo, hi = (min(low, t0), max(high, t0)) if shown else (low, high)
        ax.errorbar(b.temperatures, b.dG * 1e3, b.dG_error * 1e3, fmt="o", color=color,
                    label=f"P = {b.pressure:g} GPa")
        t = np.linspace(lo, hi, 100)
        ax.plot(t, (b.fit[0] + b.fit[1] * t) * 1e3, color=color, lw=1)
        label = f"dG = 0 at {t0:.0f} +- {t0_error:.0f} K"
        if shown:
            ax.axvspan(max(t0 - t0_error, lo), min(t0 + t0_error, hi), color=color, alpha=0.15)
            ax.axvline(t0, color=color, ls="--", lw=1, label=label)
        else:
            ax.plot([], [], " ", label=label + " (off the axis)")
    ax.axhline(0, color="k", lw=0.8)
    if boundaries:
        a, b_ = boundaries[0].phases
        ax.set_ylabel(f"G({b_}) - G({a}) (meV/atom)")
    ax.set_xlabel("T (K)")
    ax.legend(frameon=False, fontsize=8)
    return ax.figure


def plot_boundary_line(line, reference=None, ax=None):
    """P-T diagram of a ``BoundaryLine``: the line T(P), its error band, the state points.

    State points sampled by both phases are marked by the phase whose G is
    lower there (the measured dG); the line is dashed where extrapolated.
    ``reference``: optional (pressures, temperatures, errors, label) of
    another boundary (e.g. thermodynamic integration) drawn with error bars.

    Examples
    --------
    hcp and bcc Zr-like states at 0, 2 and 4 GPa (bcc 56 meV higher, 0.1 Å^3 larger and
    0.5 nats more diverse per atom):

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.thermo import PhaseState
    >>> def states(phase, energy, volume, entropy):
    ...     return [PhaseState(phase, t, p, 4, 1728, energy, 1e-3, volume - 0.1 * p, 0.01,
    ...                        0.03, entropy, 0.01)
    ...             for t in (1200.0, 1300.0, 1400.0) for p in (0.0, 2.0, 4.0)]
    >>> from quests.thermo import phase_boundary_line
    >>> line = phase_boundary_line(states("hcp", -6.4, 23.0, 2.0),
    ...                            states("bcc", -6.344, 23.1, 2.5))
    >>> fig = plot_boundary_line(line, reference=([0.0, 4.0], [1290.0, 1350.0], [20.0, 20.0],
    ...                                           "reference"))
    >>> fig.axes[0].get_title(), fig.axes[0].get_xlabel()
    ('hcp / bcc', 'P (GPa)')
    >>> for text in fig.axes[0].get_legend().get_texts():
    ...     print(text.get_text())
    information entropy (dG = 0)
    state point, hcp lower
    state point, bcc lower
    reference
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    a, b = line.phases
    p, t, e = line.pressures, line.temperatures, line.temperature_errors
    ax.fill_between(p, t - e, t + e, color="C0", alpha=0.2, lw=0)
    inside = np.where(line.extrapolated, np.nan, t)
    ax.plot(p, inside, color="C0", label="information entropy (dG = 0)")
    if np.any(line.extrapolated):
        ax.plot(p, t, color="C0", ls="--", lw=1, label="extrapolated")
    if line.state_points is not None and len(line.state_points):
        lower_b = line.state_dG < 0
        for mask, name, marker in ((~lower_b, a, "o"), (lower_b, b, "s")):
            pts = line.state_points[mask]
            if not len(pts):
                continue
            ax.plot(pts[:, 1], pts[:, 0], marker, ls="none", mfc="none", color="k",
                    label=f"state point, {name} lower")
    if reference is not None:
        rp, rt, re, label = reference
        ax.errorbar(rp, rt, re, fmt="D", color="C3", capsize=3, label=label)
    ax.set_xlabel("P (GPa)")
    ax.set_ylabel("T (K)")
    ax.set_title(f"{a} / {b}", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax.figure


def plot_zentropy(properties, names, reference=None, axes=None, label="zentropy"):
    """V(T), volumetric thermal expansion and p_k(T) of ``IsobaricProperties``.

    ``reference``: the properties of one configuration alone, drawn dashed;
    ``label``: the legend entry of ``properties`` (what produced them).

    Examples
    --------
    Invar-like Fe3Pt: a ferromagnetic (FM, g = 2) and a spin-flip (SF, g = 12)
    configuration of a 12-atom cell, from their BM4 curves, against FM alone:

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.zenn import BM4, EnergyVolume, isobaric_properties, zentropy_from_dft
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> def configuration(coefficients, label):
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     return EnergyVolume(v, e, n_atoms=12, mass=90.65, label=label)
    >>> fm = configuration([132.04568, -14049.6831, 245394.098, -802171.920], "FM")
    >>> sf = configuration([57.8562911, -8004.42428, 85760.8652, 557048.189], "SF")
    >>> t = np.arange(50.0, 1001.0, 50.0)
    >>> z, f_k, _ = zentropy_from_dft([fm, sf], [2, 12], t)
    >>> iso = isobaric_properties(t, z.volumes, z.free_energy, 0.0, z.probabilities)
    >>> fig = plot_zentropy(iso, ["FM", "SF"], reference=isobaric_properties(t, z.volumes, f_k[0]))
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['V (Å^3)', 'volumetric expansion (1e-6/K)', 'probability']
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['zentropy', 'FM alone']
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    t = properties.temperatures
    axes[0].plot(t, properties.volume, label=label)
    axes[1].plot(t, properties.volumetric_expansion * 1e6, label=label)
    if reference is not None:
        axes[0].plot(t, reference.volume, ls="--", color="0.4", label=f"{names[0]} alone")
        axes[1].plot(t, reference.volumetric_expansion * 1e6, ls="--", color="0.4",
                     label=f"{names[0]} alone")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[0].set_ylabel("V (Å^3)")
    axes[1].set_ylabel("volumetric expansion (1e-6/K)")
    if properties.probabilities is not None:
        for name, p in zip(names, properties.probabilities):
            axes[2].plot(t, p, label=name)
        axes[2].set_ylabel("probability")
    for ax in axes:
        ax.set_xlabel("T (K)")
        ax.legend(frameon=False, fontsize=8)
    axes[0].set_title(f"P = {properties.pressure:g} GPa", fontsize=9)
    return axes[0].figure


def plot_phase_diagram(diagram, ax=None, label=None):
    """P-T diagram of a ``quests.zenn.PhaseDiagram``: coexistence line, spinodals (dashed),
    critical point (star). Returns the figure.

    Examples
    --------
    A tilted Landau double well, F = a (T - Tc) u^2 + b u^4 - p0 V (u = V - 11 Å^3,
    Tc = 600 K, p0 = 0.02 eV/Å^3 = 3.2 GPa):

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from quests.zenn import phase_diagram
    >>> t, v = np.linspace(300.0, 900.0, 13), np.linspace(9.0, 13.0, 401)
    >>> f = 1e-3 * (t[:, None] - 600.0) * (v - 11.0) ** 2 + 0.5 * (v - 11.0) ** 4 - 0.02 * v
    >>> fig = plot_phase_diagram(phase_diagram(t, v, f), label="Landau")
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['Landau: coexistence', 'Landau: spinodals', 'critical point 600 K, 3.20 GPa']
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.8), layout="constrained")
    t = diagram.temperatures
    line, = ax.plot(t, diagram.coexistence_pressure,
                    label="coexistence" if label is None else f"{label}: coexistence")
    ax.plot(t, diagram.spinodal_pressures[:, 0], ls="--", color=line.get_color(), lw=1,
            label="spinodals" if label is None else f"{label}: spinodals")
    ax.plot(t, diagram.spinodal_pressures[:, 1], ls="--", color=line.get_color(), lw=1)
    if diagram.critical_point is not None:
        t_c, v_c, p_c = diagram.critical_point
        ax.plot([t_c], [p_c], "*", ms=10, color=line.get_color(),
                label=f"critical point {t_c:.0f} K, {p_c:.2f} GPa")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("P (GPa)")
    ax.legend(frameon=False, fontsize=8)
    return ax.figure
