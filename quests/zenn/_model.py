"""ZENN: a zentropy-enhanced neural network for free-energy landscapes (torch).

K configurations, each with an energy network E_k(x, T) and an intrinsic entropy
network S_k(x, T) >= 0 (softplus), combined as in zentropy theory:

    F_k = E_k - kB T S_k
    p_k = g_k exp(-F_k / (kB T) - (S_k / gamma)^2) / Z
    F   = sum_k p_k F_k + kB T sum_k p_k ln(p_k / g_k)

S_k is in units of kB; gamma = None (infinity) gives F = -kB T ln sum_k g_k
exp(-F_k / kB T). kB is a learnable temperature scale (or fixed at the physical
8.617e-5 eV/K). Inputs x (volume or any features) and T are standardised inside
the model; outputs are in the units of the training data.

Regression on free energies subtracts a trend first: a cubic polynomial in the
standardised (x, T) plus T ln T, fitted by least squares and added to every
E_k. A shift shared by all configurations passes through the zentropy formula
unchanged (p_k do not move, F moves by the shift), so the trend is exact
algebra, not an approximation; it leaves the networks the part of F that is
hard (for Fe3Pt an 11 meV residual instead of a 2.2 eV spread). On data with
fewer than three rows per trend column the trend is left out, since it would
pass through every point.
"""

import itertools
import json
import math

import numpy as np

from quests._errors import InvalidInputError
from quests._units import BOLTZMANN_EV

__all__ = ["ZENN"]


def _torch():
    from quests._optional import require

    return require("torch", "the ZENN model", "zenn", note=" (torch==2.13.0 on these machines)")


def _mlp(torch, n_in, hidden, activation):
    layers, width = [], n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), activation()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


#: total degree of the polynomial trend in the standardised (x, T)
TREND_DEGREE = 3


def _trend_features(torch, z):
    """Columns of the trend at standardised inputs z (n, n_features + 1), T last in (0, 1].

    Every monomial of total degree <= TREND_DEGREE, then s ln s (s = T / max T),
    the high-temperature shape of a harmonic free energy.
    """
    columns = [torch.ones_like(z[:, 0])]
    for degree in range(1, TREND_DEGREE + 1):
        for combo in itertools.combinations_with_replacement(range(z.shape[1]), degree):
            columns.append(torch.prod(z[:, list(combo)], dim=1))
    s = z[:, -1]
    columns.append(s * torch.log(s))
    return torch.stack(columns, 1)


def _build(torch, spec):
    """The torch module of a ZENN with settings ``spec`` (a dict)."""

    class _Module(torch.nn.Module):
        def __init__(self):
            super().__init__()
            n_in = spec["n_features"] + 1
            act = {"tanh": torch.nn.Tanh, "silu": torch.nn.SiLU}[spec["activation"]]
            self.energy = torch.nn.ModuleList(
                [_mlp(torch, n_in, spec["hidden"], act) for _ in range(spec["n_configurations"])])
            self.entropy = torch.nn.ModuleList(
                [_mlp(torch, n_in, spec["hidden"], act) for _ in range(spec["n_configurations"])]
                if spec["entropy"] else [])
            self.log_kb = torch.nn.Parameter(torch.tensor(math.log(spec["kb"]),
                                                          dtype=torch.float64),
                                             requires_grad=spec["learn_kb"])
            for name in ("x_mean", "x_scale", "t_scale", "f_mean", "f_scale"):
                self.register_buffer(name, torch.tensor(spec[name], dtype=torch.float64))
            self.register_buffer("log_g", torch.log(torch.tensor(spec["multiplicities"],
                                                                 dtype=torch.float64)))
            trend = spec.get("trend")
            self.register_buffer("trend", None if trend is None else
                                 torch.tensor(trend, dtype=torch.float64))

        def standardise(self, x, t):
            return torch.cat([(x - self.x_mean) / self.x_scale, (t / self.t_scale)[:, None]], 1)

        def trend_values(self, x, t):
            """The trend (n,) at rows (x, T); zeros without one."""
            if self.trend is None:
                return torch.zeros_like(t)
            return _trend_features(torch, self.standardise(x, t)) @ self.trend

        def forward(self, x, t):
            """x (n, n_features), t (n,) -> dict of F (n,), F_k, E_k, S_k, p (n, K)."""
            z = self.standardise(x, t)
            # the trend is one shift for every configuration: it passes through the sum
            energies = torch.cat([net(z) for net in self.energy], 1) * self.f_scale \
                + self.f_mean + self.trend_values(x, t)[:, None]
            kb = torch.exp(self.log_kb)
            kt = (kb * t)[:, None]
            if self.entropy:
                entropies = torch.cat([torch.nn.functional.softplus(net(z))
                                       for net in self.entropy], 1)
            else:
                entropies = torch.zeros_like(energies)
            f_k = energies - kt * entropies
            logits = self.log_g - f_k / kt
            if spec["gamma"] is not None:
                logits = logits - (entropies / spec["gamma"]) ** 2
            log_p = torch.log_softmax(logits, dim=1)
            p = torch.exp(log_p)
            f = (p * f_k).sum(1) + kt[:, 0] * (p * (log_p - self.log_g)).sum(1)
            return {"F": f, "F_k": f_k, "E_k": energies, "S_k": entropies, "p": p}

    return _Module()


