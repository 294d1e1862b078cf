"""Selections of peer libraries on mean descriptors, run in their own environment.

Peers compared by scripts/benchmark_compression.py (case ``quality``) and
scripts/snap_compression.py (``--peers``); their code is called, never copied:

- scikit-matter ``skmatter.sample_selection.FPS`` (farthest-point sampling,
  from structure 0) and ``CUR`` (CUR decomposition sample selection), each run
  once to the largest size; both are greedy, so the first n picks are their
  selection of n;
- maml ``maml.sampling.direct.DIRECTSampler`` (DIRECT: standardise, PCA with
  weighted components, Birch clustering into n clusters, one structure per
  cluster, the one nearest its centre), ``structure_encoder=False`` so it
  clusters the features given, run once per size.

Input: an .npz whose arrays are named ``<dataset>`` (mean descriptors, one row
per structure) and ``<dataset>__sizes`` (the sizes wanted). Output: JSON
``{dataset: {method: {size: [indices...]}, "seconds": {method: s}}}``.

Environment (kept apart from quests' own): ``python -m venv bench-venv &&
bench-venv/bin/pip install skmatter maml``, then
``bench-venv/bin/python scripts/peer_selections.py IN.npz OUT.json``.
"""

import json
import logging
import sys
import time
import warnings

import numpy as np


def _skmatter(X, sizes):
    from skmatter.sample_selection import CUR, FPS

    out, seconds = {}, {}
    for name, make in (("skmatter_fps", lambda n: FPS(n_to_select=n, initialize=0)),
                       ("skmatter_cur", lambda n: CUR(n_to_select=n))):
        t0 = time.perf_counter()
        order = make(max(sizes)).fit(X).selected_idx_
        seconds[name] = time.perf_counter() - t0
        out[name] = {int(n): [int(i) for i in order[:n]] for n in sizes}
    return out, seconds


def _direct(X, sizes):
    from maml.sampling.direct import BirchClustering, DIRECTSampler, SelectKFromClusters

    picks, t0 = {}, time.perf_counter()
    for n in sizes:
        sampler = DIRECTSampler(structure_encoder=False,
                                clustering=BirchClustering(n=int(n), threshold_init=0.05),
                                select_k_from_clusters=SelectKFromClusters(k=1))
        picks[int(n)] = [int(i) for i in sampler.fit_transform(X)["selected_indexes"]]
    return {"maml_direct": picks}, {"maml_direct": time.perf_counter() - t0}


def main():
    source, target = sys.argv[1:3]
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    data = np.load(source)
    result = {}
    for name in data.files:
        if name.endswith("__sizes"):
            continue
        X, sizes = data[name], [int(n) for n in data[f"{name}__sizes"]]
        selections, seconds = _skmatter(X, sizes)
        direct, direct_seconds = _direct(X, sizes)
        result[name] = {**selections, **direct, "seconds": {**seconds, **direct_seconds}}
    with open(target, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
