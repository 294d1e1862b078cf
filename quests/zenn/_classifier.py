"""ZENNClassifier: classes as zentropy configurations whose weights the temperature sets.

Each class c is a configuration with an energy E_c(x) (eV) and an intrinsic
entropy S_c(x) >= 0 (units of kB), the outputs of one shared network of the
features x with two heads per class. At temperature T

    p(c | x, T) = g_c exp(-(E_c - kB T S_c) / (kB T)) / Z(x, T)
                = softmax_c(ln g_c + S_c(x) - E_c(x) / (kB T)),

the zentropy weights of ``quests.zenn.zentropy`` with F_c = E_c - kB T S_c.
Temperature enters only through 1/T, so what is learnt at some temperatures
carries to others by the Boltzmann form rather than by a network's guess.

Temperatures
------------
- given per sample (``temperature``), or
- learnt per source (``sources``, an integer per sample): every source gets
  a temperature parameter. The logits are affine in beta = 1/(kB T), and the
  likelihood does not change under E_c -> l E_c, beta_s - beta_0 -> (beta_s -
  beta_0) / l, S_c -> S_c + beta_0 (l - 1) E_c for any l > 0: with one known
  temperature the others are not identifiable. So the temperatures of at
  least two sources must be known and different (``source_temperatures={s: T,
  ...}``); the others are learnt from them.
- inferred at prediction when not given, from the inputs alone, never from
  labels: the model read as a Boltzmann distribution over inputs and classes,
  p(x, c | T) = rho(x) g_c exp(S_c(x) - E_c(x) / kB T) / Z(T), with rho the
  distribution of the training inputs, gives the inputs' likelihood
  ln p(x | T) = ln Z(x, T) - ln <Z(x', T)>_{x' ~ training inputs}. T is its
  maximiser, per sample or per source. Class labels do not fix this
  likelihood: parts A(x) of every E_c and B(x) >= 0 of every S_c common to
  all classes cancel in p(c | x, T). So E_c = A + e_c and S_c = B + s_c,
  with e_c, s_c learnt from the labels only and A, B (a second network)
  from the training inputs' own log-likelihood at their temperatures,
  weighted by ``input_weight``, with e_c and s_c held fixed: the inputs'
  term never moves the classifier. With ``input_weight=0`` a temperature
  must be given at prediction.
- none at all (``fit(X, y)``): every sample at one temperature, and the
  model is a softmax classifier of S_c - E_c / kB T with E_c in units of kB T.
"""

import json
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from quests._errors import InvalidInputError, QuestsWarning
from quests._units import BOLTZMANN_EV
from quests.zenn._model import _check_budget, _mlp, _model_digest, _torch

__all__ = ["ZENNClassifier"]

#: training inputs kept in the model as the reference distribution rho of the input likelihood
MAX_REFERENCE_INPUTS = 2048
#: inputs per training step in the input likelihood, and inputs normalising it
INPUT_SAMPLE = 512
#: points of the log-spaced grid on which the input likelihood is maximised over T
TEMPERATURE_GRID_POINTS = 241
#: the search for T spans [min T / factor, max T * factor] of the training temperatures
TEMPERATURE_SEARCH_FACTOR = 3.0