def _grid_order(x, t):
    """Rows of a full (T, x) grid of one feature, at least 3 values of each: (order, dx, dT).

    ``order`` sorts the rows by T, then x (so ``values[order].reshape(n_T, n_x)``);
    dx (n_x - 1,) and dT (n_T - 1,) are the spacings. None when the rows are not such
    a grid.
    """
    if x.shape[1] != 1:
        return None
    xs, ts = np.unique(x[:, 0]), np.unique(t)
    if xs.size < 3 or ts.size < 3 or xs.size * ts.size != t.size:
        return None
    order = np.lexsort((x[:, 0], t))
    if not (np.array_equal(x[order, 0], np.tile(xs, ts.size))
            and np.array_equal(t[order], np.repeat(ts, xs.size))):
        return None
    return order, np.diff(xs), np.diff(ts)


def _divided_differences(values, dx, dt):
    """Divided differences of values (n_T, n_x): d/dx, d2/dx2, d/dT, d2/dT2 and d2/dxdT."""
    out = []
    for grid, spacing in ((values, dx), (values.T, dt)):
        first = (grid[:, 1:] - grid[:, :-1]) / spacing
        out += [first, (first[:, 1:] - first[:, :-1]) / (0.5 * (spacing[1:] + spacing[:-1]))]
    out.append((out[0][1:] - out[0][:-1]) / dt[:, None])
    return out


def _check_budget(epochs, lbfgs_steps):
    if not (epochs >= 0 and lbfgs_steps >= 0 and epochs + lbfgs_steps >= 1):
        raise InvalidInputError("training needs epochs >= 0 and lbfgs_steps >= 0, at least "
                                "one step in all")


