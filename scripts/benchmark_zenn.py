"""Benchmarks of the ZENN network: training time and accuracy on the issue-6 test problems.

Cases:
- ``bifurcation``: F(x, T) = T [(x^2/2 + (T-2)/2)^2 + ((T-2)^2 - 1)^2 / 2] on x in [-2, 2]
  (81 points), T in [0.1, 4] (40 points); ZENN (K = 2, S_k >= 0, learnable kB) trained
  on the Boltzmann distributions P(x|T) ~ exp(-F/T) by the Jensen-Shannon loss. T_c (exactly
  2) from the sign change of d2F/dx2 at x = 0 and from where the distribution first has two
  maxima on an 801-point x grid (scanning T in [1.5, 2.5] by 0.0005).
- ``plain``: the same with K = 1 and no entropy branch.
- ``fe3pt``: ZENN (K = 3, g = 1: not told the configurations) trained by regression on the
  zentropy F(V, T) of ../shared/data/fe3pt on a 120 x 80 (T, V) grid; V(T) at P = 0 and the
  critical point compared with the zentropy model's on a finer grid.

Usage: python scripts/benchmark_zenn.py [--cases bifurcation,plain,fe3pt] [--epochs N]
                                        [--lbfgs N] [--convexity W] [--seed S]
"""

import argparse
import resource
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fe3pt"


def bifurcation(k, entropy, epochs, lbfgs):
    from quests.zenn import ZENN

    x = np.linspace(-2, 2, 81)
    t = np.linspace(0.1, 4, 40)
    f = t[:, None] * ((x[None] ** 2 / 2 + (t[:, None] - 2) / 2) ** 2
                      + ((t[:, None] - 2) ** 2 - 1) ** 2 / 2)
    logp = -f / t[:, None]
    p = np.exp(logp - logp.max(1, keepdims=True))
    start = time.perf_counter()
    model = ZENN(k, entropy=entropy, kb=1.0, learn_kb=True, seed=0).fit_distributions(
        x, t, p, epochs=epochs, lbfgs_steps=lbfgs)
    seconds = time.perf_counter() - start
    scan = np.arange(1.5, 2.5, 0.0005)
    c = model.derivatives(np.zeros_like(scan), scan)["d2F/dx2"]
    i = np.flatnonzero(np.sign(c[:-1]) != np.sign(c[1:]))
    t_curv = [float(scan[j] - c[j] * (scan[j + 1] - scan[j]) / (c[j + 1] - c[j])) for j in i]
    fine = np.linspace(-2, 2, 801)
    split = None
    for temp in scan:
        q = -model.predict(fine, np.full_like(fine, temp))["F"]
        if np.count_nonzero((q[1:-1] > q[:-2]) & (q[1:-1] > q[2:])) >= 2:
            split = float(temp)
    return seconds, model.history_[-1], t_curv, split


def fe3pt(epochs, lbfgs, convexity, seed=0):
    from quests.zenn import ZENN, critical_point, isobaric_properties, phase_diagram, \
        read_energy_volume, zentropy_from_dft

    configs = (("config_0", 2), ("config_28", 6), ("config_22", 12))
    data = [read_energy_volume(SHARED / name) for name, _ in configs]
    g = [m for _, m in configs]
    t = np.linspace(10, 1200, 120)
    v = np.linspace(139, 172, 80)
    z, _, _ = zentropy_from_dft(data, g, t, v)
    x, temps = np.tile(v, t.size), np.repeat(t, v.size)
    start = time.perf_counter()
    model = ZENN(3, seed=seed).fit(x, temps, z.free_energy.ravel(), epochs=epochs,
                                   lbfgs_steps=lbfgs, convexity=convexity)
    seconds = time.perf_counter() - start
    rmse_mev = 1e3 * np.sqrt(np.mean((model.predict(x, temps)["F"] - z.free_energy.ravel()) ** 2))
    tf, vf = np.arange(10, 1201, 5.0), np.linspace(139, 172, 661)
    zf, fk, _ = zentropy_from_dft(data, g, tf, vf)
    ref = isobaric_properties(tf, vf, zf.free_energy)
    grid, _ = model.free_energy_grid(tf, vf)
    ours = isobaric_properties(tf, vf, grid)
    error = np.abs(ours.volume - ref.volume) / ref.volume
    fm = isobaric_properties(tf, vf, fk[0]).volumetric_expansion
    spans = {name: (_span(tf, iso.volumetric_expansion < fm - 5e-7),
                    _span(tf, iso.volumetric_expansion < -5e-7))
             for name, iso in (("zentropy", ref), ("ZENN", ours))}
    # the P-T diagram below 300 K: largest difference of the coexistence pressure
    low = tf <= 300
    p_ref = phase_diagram(tf[low], vf, zf.free_energy[low]).coexistence_pressure
    p_ours = phase_diagram(tf[low], vf, grid[low]).coexistence_pressure
    both = np.isfinite(p_ref) & np.isfinite(p_ours)
    spans["coexistence P, largest difference (GPa)"] = float(np.abs(p_ref - p_ours)[both].max())
    return (seconds, rmse_mev, float(error.max()), float(error.mean()),
            critical_point(tf, vf, zf.free_energy), critical_point(tf, vf, grid), spans)


def _span(t, mask):
    """(first, last) temperature where mask holds, or None."""
    return (float(t[mask].min()), float(t[mask].max())) if mask.any() else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="bifurcation,plain,fe3pt")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Adam epochs (default 3000 for bifurcation, 1500 for fe3pt).")
    parser.add_argument("--lbfgs", type=int, default=None,
                        help="L-BFGS iterations (default 3000 for bifurcation, 1000 for fe3pt).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--convexity", type=float, default=0.0,
                        help="Weight of the d2F/dT2 penalty in the fe3pt regression (each "
                             "step then costs about ten times more).")
    args = parser.parse_args()
    for case in args.cases.split(","):
        if case in ("bifurcation", "plain"):
            k, entropy = (2, True) if case == "bifurcation" else (1, False)
            seconds, loss, t_curv, split = bifurcation(k, entropy, args.epochs or 3000,
                                                       args.lbfgs or 3000)
            print(f"{case}: {seconds:.1f} s, JS loss {loss:.2e}, T_c from d2F/dx2 = 0: "
                  f"{t_curv}, distribution splits below T = {split}", flush=True)
        elif case == "fe3pt":
            seconds, rmse, worst, mean, ref, ours, spans = fe3pt(
                args.epochs or 1500, args.lbfgs or 1000, args.convexity, args.seed)
            print(f"fe3pt: {seconds:.1f} s, F rmse {rmse:.3f} meV, V(T) at P = 0 relative error "
                  f"max {worst:.2e} mean {mean:.2e}; critical point (T, V) zentropy {ref}, "
                  f"ZENN {ours}; expansion (below FM, negative) over T ranges: {spans}",
                  flush=True)
        else:
            raise SystemExit(f"unknown case {case!r}")
        print(f"peak RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
              flush=True)


if __name__ == "__main__":
    main()