def _build(torch, spec):
    """The torch module of a ZENNClassifier with settings ``spec`` (a dict)."""

    class _Module(torch.nn.Module):
        def __init__(self):
            super().__init__()
            n_in, n_classes = spec["n_features"], spec["n_classes"]
            act = {"tanh": torch.nn.Tanh, "silu": torch.nn.SiLU}[spec["activation"]]
            if n_in and spec["hidden"]:
                self.trunk = _mlp(torch, n_in, spec["hidden"], act)[:-1]  # no output layer
                width = spec["hidden"][-1]
            else:  # no features: E_c and S_c are one number each
                self.trunk, width = None, n_in
            self.energy_weight = torch.nn.Parameter(
                torch.randn(n_classes, width, dtype=torch.float64) / math.sqrt(max(width, 1)))
            self.energy_bias = torch.nn.Parameter(torch.zeros(n_classes, dtype=torch.float64))
            self.entropy_weight = torch.nn.Parameter(
                torch.randn(n_classes, width, dtype=torch.float64) / math.sqrt(max(width, 1)),
                requires_grad=spec["entropy"])
            self.entropy_bias = torch.nn.Parameter(torch.zeros(n_classes, dtype=torch.float64),
                                                   requires_grad=spec["entropy"])
            n_sources = len(spec["sources"])
            self.log_source_t = torch.nn.Parameter(
                torch.tensor(np.log(spec["source_init"]), dtype=torch.float64)
                if n_sources else torch.zeros(0, dtype=torch.float64))
            # the class-independent parts A(x) of every E_c and B(x) of every S_c cancel in
            # p(c | x, T); they shape only the inputs' likelihood, from which they are learnt
            self.common = None
            if spec["input_model"]:
                self.common = _mlp(torch, n_in, spec["hidden"], act)
                self.common[-1] = torch.nn.Linear(self.common[-1].in_features, 2)
            for name in ("x_mean", "x_scale", "energy_unit", "kb"):
                self.register_buffer(name, torch.tensor(spec[name], dtype=torch.float64))
            self.register_buffer("log_g", torch.log(torch.tensor(spec["multiplicities"],
                                                                 dtype=torch.float64)))
            self.register_buffer("source_known", torch.tensor(spec["source_known"],
                                                              dtype=torch.bool))
            self.register_buffer("reference_x", torch.zeros(spec["n_reference"], n_in,
                                                            dtype=torch.float64))

        def terms(self, x):
            """x (n, n_features) -> the class parts of E (n, C) in eV and of S (n, C) in kB."""
            z = (x - self.x_mean) / self.x_scale
            h = z if self.trunk is None else self.trunk(z)
            energies = (h @ self.energy_weight.T + self.energy_bias) * self.energy_unit
            if spec["entropy"]:
                entropies = torch.nn.functional.softplus(h @ self.entropy_weight.T
                                                         + self.entropy_bias)
            else:
                entropies = torch.zeros_like(energies)
            return energies, entropies

        def common_terms(self, x):
            """x (n, n_features) -> A (n,) in eV and B (n,) >= 0 in kB (zeros without them)."""
            if self.common is None:
                zero = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
                return zero, zero
            out = self.common((x - self.x_mean) / self.x_scale)
            return out[:, 0] * self.energy_unit, torch.nn.functional.softplus(out[:, 1])

        def log_z(self, energies, entropies, common_energy, common_entropy, t):
            """ln Z(x, T) = B - A / kB T + ln sum_c g_c exp(S_c - E_c / kB T), broadcast."""
            return (common_entropy - common_energy / (self.kb * t[..., 0])
                    + torch.logsumexp(self.logits(energies, entropies, t), -1))

        def logits(self, energies, entropies, t):
            """ln g_c + S_c - E_c / (kB T), broadcast: terms (..., C), t (..., 1)."""
            return self.log_g + entropies - energies / (self.kb * t)

        def source_temperatures(self):
            known = torch.tensor(spec["source_init"], dtype=torch.float64,
                                 device=self.log_source_t.device)
            return torch.where(self.source_known, known, torch.exp(self.log_source_t))

    return _Module()


def _log_mean_exp(values, dim):
    return values.logsumexp(dim) - math.log(values.shape[dim])


def _input_nll(module, x, energies, entropies, t, rows, ref):
    """-mean_i ln p(x_i | T_i) = -mean_i [ln Z(x_i, T_i) - ln <Z(x_j, T_i)>_j], j in ``ref``.

    x (n, n_features); energies, entropies (n, C), the class parts, and t (n,), all
    detached (the labels alone set them); rows: indices i of the inputs whose likelihood
    counts; ref: indices j of the normalising inputs (random samples of the training set).
    """
    a, b = module.common_terms(x)
    own = module.log_z(energies[rows], entropies[rows], a[rows], b[rows], t[rows, None])
    # (n, m): every sample's temperature applied to the reference inputs
    cross = module.log_z(energies[ref][None], entropies[ref][None], a[ref][None],
                         b[ref][None], t[rows, None, None])
    return -(own - _log_mean_exp(cross, 1)).mean()