def _model_digest(spec, seed, state, history):
    """SHA-256 of a saved model's settings, seed, weights (by name) and loss history."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(spec.encode())
    digest.update(json.dumps([seed, [float(h) for h in history]]).encode())
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


class ZENN:
    """Zentropy-enhanced neural network, trained on free energies or Boltzmann distributions.

    Parameters
    ----------
    n_configurations : int, default=2
        K.
    multiplicities : sequence of K floats, optional
        g_k (default 1 each).
    hidden : tuple of int, default=(32, 32)
        Hidden layer widths of every E_k and S_k network.
    entropy : bool, default=True
        Learn S_k; False gives the plain network (F_k = E_k).
    gamma : float or None, default=None
        Regulariser of large intrinsic entropies (None: no regulariser).
    kb : float, default=8.617333262e-5
        Initial temperature scale (eV/K for physical data; 1 for reduced units).
    learn_kb : bool, default=False
    activation : {'tanh', 'silu'}, default='tanh'
    trend : bool, default=True
        In regression (``fit``), subtract a least-squares cubic trend in (x, T)
        plus T ln T from F and add it back to every E_k (exact: a shift shared by
        all configurations passes through the zentropy formula). Not used by
        ``fit_distributions``, which has no F values.
    seed : int, default=0
        Seeds weights and the training: the same seed gives the same model.

    Attributes (after fit)
    ----------------------
    module_ : torch.nn.Module
    history_ : list of float, the loss per Adam epoch, then per 20 L-BFGS iterations

    Examples
    --------
    Learn the zentropy F(V, T) of two configurations (g = 1 and 3, the second smaller,
    40 meV higher and with an entropy of 2 kB) on a 6 x 7 grid, briefly:

    >>> from quests.zenn import zentropy
    >>> t, v = np.linspace(100.0, 1000.0, 6), np.linspace(10.0, 12.0, 7)
    >>> f_k = np.stack([0.5 * (v - 11.2) ** 2 + 0 * t[:, None],
    ...                 0.5 * (v - 10.6) ** 2 + 0.04 - 2 * BOLTZMANN_EV * t[:, None]])
    >>> f = zentropy(t, v, f_k, [1.0, 3.0]).free_energy
    >>> model = ZENN(2, multiplicities=[1.0, 3.0], hidden=(8,), seed=0)
    >>> model = model.fit(np.tile(v, t.size), np.repeat(t, v.size), f.ravel(), epochs=100,
    ...                   lbfgs_steps=40)
    >>> out = model.predict([11.0, 11.0], [300.0, 900.0])
    >>> sorted(out), out["F"].shape, out["p"].shape
    (['E_k', 'F', 'F_k', 'S_k', 'p'], (2,), (2, 2))
    >>> bool(np.allclose(out["p"].sum(axis=1), 1.0) and (out["S_k"] >= 0).all())
    True

    On the (T, V) grid, for ``isobaric_properties``: F within 50 meV of the target
    (spread 150 meV) after these few steps, and p_k per configuration:

    >>> grid, p = model.free_energy_grid(t, v)
    >>> grid.shape, p.shape, bool(np.abs(grid - f).max() < 0.05)
    ((6, 7), (2, 6, 7), True)
    """

    def __init__(self, n_configurations=2, *, multiplicities=None, hidden=(32, 32),
                 entropy=True, gamma=None, kb=BOLTZMANN_EV, learn_kb=False,
                 activation="tanh", trend=True, seed=0):
        self.n_configurations = n_configurations
        self.multiplicities = multiplicities
        self.hidden = tuple(hidden)
        self.entropy = entropy
        self.gamma = gamma
        self.kb = kb
        self.learn_kb = learn_kb
        self.activation = activation
        self.trend = trend
        self.seed = seed

    # -- construction ------------------------------------------------------------
    def _spec(self, x, t, f):
        if not (isinstance(self.n_configurations, int) and self.n_configurations >= 1):
            raise InvalidInputError("n_configurations must be an int >= 1")
        g = self.multiplicities or [1.0] * self.n_configurations
        if len(g) != self.n_configurations or any(not m > 0 for m in g):
            raise InvalidInputError(f"give {self.n_configurations} multiplicities > 0")
        if self.gamma is not None and not self.gamma > 0:
            raise InvalidInputError("gamma must be > 0 or None")
        if self.activation not in ("tanh", "silu"):
            raise InvalidInputError("activation must be 'tanh' or 'silu'")
        if not self.kb > 0:
            raise InvalidInputError("kb must be > 0")
        scale = x.std(axis=0)
        spec = {"n_features": int(x.shape[1]), "n_configurations": self.n_configurations,
                "multiplicities": [float(m) for m in g], "hidden": list(self.hidden),
                "entropy": bool(self.entropy), "gamma": self.gamma, "kb": float(self.kb),
                "learn_kb": bool(self.learn_kb), "activation": self.activation,
                "x_mean": x.mean(axis=0).tolist(),
                "x_scale": np.where(scale > 0, scale, 1.0).tolist(),
                "t_scale": float(np.abs(t).max()),
                "x_min": x.min(axis=0).tolist(), "x_max": x.max(axis=0).tolist(),
                "t_min": float(t.min()), "t_max": float(t.max()),
                "use_trend": bool(self.trend), "trend": None}
        spec["f_mean"], spec["f_scale"] = 0.0, 1.0
        if f is None:
            return spec
        residual = f
        torch = _torch()
        z = torch.tensor(np.column_stack([(x - spec["x_mean"]) / spec["x_scale"],
                                          t / spec["t_scale"]]))
        columns = _trend_features(torch, z) if self.trend else None
        # a trend with nearly as many columns as rows would interpolate the data
        if columns is not None and f.size >= 3 * columns.shape[1]:
            solution = torch.linalg.lstsq(columns, torch.tensor(f)[:, None],
                                          driver="gelsd").solution[:, 0]
            spec["trend"] = solution.tolist()
            residual = f - (columns @ solution).numpy()
        spec["f_mean"] = float(residual.mean())
        # F close to a polynomial: keep the networks' scale away from zero, since they
        # still carry the mixing terms (kB T ln K and the like)
        scale = max(residual.std(), 1e-3 * f.std())
        spec["f_scale"] = float(scale) if scale > 0 else 1.0
        return spec

    def _init_module(self, spec):
        torch = _torch()
        torch.manual_seed(self.seed)
        self.spec_ = spec
        self.module_ = _build(torch, spec).double()
        return torch

    @staticmethod
    def _inputs(x, t):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        t = np.asarray(t, dtype=float).reshape(-1)
        if x.ndim != 2 or x.shape[0] != t.shape[0]:
            raise InvalidInputError(f"x must be (n,) or (n, n_features) with one T per row; "
                                    f"got {x.shape} and {t.shape}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
            raise InvalidInputError("x and T must be finite")
        if np.any(t <= 0):
            raise InvalidInputError("temperatures must be > 0")
        return x, t

    # -- training ------------------------------------------------------------------
    def _train(self, torch, loss_fn, epochs, learning_rate, verbose, lbfgs_steps):
        from quests._progress import progress_bar

        params = [p for p in self.module_.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=learning_rate)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(epochs, 1),
                                                              eta_min=learning_rate / 100)
        self.history_ = []
        with progress_bar(epochs + lbfgs_steps, "training ZENN", verbose, unit="epoch") as bar:
            for _ in range(epochs):
                optimizer.zero_grad()
                loss = loss_fn()
                loss.backward()
                optimizer.step()
                schedule.step()
                self.history_.append(loss.item())
                bar.update()
            if lbfgs_steps:
                # tolerances far below the default: losses here reach 1e-7 and less
                lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=20, history_size=50,
                                          tolerance_grad=1e-14, tolerance_change=1e-16,
                                          line_search_fn="strong_wolfe")

                def closure():
                    lbfgs.zero_grad()
                    value = loss_fn()
                    value.backward()
                    return value

                remaining = lbfgs_steps
                while remaining > 0:  # calls of at most 20 iterations, one loss entry each
                    lbfgs.param_groups[0]["max_iter"] = min(20, remaining)
                    self.history_.append(lbfgs.step(closure).item())
                    bar.update(min(20, remaining))
                    remaining -= 20
        if not np.isfinite(self.history_[-1]):
            raise InvalidInputError("training diverged (loss is not finite): lower the "
                                    "learning rate")
        return self

    def _convexity(self, torch, x, t, weight):
        """Penalty on F convex in T (heat capacity -T d2F/dT2 < 0), on the training points."""
        if not weight:
            return 0.0
        tt = t.clone().requires_grad_(True)
        f = self.module_(x, tt)["F"]
        (d1,) = torch.autograd.grad(f.sum(), tt, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), tt, create_graph=True)
        return weight * torch.relu(d2 * self.module_.t_scale ** 2 / self.module_.f_scale
                                   ).pow(2).mean()

    def fit(self, x, t, f, *, epochs=1500, learning_rate=1e-2, lbfgs_steps=1000,
            derivative_weight=1.0, convexity=0.0, verbose=False):
        """Regression on free energies: minimise mean ((F_model - F) / s)^2 (+ the terms below).

        x : (n,) or (n, n_features); t : (n,); f : (n,) free energies.
        s is the spread of F less the trend (``spec_['f_scale']``, at least 1e-3 of
        the spread of F), the scale the networks' outputs are in.
        ``derivative_weight``: when the rows form a full grid of one feature x
        and T (at least 3 values of each), the loss also matches the divided
        differences of F of first and second order (along x, along T, and the
        mixed one), each standardised by its own spread, with this weight
        (Sobolev training). V(T) sits where dF/dV = -P, a spinodal where
        d2F/dV2 = 0, S = -dF/dT, Cv = -T d2F/dT2 and the thermal expansion is
        -d2F/dVdT / (V d2F/dV2): the properties are derivatives. On scattered
        rows this term is skipped; 0 turns it off.
        ``convexity`` weighs a penalty on d2F/dT2 > 0 (a negative heat capacity),
        in units of s and max T: with the trend, s is far smaller than the spread
        of F (200 times for Fe3Pt), so a given weight acts that much more
        strongly squared; it needs second derivatives in every step, which makes
        a step about ten times dearer.
        Adam for ``epochs``, then ``lbfgs_steps`` L-BFGS iterations. Returns self.
        """
        _check_budget(epochs, lbfgs_steps)
        x, t = self._inputs(x, t)
        f = np.asarray(f, dtype=float).reshape(-1)
        if f.shape != t.shape or not np.all(np.isfinite(f)):
            raise InvalidInputError("f must hold one finite free energy per row")
        if not derivative_weight >= 0:
            raise InvalidInputError("derivative_weight must be >= 0")
        torch = self._init_module(self._spec(x, t, f))
        xt, tt, ft = (torch.tensor(a, dtype=torch.float64) for a in (x, t, f))
        scale = self.spec_["f_scale"]
        grid = _grid_order(x, t) if derivative_weight else None
        if grid is not None:
            order, dx, dt = grid
            order, dx, dt = torch.tensor(order), torch.tensor(dx), torch.tensor(dt)
            shape = (dt.numel() + 1, dx.numel() + 1)
            target = _divided_differences(ft[order].reshape(shape), dx, dt)
            # standardise each difference by the spread of what the networks must learn,
            # the differences of F less the trend; a constant one keeps scale 1
            with torch.no_grad():
                residual = ft - self.module_.trend_values(xt, tt)
            spreads = [float(max(d.std(), 1e-3 * d.abs().max())) or 1.0 for d in
                       _divided_differences(residual[order].reshape(shape), dx, dt)]

        def loss_fn():
            out = self.module_(xt, tt)["F"]
            loss = ((out - ft) / scale).pow(2).mean()
            if grid is not None:
                ours = _divided_differences(out[order].reshape(shape), dx, dt)
                loss = loss + derivative_weight * sum(
                    ((a - b) / s).pow(2).mean() for a, b, s in zip(ours, target, spreads))
            return loss + self._convexity(torch, xt, tt, convexity)

        return self._train(torch, loss_fn, epochs, learning_rate, verbose, lbfgs_steps)

    def fit_distributions(self, x, temperatures, probabilities, *, epochs=3000,
                          learning_rate=1e-2, lbfgs_steps=0, convexity=0.0, verbose=False):
        """Train on Boltzmann distributions over x: Jensen-Shannon divergence per temperature.

        x : (n_x,) or (n_x, n_features), the states; temperatures : (n_T,);
        probabilities : (n_T, n_x), each row a distribution over the states.
        The model's distribution is softmax_x(-F(x, T) / (kB T)).
        """
        _check_budget(epochs, lbfgs_steps)
        x, _ = self._inputs(x, np.ones(np.asarray(x).shape[0]))
        temps = np.asarray(temperatures, dtype=float).reshape(-1)
        p = np.asarray(probabilities, dtype=float)
        if p.shape != (temps.size, x.shape[0]):
            raise InvalidInputError(f"probabilities must have shape ({temps.size}, "
                                    f"{x.shape[0]}); got {p.shape}")
        if np.any(p < 0) or not np.all(np.isfinite(p)) or np.any(temps <= 0):
            raise InvalidInputError("probabilities must be finite and >= 0, temperatures > 0")
        p = p / p.sum(axis=1, keepdims=True)
        grid_x = np.repeat(x, temps.size, axis=0)
        grid_t = np.tile(temps, x.shape[0])
        torch = self._init_module(self._spec(grid_x, grid_t, None))
        xt = torch.tensor(grid_x, dtype=torch.float64)
        tt = torch.tensor(grid_t, dtype=torch.float64)
        target = torch.tensor(p, dtype=torch.float64)
        n_t, n_x = p.shape
        temps_t = torch.tensor(temps)[:, None]

        def loss_fn():
            out = self.module_(xt, tt)["F"].reshape(n_x, n_t).T  # (n_T, n_x)
            kt = torch.exp(self.module_.log_kb) * temps_t
            q = torch.softmax(-out / kt, dim=1)
            m = 0.5 * (q + target)
            js = 0.5 * (torch.where(target > 0, target * torch.log(target / m), 0.0).sum(1)
                        + torch.where(q > 0, q * torch.log(q / m), 0.0).sum(1))
            return js.mean() + self._convexity(torch, xt, tt, convexity)

        return self._train(torch, loss_fn, epochs, learning_rate, verbose, lbfgs_steps)

    # -- predictions -------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "module_"):
            raise AttributeError("this ZENN is not fitted yet: call fit() first")

    def predict(self, x, t):
        """F, F_k, E_k, S_k and p_k at rows (x, T): dict of arrays ((n,) or (n, K))."""
        self._check_fitted()
        torch = _torch()
        x, t = self._inputs(x, t)
        with torch.no_grad():
            out = self.module_(torch.tensor(x), torch.tensor(t))
        return {key: value.numpy() for key, value in out.items()}

    def derivatives(self, x, t, order=2):
        """Autograd derivatives of F at rows (x, T), one feature x.

        Returns a dict: F, dF/dx, dF/dT and, for order >= 2, d2F/dx2, d2F/dT2,
        d2F/dxdT; for order 3 also d3F/dx3.
        """
        self._check_fitted()
        torch = _torch()
        x, t = self._inputs(x, t)
        if x.shape[1] != 1:
            raise InvalidInputError("derivatives need one input feature (x = volume)")
        xt = torch.tensor(x[:, 0], requires_grad=True)
        tt = torch.tensor(t, requires_grad=True)
        f = self.module_(xt[:, None], tt)["F"]
        fx, ft = torch.autograd.grad(f.sum(), (xt, tt), create_graph=order > 1)
        out = {"F": f, "dF/dx": fx, "dF/dT": ft}
        if order >= 2:
            fxx, fxt = torch.autograd.grad(fx.sum(), (xt, tt), create_graph=order > 2,
                                           retain_graph=True)
            (ftt,) = torch.autograd.grad(ft.sum(), tt, retain_graph=order > 2)
            out.update({"d2F/dx2": fxx, "d2F/dxdT": fxt, "d2F/dT2": ftt})
        if order >= 3:
            (fxxx,) = torch.autograd.grad(out["d2F/dx2"].sum(), xt)
            out["d3F/dx3"] = fxxx
        return {key: value.detach().numpy() for key, value in out.items()}

    def free_energy_grid(self, temperatures, volumes):
        """F on a (T, V) grid, shape (n_T, n_V), for ``quests.zenn.isobaric_properties`` and
        ``critical_point`` (the same functions as for a zentropy sum)."""
        t = np.asarray(temperatures, dtype=float)
        v = np.asarray(volumes, dtype=float)
        out = self.predict(np.tile(v, t.size), np.repeat(t, v.size))
        return out["F"].reshape(t.size, v.size), out["p"].T.reshape(-1, t.size, v.size)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path, overwrite=False):
        """Write settings and weights to one file (torch format), atomically.

        The file holds a SHA-256 digest of the settings, weights and history:
        torch's archive reader does not check the zip CRCs, so bytes damaged
        inside a weight would otherwise load as a different model.
        """
        from quests.io import atomic_write

        self._check_fitted()
        torch = _torch()
        state = self.module_.state_dict()
        spec = json.dumps(self.spec_)
        history = [float(h) for h in self.history_]
        payload = {"spec": spec, "seed": self.seed, "state": state, "history": history,
                   "sha256": _model_digest(spec, self.seed, state, history)}
        return atomic_write(path, lambda handle: torch.save(payload, handle), overwrite, "wb")

    @classmethod
    def load(cls, path):
        """A fitted ZENN from ``save``; a damaged or altered file is refused.

        Read with ``weights_only=True`` (no pickled code runs), then checked
        against the digest written by ``save``.
        """
        from quests.io import check_readable

        torch = _torch()
        check_readable(path)  # missing, a folder, unreadable or empty: ReadError, as for any file
        try:
            payload = torch.load(path, weights_only=True)
            kind = payload.get("kind", "ZENN")
            spec = json.loads(payload["spec"])
            digest = _model_digest(payload["spec"], payload["seed"], payload["state"],
                                   payload["history"])
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
            raise InvalidInputError(f"{path} is not a ZENN model file ({type(exc).__name__})") \
                from None
        if kind != "ZENN":
            raise InvalidInputError(f"{path} holds a {kind}, not a ZENN free-energy model (use "
                                    "it with `quests zenn classify --model`)")
        if "sha256" not in payload:
            import warnings

            from quests._errors import QuestsWarning

            warnings.warn(f"{path} was saved before models carried a digest: its integrity "
                          "cannot be checked (save it again to add one)", QuestsWarning,
                          stacklevel=2)
        elif payload["sha256"] != digest:
            raise InvalidInputError(f"{path} is damaged: its weights do not match the digest "
                                    "written with them")
        model = cls(spec["n_configurations"], multiplicities=spec["multiplicities"],
                    hidden=spec["hidden"], entropy=spec["entropy"], gamma=spec["gamma"],
                    kb=spec["kb"], learn_kb=spec["learn_kb"], activation=spec["activation"],
                    trend=spec.get("use_trend", spec.get("trend") is not None),
                    seed=payload["seed"])
        model._init_module(spec)
        model.module_.load_state_dict(payload["state"])
        model.history_ = list(payload["history"])
        return model
