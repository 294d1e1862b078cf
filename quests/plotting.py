"""Figures for command-line reports (matplotlib, imported only when a plot is made).

Each function draws on given axes, or on a new figure, and returns the
figure; ``quests.io.save_figure`` writes it atomically.
"""

import numpy as np

from quests._errors import InvalidInputError

__all__ = ["plot_frame_uncertainty", "plot_calibration", "uncertainty_figure"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidInputError("plots need matplotlib: pip install 'quests[plot]'") from None
    return plt


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
    ax.scatter(frames[flagged], max_dh[flagged], s=10, color="C3", zorder=3, label="flagged")
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