class ZENNClassifier(ClassifierMixin, BaseEstimator):
    """Zentropy classifier: p(c | x, T) = softmax_c(ln g_c + S_c(x) - E_c(x) / (kB T)).

    A scikit-learn estimator. Each class is a configuration with an energy
    E_c(x) (eV) and an intrinsic entropy S_c(x) >= 0 (kB), heads of one
    network of the features; T is given per sample, learnt per source, or
    inferred from the inputs (module docstring of ``quests.zenn._classifier``).

    Parameters
    ----------
    hidden : tuple of int, default=(32, 32)
        Hidden layer widths of the shared network (as ``ZENN``'s ``hidden``).
    kb : float, default=8.617333262e-5
        Boltzmann's constant in the units of energy per temperature (eV/K with
        T in K; 1 for reduced units).
    multiplicities : sequence of floats, optional
        g_c per class, in the order of ``classes_`` (default 1 each).
    entropy : bool, default=True
        Learn S_c; False keeps S_c = 0 (the published plain network,
        softmax(-E_c / kB T)).
    activation : {'tanh', 'silu'}, default='tanh'
    alpha : float, default=1e-4
        L2 penalty on the network's weights (mean over weights, as a loss term).
    input_weight : float, default=1.0
        Weight of the training inputs' own log-likelihood at their
        temperatures, which temperature inference at prediction needs (0
        turns it and the inference off).
    learning_rate : float, default=1e-2
    max_iter : int, default=1000
        Full-batch Adam epochs (cosine-annealed learning rate).
    lbfgs_steps : int, default=0
        L-BFGS iterations after Adam.
    random_state : int, RandomState or None, default=None
        Seeds the weights and the reference sample (scikit-learn's convention:
        an int gives the same model every time).
    device : str or None, default=None
        torch device; None: CUDA when present, else CPU. Always float64.
    verbose : bool, default=False

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    n_features_in_ : int
    temperature_mode_ : {'none', 'given', 'sources'}
    source_temperatures_ : dict source -> T (K), with ``sources`` only
    training_temperatures_ : (min, max) of the temperatures trained on
    module_ : torch.nn.Module
    history_ : list of float, the loss per Adam epoch, then per 20 L-BFGS iterations

    Examples
    --------
    Two classes whose weights follow a Boltzmann law in T (class 1 is 0.1 eV
    higher and has 1.5 kB more entropy), learnt from their weights at 600-900 K
    without features, and asked at 1500 K:

    >>> t = np.linspace(600.0, 900.0, 31)
    >>> p1 = 1 / (1 + np.exp(0.1 / (BOLTZMANN_EV * t) - 1.5))
    >>> clf = ZENNClassifier(hidden=(), random_state=0, max_iter=300, lbfgs_steps=40)
    >>> clf = clf.fit_distributions(np.zeros((31, 0)), np.c_[1 - p1, p1], temperature=t)
    >>> p = clf.predict_proba(np.zeros((1, 0)), temperature=1500.0)
    >>> truth = 1 / (1 + np.exp(0.1 / (BOLTZMANN_EV * 1500.0) - 1.5))
    >>> p.shape, round(float(p[0, 1]), 4), round(float(truth), 4)
    ((1, 2), 0.674, 0.674)
    >>> e, s = clf.energies_and_entropies(np.zeros((1, 0)))
    >>> round(float(e[0, 1] - e[0, 0]), 4), round(float(s[0, 1] - s[0, 0]), 4)  # eV, kB
    (0.1, 1.5)

    With labels instead (``fit(X, y, temperature=t)``) the same holds up to
    the sampling noise of the labels.
    """

    def __init__(self, hidden=(32, 32), *, kb=BOLTZMANN_EV, multiplicities=None, entropy=True,
                 activation="tanh", alpha=1e-4, input_weight=1.0, learning_rate=1e-2,
                 max_iter=1000, lbfgs_steps=0, random_state=None, device=None, verbose=False):
        self.hidden = hidden
        self.kb = kb
        self.multiplicities = multiplicities
        self.entropy = entropy
        self.activation = activation
        self.alpha = alpha
        self.input_weight = input_weight
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.lbfgs_steps = lbfgs_steps
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # -- checks ------------------------------------------------------------------------
    def _check_params(self):
        hidden = self.hidden
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                   for h in hidden):
            raise InvalidInputError(f"hidden must be a tuple of layer widths >= 1; got {hidden!r}")
        if not (isinstance(self.kb, numbers.Real) and not isinstance(self.kb, bool)
                and math.isfinite(self.kb) and self.kb > 0):
            raise InvalidInputError(f"kb must be a finite number > 0; got {self.kb!r}")
        if self.activation not in ("tanh", "silu"):
            raise InvalidInputError("activation must be 'tanh' or 'silu'")
        for name in ("alpha", "input_weight"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
                raise InvalidInputError(f"{name} must be a finite number >= 0; got {value!r}")
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0
                and math.isfinite(self.learning_rate)):
            raise InvalidInputError("learning_rate must be a finite number > 0")
        for name in ("max_iter", "lbfgs_steps"):
            if not isinstance(getattr(self, name), numbers.Integral):
                raise InvalidInputError(f"{name} must be an int")
        _check_budget(self.max_iter, self.lbfgs_steps)
        if self.device is not None:
            torch = _torch()
            try:
                kind = torch.device(self.device).type
            except (RuntimeError, TypeError):
                raise InvalidInputError(f"device must be a torch device like 'cpu' or "
                                        f"'cuda'; got {self.device!r}") from None
            if kind not in ("cpu", "cuda") or (kind == "cuda" and not torch.cuda.is_available()):
                raise InvalidInputError(f"device {self.device!r} is not available here (use "
                                        "'cpu', or 'cuda' on a machine with a CUDA GPU)")
        return [int(h) for h in hidden]

    def _validate_x(self, X, reset, y=None):
        from sklearn.utils import check_array, check_X_y

        try:
            if y is None:
                X = check_array(X, dtype=np.float64, ensure_min_features=0)
            else:
                X, y = check_X_y(X, y, dtype=np.float64, ensure_min_features=0)
        except ValueError as exc:
            raise InvalidInputError(" ".join(str(exc).split())) from None
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise InvalidInputError(f"X has {X.shape[1]} features, but ZENNClassifier is "
                                    f"expecting {self.n_features_in_} features as input")
        return X if y is None else (X, y)

    @staticmethod
    def _check_temperature(temperature, n, name="temperature"):
        try:
            t = np.asarray(temperature, dtype=float)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name} must be numbers (K); got {temperature!r:.60}") \
                from None
        if t.ndim == 0:
            t = np.full(n, float(t))
        if t.shape != (n,):
            raise InvalidInputError(f"{name} must be one number or one per sample ({n}); "
                                    f"got shape {t.shape}")
        if not np.all(np.isfinite(t)) or np.any(t <= 0):
            what = "values <= 0" if np.all(np.isfinite(t)) else "NaN or infinite values"
            raise InvalidInputError(f"{name} must be finite and > 0 (K); got {what}")
        return t

    @staticmethod
    def _check_sources(sources, n):
        s = np.asarray(sources)
        if s.shape != (n,):
            raise InvalidInputError(f"sources must hold one integer per sample ({n}); got shape "
                                    f"{s.shape}")
        if s.dtype.kind not in "iu":
            if s.dtype.kind == "f" and np.all(np.isfinite(s)) and np.all(s == np.round(s)):
                s = s.astype(np.int64)
            else:
                raise InvalidInputError("sources must be integers (one source id per sample)")
        return s.astype(np.int64)

    def _temperature_inputs(self, n, temperature, sources, source_temperatures):
        """Per-sample temperatures (or None) and source ids (or None) for fit."""
        if temperature is not None and sources is not None:
            raise InvalidInputError("give temperature or sources, not both: sources are for "
                                    "samples whose temperature is unknown")
        if source_temperatures is not None and sources is None:
            raise InvalidInputError("source_temperatures needs sources")
        if temperature is not None:
            return self._check_temperature(temperature, n), None
        if sources is not None:
            return None, self._check_sources(sources, n)
        return None, None

    # -- training ------------------------------------------------------------------------
    def _setup(self, X, n_classes, temperature, sources, source_temperatures):
        torch = _torch()
        hidden = self._check_params()
        from sklearn.utils import check_random_state

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        # a refit forgets what an earlier fit learnt or was told
        for name in ("source_temperatures_", "metadata_"):
            self.__dict__.pop(name, None)
        g = self.multiplicities
        try:
            g = [1.0] * n_classes if g is None else [float(m) for m in g]
        except (TypeError, ValueError):
            g = []
        if len(g) != n_classes or not all(math.isfinite(m) and m > 0 for m in g):
            raise InvalidInputError(f"give {n_classes} multiplicities > 0, one per class; got "
                                    f"{self.multiplicities!r}")
        spec = {"n_features": int(X.shape[1]), "n_classes": int(n_classes), "hidden": hidden,
                "entropy": bool(self.entropy), "activation": self.activation,
                "kb": float(self.kb), "multiplicities": g,
                "sources": [], "source_init": [], "source_known": []}
        scale = X.std(axis=0) if X.shape[0] else np.ones(X.shape[1])
        spec["x_mean"] = X.mean(axis=0).tolist()
        spec["x_scale"] = np.where(scale > 0, scale, 1.0).tolist()
        if temperature is not None:
            mode, t_ref = "given", float(np.median(temperature))
            t_range = (float(temperature.min()), float(temperature.max()))
        elif sources is not None:
            mode = "sources"
            ids = np.unique(sources)
            known = {} if source_temperatures is None else dict(source_temperatures)
            for key, value in known.items():
                if key not in set(ids.tolist()):
                    raise InvalidInputError(f"source_temperatures names source {key!r}, which "
                                            "no sample has")
                self._check_temperature(value, 1, f"the temperature of source {key}")
            values = np.array([float(v) for v in known.values()])
            if np.unique(values).size < 2:
                raise InvalidInputError(
                    "with sources, give the temperatures of at least two sources, different "
                    "ones (source_temperatures={source: T, ...}): the model's logits are "
                    "affine in 1/T, and an affine map is fixed by two of its points only")
            t_ref = float(np.exp(np.log(values).mean()))
            spec["sources"] = ids.tolist()
            spec["source_known"] = [int(i) in known for i in ids]
            spec["source_init"] = [float(known.get(int(i), t_ref)) for i in ids]
            t_range = (float(values.min()), float(values.max()))
        else:
            mode, t_ref, t_range = "none", 1.0 / float(self.kb), None
        # energies in units of kB T at a typical training temperature: the networks' outputs
        # are then O(1) whatever the units (tenths of an eV at 1000 K with kb in eV/K)
        spec["energy_unit"] = float(self.kb) * t_ref
        spec["temperature_mode"], spec["t_ref"], spec["t_range"] = mode, t_ref, t_range
        spec["input_weight"] = float(self.input_weight)
        # without features every input has the same Z(x, T): nothing to learn from them
        spec["input_model"] = bool(self.input_weight > 0 and mode != "none" and X.shape[1])
        n_ref = min(X.shape[0], MAX_REFERENCE_INPUTS)
        spec["n_reference"] = n_ref
        torch.manual_seed(seed)
        self.spec_, self.seed_ = spec, seed
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.module_ = _build(torch, spec).double().to(device)
        with torch.no_grad():
            pick = np.sort(rng.choice(X.shape[0], n_ref, replace=False))
            self.module_.reference_x.copy_(torch.tensor(X[pick]))
        self._set_fitted_attributes()
        return torch, device

    def _set_fitted_attributes(self):
        spec = self.spec_
        self.temperature_mode_ = spec["temperature_mode"]
        self.training_temperatures_ = None if spec["t_range"] is None else tuple(spec["t_range"])
        self.n_features_in_ = spec["n_features"]

    def _train(self, torch, device, X, sample_t, sample_source, nll_fn):
        """Adam, then L-BFGS, on two losses of disjoint parameters: nll_fn(logits) + L2 for
        the classes (and source temperatures), the inputs' likelihood + L2 for A(x), B(x).

        The inputs' term sees the class terms and temperatures detached, Adam steps each
        parameter on its own, and L-BFGS runs on each loss separately (a shared line
        search would couple them): the classifier is what it would be without it.
        """
        from quests._progress import progress_bar

        module = self.module_
        xt = torch.tensor(X, device=device)
        if sample_source is not None:
            index = torch.tensor(np.searchsorted(self.spec_["sources"], sample_source),
                                 device=device)
        t_given = None if sample_t is None else torch.tensor(sample_t, device=device)
        common = set() if module.common is None else {id(p) for p in module.common.parameters()}
        groups = {"classes": [p for p in module.parameters()
                              if p.requires_grad and id(p) not in common],
                  "inputs": [p for p in module.parameters() if id(p) in common]}
        generator = torch.Generator().manual_seed(self.seed_)
        n_ref = min(X.shape[0], INPUT_SAMPLE)
        with_inputs = self.spec_["input_model"]

        def penalty(group):
            """alpha x the mean square of the group's weight matrices (not biases)."""
            weights = [p for p in groups[group] if p.dim() == 2]
            n = sum(p.numel() for p in weights)
            if not (self.alpha and n):
                return 0.0
            return self.alpha * sum(p.pow(2).sum() for p in weights) / n

        def temperatures():
            if t_given is not None:
                return t_given
            if sample_source is not None:
                return module.source_temperatures()[index]
            return torch.full((X.shape[0],), self.spec_["t_ref"], dtype=torch.float64,
                              device=device)

        def class_loss():
            """The classes' loss, and the class terms and temperatures it used, detached."""
            energies, entropies = module.terms(xt)
            t = temperatures()
            loss = nll_fn(module.logits(energies, entropies, t[:, None])) + penalty("classes")
            return loss, (energies.detach(), entropies.detach(), t.detach())

        def input_loss(batch, fixed):
            return self.input_weight * _input_nll(module, xt, *fixed, *batch) \
                + penalty("inputs")

        def draw():
            """Fresh seeded samples: inputs whose likelihood counts, and inputs normalising it."""
            return tuple(torch.randperm(X.shape[0], generator=generator)[:n_ref].to(device)
                         for _ in range(2))

        params = groups["classes"] + (groups["inputs"] if with_inputs else [])
        optimizer = torch.optim.Adam(params, lr=self.learning_rate)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, max(self.max_iter, 1), eta_min=self.learning_rate / 100)
        self.history_ = []
        with progress_bar(self.max_iter + self.lbfgs_steps, "training ZENN classifier",
                          self.verbose, unit="epoch") as bar:
            for _ in range(self.max_iter):
                optimizer.zero_grad()
                loss, fixed = class_loss()
                if with_inputs:
                    loss = loss + input_loss(draw(), fixed)
                loss.backward()
                optimizer.step()
                schedule.step()
                self.history_.append(loss.item())
                bar.update()
            if self.lbfgs_steps:
                batch = draw()  # L-BFGS needs one fixed loss
                names = ["classes"] + (["inputs"] if with_inputs else [])
                lbfgs = {name: torch.optim.LBFGS(groups[name], lr=1.0, max_iter=20,
                                                 history_size=50, tolerance_grad=1e-12,
                                                 tolerance_change=1e-14,
                                                 line_search_fn="strong_wolfe")
                         for name in names}

                def closure(name, fixed):
                    lbfgs[name].zero_grad()
                    value = class_loss()[0] if name == "classes" else input_loss(batch, fixed)
                    value.backward()
                    return value

                remaining = self.lbfgs_steps
                while remaining > 0:
                    total, fixed = 0.0, None
                    for name in names:
                        if name == "inputs":  # the class terms the classes' step left
                            with torch.no_grad():
                                fixed = class_loss()[1]
                        lbfgs[name].param_groups[0]["max_iter"] = min(20, remaining)
                        total += lbfgs[name].step(
                            lambda name=name, fixed=fixed: closure(name, fixed)).item()
                    self.history_.append(total)
                    bar.update(min(20, remaining))
                    remaining -= 20
        self.n_iter_ = self.max_iter + self.lbfgs_steps
        if not np.isfinite(self.history_[-1]):
            raise InvalidInputError("training diverged (loss is not finite): lower the "
                                    "learning rate")
        if sample_source is not None:
            with torch.no_grad():
                values = module.source_temperatures().cpu().numpy()
            self.source_temperatures_ = {int(s): float(v)
                                         for s, v in zip(self.spec_["sources"], values)}
            # inference searches around every source's temperature, learnt ones included
            self.spec_["t_range"] = [float(values.min()), float(values.max())]
            self._set_fitted_attributes()
        return self

    def fit(self, X, y, temperature=None, sources=None, source_temperatures=None):
        """Learn E_c and S_c by cross-entropy of the labels y at their temperatures.

        X : (n_samples, n_features) (zero features allowed: the weights then
        depend on T alone); y : (n_samples,) labels, at least two classes;
        temperature : (n_samples,) or one number, K (or the units of 1/kb);
        sources : (n_samples,) integers, instead of temperature: one learnt
        temperature per source; source_temperatures : dict source -> known T
        (at least two, different). Returns self.
        """
        from sklearn.utils.multiclass import check_classification_targets

        if y is None:
            raise InvalidInputError("ZENNClassifier requires y to be passed, but the target y "
                                    "is None")
        X, y = self._validate_x(X, reset=True, y=y)
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        if y.dtype.kind == "f" and np.all(y == np.round(y)):
            y = y.astype(np.int64)  # labels read as floats (extxyz, CSV): keep them integers
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise InvalidInputError(f"the labels hold one class only ({self.classes_[0]!r}): a "
                                    "classifier needs at least two classes")
        t, s = self._temperature_inputs(X.shape[0], temperature, sources, source_temperatures)
        torch, device = self._setup(X, self.classes_.size, t, s, source_temperatures)
        target = torch.tensor(codes, device=device)

        def nll(logits):
            return torch.nn.functional.cross_entropy(logits, target)

        return self._train(torch, device, X, t, s, nll)

    def fit_distributions(self, X, probabilities, temperature=None, sources=None,
                          source_temperatures=None):
        """Learn from class distributions (n_samples, n_classes) by Jensen-Shannon divergence.

        As ``fit``, with a distribution over the classes per sample instead of a
        label (rows are normalised); ``classes_`` is 0..n_classes-1. Returns self.
        """
        X = self._validate_x(X, reset=True)
        try:
            p = np.asarray(probabilities, dtype=float)
        except (TypeError, ValueError):
            raise InvalidInputError("probabilities must be numbers") from None
        if p.ndim != 2 or p.shape[0] != X.shape[0] or p.shape[1] < 2:
            raise InvalidInputError(f"probabilities must have shape ({X.shape[0]}, n_classes >= "
                                    f"2); got {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p.sum(axis=1) <= 0):
            raise InvalidInputError("probabilities must be finite, >= 0, with a positive sum "
                                    "per sample")
        p = p / p.sum(axis=1, keepdims=True)
        self.classes_ = np.arange(p.shape[1])
        t, s = self._temperature_inputs(X.shape[0], temperature, sources, source_temperatures)
        torch, device = self._setup(X, p.shape[1], t, s, source_temperatures)
        target = torch.tensor(p, device=device)

        def js(logits):
            q = torch.softmax(logits, 1)
            m = 0.5 * (q + target)
            return 0.5 * (torch.where(target > 0, target * torch.log(target / m), 0.0).sum(1)
                          + torch.where(q > 0, q * torch.log(q / m), 0.0).sum(1)).mean()

        return self._train(torch, device, X, t, s, js)

    # -- prediction ----------------------------------------------------------------------
    def _check_fitted(self):
        from sklearn.exceptions import NotFittedError

        if not hasattr(self, "module_"):
            raise NotFittedError("this ZENNClassifier is not fitted yet: call fit() first")

    def _tensor(self, torch, array):
        return torch.tensor(array, device=self.module_.x_mean.device)

    def energies_and_entropies(self, X):
        """E_c(x) (n, C) in eV (in kB T without temperatures) and S_c(x) (n, C) in kB.

        Each includes the class-independent part A(x), B(x) learnt from the
        inputs' likelihood (zero without it), which cancels in p(c | x, T).
        """
        self._check_fitted()
        torch = _torch()
        X = self._validate_x(X, reset=False)
        with torch.no_grad():
            x = self._tensor(torch, X)
            energies, entropies = self.module_.terms(x)
            a, b = self.module_.common_terms(x)
        return ((energies + a[:, None]).cpu().numpy(),
                (entropies + b[:, None]).cpu().numpy())

    def _log_likelihood_grid(self, torch, X, temperatures):
        """ln p(x_i | T_g) (n, G) up to a constant: ln Z(x_i, T) - ln <Z(x_ref, T)>."""
        module = self.module_
        with torch.no_grad():
            t = self._tensor(torch, temperatures)
            ref = module.reference_x
            norm = _log_mean_exp(module.log_z(*(v[None] for v in module.terms(ref)),
                                              *(v[None] for v in module.common_terms(ref)),
                                              t[:, None, None]), 1)
            out = []
            for start in range(0, X.shape[0], 4096):
                x = self._tensor(torch, X[start:start + 4096])
                e, s = module.terms(x)
                a, b = module.common_terms(x)
                out.append(module.log_z(e[:, None], s[:, None], a[:, None], b[:, None],
                                        t[None, :, None]) - norm)
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, t.numel()))

    def infer_temperature(self, X, sources=None):
        """Temperatures (n_samples,) that maximise the inputs' likelihood, from X alone.

        Per sample, or per source when ``sources`` is given (all of a source's
        samples share one T). ln p(x | T) = ln Z(x, T) - ln <Z(x', T)> over
        the training inputs x' (module docstring); the maximiser is searched
        on a log grid over [min, max] of the training temperatures widened by
        a factor 3 each way and refined by a parabola in ln T. A maximum on
        the edge of that range is returned with a QuestsWarning.
        """
        self._check_fitted()
        torch = _torch()
        X = self._validate_x(X, reset=False)
        if self.temperature_mode_ == "none":
            raise InvalidInputError("this model was trained without temperatures: there is "
                                    "no temperature to infer")
        if self.spec_["input_weight"] == 0:
            raise InvalidInputError("this model was trained with input_weight=0, without "
                                    "the inputs' likelihood: give the temperature")
        if self.n_features_in_ == 0:
            raise InvalidInputError("without features every input looks the same at every "
                                    "temperature: give the temperature")
        low, high = self.training_temperatures_
        grid = np.geomspace(low / TEMPERATURE_SEARCH_FACTOR, high * TEMPERATURE_SEARCH_FACTOR,
                            TEMPERATURE_GRID_POINTS)
        like = self._log_likelihood_grid(torch, X, grid)
        if sources is None:
            groups, rows = np.arange(X.shape[0]), like
        else:
            s = self._check_sources(sources, X.shape[0])
            ids, groups = np.unique(s, return_inverse=True)
            rows = np.zeros((ids.size, grid.size))
            np.add.at(rows, groups, like)
        best = rows.argmax(axis=1) if rows.size else np.zeros(0, dtype=int)
        log_grid = np.log(grid)
        out = np.exp(log_grid[best])
        inner = (best > 0) & (best < grid.size - 1)
        if np.any(~inner):
            warnings.warn(f"{int((~inner).sum())} inferred temperatures lie on the edge of the "
                          f"search range [{grid[0]:.4g}, {grid[-1]:.4g}]: the inputs' "
                          "likelihood keeps rising past it", QuestsWarning, stacklevel=2)
        i = np.flatnonzero(inner)
        if i.size:
            b = best[i]
            y0, y1, y2 = rows[i, b - 1], rows[i, b], rows[i, b + 1]
            curvature = y0 - 2 * y1 + y2
            step = log_grid[1] - log_grid[0]
            # vertex of the parabola through the three points (concave only)
            concave = curvature < 0
            shift = np.where(concave, 0.5 * (y0 - y2) / np.where(concave, curvature, -1.0), 0.0)
            out[i] = np.exp(log_grid[b] + np.clip(shift, -0.5, 0.5) * step)
        return out[groups]

    def _prediction_temperatures(self, X, temperature, sources):
        n = X.shape[0]
        if temperature is not None and sources is not None:
            raise InvalidInputError("give temperature or sources, not both")
        if self.temperature_mode_ == "none" and temperature is not None:
            raise InvalidInputError("this model was trained without temperatures: its energies "
                                    "are in units of one unknown kB T, so it takes none")
        if temperature is not None:
            return self._check_temperature(temperature, n)
        if self.temperature_mode_ == "none":
            if sources is not None:
                raise InvalidInputError("this model was trained without sources")
            return np.full(n, self.spec_["t_ref"])
        if sources is None:
            return self.infer_temperature(X)
        s = self._check_sources(sources, n)
        out = np.empty(n)
        learnt = getattr(self, "source_temperatures_", {})
        new = ~np.isin(s, list(learnt))
        for source, value in learnt.items():
            out[s == source] = value
        if np.any(new):
            out[new] = self.infer_temperature(X[new], sources=s[new])
        return out

    def predict_log_proba(self, X, temperature=None, sources=None):
        """ln p(c | x, T) (n_samples, n_classes); T given, per source, or inferred."""
        self._check_fitted()
        torch = _torch()
        X = self._validate_x(X, reset=False)
        t = self._prediction_temperatures(X, temperature, sources)
        with torch.no_grad():
            energies, entropies = self.module_.terms(self._tensor(torch, X))
            logits = self.module_.logits(energies, entropies, self._tensor(torch, t)[:, None])
            return torch.log_softmax(logits, 1).cpu().numpy()

    def predict_proba(self, X, temperature=None, sources=None):
        """p(c | x, T) (n_samples, n_classes), columns in the order of ``classes_``.

        temperature : one number or one per sample; sources : one id per
        sample (trained sources use their learnt temperature, others one
        inferred per source); neither: T inferred per sample (models trained
        without temperatures use their one temperature).
        """
        return np.exp(self.predict_log_proba(X, temperature, sources))

    def predict(self, X, temperature=None, sources=None):
        """The most probable class per sample (n_samples,)."""
        proba = self.predict_proba(X, temperature, sources)
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X, y, sample_weight=None, temperature=None, sources=None):
        """Mean accuracy of ``predict(X, temperature, sources)`` against y."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, temperature, sources),
                              sample_weight=sample_weight)

    # -- persistence -----------------------------------------------------------------------
    def __getstate__(self):
        # the torch module's class is built at run time: pickle its settings and weights
        state = dict(self.__dict__)
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {k: v.cpu() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        self.__dict__.update(state)
        if module_state is not None:
            torch = _torch()
            self.module_ = _build(torch, self.spec_).double()
            self.module_.load_state_dict(module_state)

    def _payload_spec(self):
        spec = dict(self.spec_)
        spec["params"] = {key: value for key, value in self.get_params().items()
                          if key not in ("random_state", "device")}
        spec["params"]["hidden"] = list(self.spec_["hidden"])
        classes = self.classes_.tolist()
        if not all(isinstance(c, (int, str)) for c in classes):
            raise InvalidInputError("only models with integer or string class labels can be "
                                    "saved")
        spec["classes"] = classes
        spec["n_iter"] = int(self.n_iter_)
        spec["source_temperatures"] = {str(k): v for k, v in
                                       getattr(self, "source_temperatures_", {}).items()}
        return spec

    def save(self, path, overwrite=False, metadata=None):
        """Write settings, classes, weights and ``metadata`` (a JSON-able dict; default the
        model's ``metadata_``, if any) atomically.

        One torch file, read back by ``load`` with ``weights_only=True``; a
        SHA-256 digest of its content refuses damaged files (as ``ZENN.save``).
        """
        from quests.io import atomic_write

        self._check_fitted()
        torch = _torch()
        spec = self._payload_spec()
        spec["metadata"] = metadata if metadata is not None else getattr(self, "metadata_", {})
        text = json.dumps(spec)
        state = {k: v.cpu() for k, v in self.module_.state_dict().items()}
        history = [float(h) for h in self.history_]
        payload = {"kind": "ZENNClassifier", "spec": text, "seed": self.seed_, "state": state,
                   "history": history, "sha256": _model_digest(text, self.seed_, state, history)}
        return atomic_write(path, lambda handle: torch.save(payload, handle), overwrite, "wb")

    @classmethod
    def load(cls, path, device=None):
        """A fitted ZENNClassifier from ``save``; a damaged or altered file is refused.

        ``metadata_`` holds the dict given to ``save``.
        """
        from quests.io import check_readable

        torch = _torch()
        check_readable(path)
        try:
            payload = torch.load(path, weights_only=True, map_location="cpu")
            if payload.get("kind") != "ZENNClassifier":
                raise KeyError("kind")
            spec = json.loads(payload["spec"])
            digest = _model_digest(payload["spec"], payload["seed"], payload["state"],
                                   payload["history"])
            written = payload["sha256"]
            params = {**spec["params"], "hidden": tuple(spec["params"]["hidden"])}
            classes, n_iter = spec["classes"], spec["n_iter"]
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
            raise InvalidInputError(f"{path} is not a ZENN classifier file "
                                    f"({type(exc).__name__})") from None
        if written != digest:
            raise InvalidInputError(f"{path} is damaged: its weights do not match the digest "
                                    "written with them")
        model = cls(**params, device=device)
        model._check_params()  # a device this machine lacks is refused by name
        model.spec_, model.seed_ = spec, payload["seed"]
        target = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.module_ = _build(torch, spec).double()
        model.module_.load_state_dict(payload["state"])
        model.module_.to(target)
        model._set_fitted_attributes()
        model.classes_ = np.array(classes)
        model.n_iter_ = n_iter
        if spec["source_temperatures"]:
            model.source_temperatures_ = {int(k): float(v)
                                          for k, v in spec["source_temperatures"].items()}
        model.history_ = list(payload["history"])
        model.metadata_ = spec["metadata"]
        return model
