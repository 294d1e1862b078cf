#!/usr/bin/env python
"""How much of the entropy of melting of Cu (EAM Cu_u3) does kB dH recover?

The melting case of the information-entropy phase boundary, measured
honestly. Ground truth: the coexistence melting point of this potential,
Tm = 1310 +- 30 K (``scripts/coexistence_melting.py``), and the latent heat
from the same NPT runs the entropy is computed on
(``quests/data/cu_coexist_phases.xyz``: 256-atom solid and liquid at P = 0,
8 frames per state): dS_m = dH_m / Tm with dH_m = dU(Tm) (P = 0, equal
kinetic energies), dU(T) a weighted line through the sampled temperatures.
The information side: kB dH (liquid - solid, nats per atom) at the volume
bandwidth h(V) and at fixed bandwidths, at each sampled temperature and
interpolated to Tm; the fraction kB dH / dS_m. The coexistence temperature
that the information entropy gives at each bandwidth is printed beside.

Usage::

    python scripts/melting_entropy.py                       # h(V) and 5 fixed bandwidths
    python scripts/melting_entropy.py --bandwidths volume 0.03
"""

import argparse
from pathlib import Path

import numpy as np

from quests.thermo import BOLTZMANN_EV, phase_boundary, phase_states

DATA = Path(__file__).resolve().parents[1] / "quests" / "data" / "cu_coexist_phases.xyz"
TM, TM_ERROR = 1310.0, 30.0     # K, coexistence (scripts/coexistence_melting.py)


def line_fit(x, y, sigma):
    """Weighted line y = c0 + c1 x: ((c0, c1), covariance), widened when chi^2/dof > 1."""
    (c1, c0), cov = np.polyfit(x, y, 1, w=1.0 / np.asarray(sigma), cov="unscaled")
    chi2 = np.sum(((c0 + c1 * np.asarray(x) - y) / sigma) ** 2) / max(len(x) - 2, 1)
    return (c0, c1), cov[::-1, ::-1] * max(chi2, 1.0)


def main(argv=None):
    from ase.io import read

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bandwidths", nargs="+",
                        default=["volume", "0.015", "0.03", "0.05", "0.08", "0.12"])
    args = parser.parse_args(argv)
    frames = read(DATA, ":")
    phases = {name: [a for a in frames if a.info["phase"] == name]
              for name in ("solid", "liquid")}
    rows = []
    latent = None
    for bandwidth in args.bandwidths:
        h = bandwidth if bandwidth == "volume" else float(bandwidth)
        states = [phase_states(f, name, bandwidth=h) for name, f in phases.items()]
        (b,) = phase_boundary(*states)
        if latent is None:
            du_error = np.sqrt([a.energy_error ** 2 + c.energy_error ** 2
                                for a, c in zip(b.states[::2], b.states[1::2])])
            (c0, c1), cov = line_fit(b.temperatures, b.dU, du_error)
            dh_m = c0 + c1 * TM
            dh_m_error = np.sqrt(np.array([1, TM]) @ cov @ np.array([1, TM]))
            ds_m = dh_m / (BOLTZMANN_EV * TM)
            ds_m_error = ds_m * np.hypot(dh_m_error / dh_m, TM_ERROR / TM)
            latent = (dh_m, dh_m_error, ds_m, ds_m_error)
            print(f"Cu_u3: Tm = {TM:.0f} +- {TM_ERROR:.0f} K (coexistence), latent heat "
                  f"dH_m = {dh_m * 1e3:.1f} +- {dh_m_error * 1e3:.1f} meV/atom, "
                  f"dS_m = {ds_m:.3f} +- {ds_m_error:.3f} kB/atom")
            print("sampled T (both phases): " + ", ".join(f"{t:.0f}" for t in b.temperatures))
        # kB dH at Tm: a weighted line through dH(T)
        dh_error = np.array([np.hypot(a.entropy_error, c.entropy_error)
                             for a, c in zip(b.states[::2], b.states[1::2])])
        (e0, e1), cov = line_fit(b.temperatures, b.dH, dh_error)
        dh_tm = e0 + e1 * TM
        dh_tm_error = np.sqrt(np.array([1, TM]) @ cov @ np.array([1, TM]))
        bandwidths = [s.bandwidth for s in b.states]
        rows.append((bandwidth, min(bandwidths), max(bandwidths), b.dH, dh_tm, dh_tm_error,
                     b.coexistence_temperature, b.coexistence_temperature_error))
    ds_m, ds_m_error = latent[2], latent[3]
    print(f"\n{'bandwidth':>9}  {'h (1/A)':>13}  {'kB dH at sampled T (kB/atom)':>30}  "
          f"{'kB dH(Tm)':>15}  {'fraction of dS_m':>16}  {'dG = 0 at (K)':>18}")
    for bw, hmin, hmax, dh, dh_tm, dh_err, t0, t0_err in rows:
        fraction = dh_tm / ds_m
        fraction_error = fraction * np.hypot(dh_err / dh_tm, ds_m_error / ds_m)
        hs = f"{hmin:.4f}" if abs(hmax - hmin) < 5e-5 else f"{hmin:.4f}-{hmax:.4f}"
        print(f"{bw:>9}  {hs:>13}  {', '.join(f'{x:.3f}' for x in dh):>30}  "
              f"{dh_tm:7.3f} +- {dh_err:.3f}  {fraction:8.2f} +- {fraction_error:.2f}  "
              f"{t0:8.0f} +- {t0_err:.0f}")


if __name__ == "__main__":
    main()
