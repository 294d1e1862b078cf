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
    """Max and mean dH per frame (``TrajectoryUncertainty.results.rows``), flagged frames marked."""
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
    """Per-atom error against dH (log scale), bin quantiles and the fitted quantile lines."""
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
    """The ``quests uncertainty --plot`` figure: dH per frame, and calibration if given."""
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
    """H of random subsets against size (``LearningCurve``), the fit and the gap."""
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
    """H and D of the accumulated set per generation, and each generation's novelty."""
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
    every row of a trajectory table has one, else frame numbers."""
    times = [r.get("time") for r in rows]
    if rows and all(t is not None for t in times):
        return {"x": np.array(times, dtype=float), "xlabel": "time"}
    return {"x": None, "xlabel": "frame"}


def plot_trajectory_entropy(results, axes=None, x=None, xlabel="frame"):
    """H(t) and mean dH(t) of a ``TrajectoryEntropy`` run, detected events marked.

    ``x`` (n_frames,) replaces frame numbers on the horizontal axis (time, T).
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
    """Per-frame fraction of each phase (and unknown) of a ``PhaseAnalysis`` run."""
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
    """Largest solid cluster n_max(t) with the onset, and the CNT fit of -kT ln P(n)."""
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
    critical point (star). Returns the figure."""
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
