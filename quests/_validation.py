"""Validation at the boundary: parameter constraint tables and array checks.

Public functions declare what each parameter may be with ``validate_params``;
the check runs when the function is called and every failure reads
"The 'k' parameter of compute_descriptors must be an int >= 1. Got 0 instead."
Kernels below this layer trust their input.
"""

import functools
import inspect
import numbers

import numpy as np

from quests._errors import InvalidInputError

__all__ = [
    "Interval",
    "Options",
    "Bandwidth",
    "NEIGHBORS",
    "CUTOFF",
    "N_JOBS",
    "TILE_SIZE",
    "validate_params",
    "check_estimator_params",
    "check_descriptors",
    "as_bandwidths",
]


class Interval:
    """A real (or integer) number in a range; ``None`` bounds are open-ended."""

    def __init__(self, kind, left=None, right=None, closed="both", allow_none=False):
        self.kind = kind  # numbers.Integral or numbers.Real
        self.left = left
        self.right = right
        self.closed = closed
        self.allow_none = allow_none

    def is_valid(self, value):
        if value is None:
            return self.allow_none
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if not np.isfinite(value):
            return False
        lo_ok = self.left is None or (
            value >= self.left if self.closed in ("both", "left") else value > self.left
        )
        hi_ok = self.right is None or (
            value <= self.right if self.closed in ("both", "right") else value < self.right
        )
        return bool(lo_ok and hi_ok)

    def describe(self):
        kind = "an int" if self.kind is numbers.Integral else "a number"
        parts = []
        if self.left is not None:
            parts.append((">= " if self.closed in ("both", "left") else "> ") + repr(self.left))
        if self.right is not None:
            parts.append(("<= " if self.closed in ("both", "right") else "< ") + repr(self.right))
        text = kind + (" " + " and ".join(parts) if parts else "")
        return text + (" or None" if self.allow_none else "")

    def invalid_example(self):
        """A value that violates the constraint (for the shared constraint test)."""
        if self.left is not None:
            return self.left - 1 if self.kind is numbers.Integral else self.left - 1.0
        if self.right is not None:
            return self.right + 1
        return "not a number"


class Jobs:
    """Worker threads: None (all cores), a positive count, or -1, -2, ... (all, all but
    one, ...). Zero would mean no thread at all."""

    def is_valid(self, value):
        return value is None or (isinstance(value, numbers.Integral)
                                 and not isinstance(value, bool) and value != 0)

    def describe(self):
        return "None, an int >= 1, or -1, -2, ... (all cores, all but one, ...); not 0"

    def invalid_example(self):
        return 0


class Options:
    """One of a fixed set of values (strings or other hashables)."""

    def __init__(self, *values):
        self.values = values

    def is_valid(self, value):
        try:
            return value in self.values
        except TypeError:
            return False

    def describe(self):
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"

    def invalid_example(self):
        return "__invalid__"


class Either:
    """A value any one of ``constraints`` accepts (a bandwidth or the word 'auto')."""

    def __init__(self, *constraints):
        self.constraints = constraints

    def is_valid(self, value):
        return any(c.is_valid(value) for c in self.constraints)

    def describe(self):
        return " or ".join(c.describe() for c in self.constraints)

    def invalid_example(self):
        return self.constraints[0].invalid_example()


class Bandwidth:
    """A bandwidth in [1e-12, 1e6] 1/Å, or a non-empty 1-D sequence of them.

    The bounds keep 1/(2 h^2) and d^2/(2 h^2) finite in float64.
    """

    low, high = 1e-12, 1e6

    def is_valid(self, value):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return False
        return (arr.ndim <= 1 and arr.size > 0
                and bool(np.all(np.isfinite(arr) & (arr >= self.low) & (arr <= self.high))))

    def describe(self):
        return (f"a number in [{self.low:g}, {self.high:g}] or a 1-D sequence of such numbers "
                "(1/Å)")

    def invalid_example(self):
        return 0.0


#: constraints shared by every function that takes these parameters
NEIGHBORS = Interval(numbers.Integral, 1, None)
#: Å; below 0.001 Å 1/rc^2 overflows for no physical purpose, beyond 1000 Å
#: the periodic images of any real cell are too many to list
CUTOFF = Interval(numbers.Real, 1e-3, 1000)
N_JOBS = Jobs()
#: one bandwidth (1/Å), where a vector of them is not accepted
SCALAR_BANDWIDTH = Interval(numbers.Real, Bandwidth.low, Bandwidth.high)
TILE_SIZE = Interval(numbers.Integral, 1, None)


def validate_params(constraints):
    """Decorator: check arguments against ``constraints`` on every call."""

    def decorator(func):
        signature = inspect.signature(func)
        missing = set(constraints) - set(signature.parameters)
        if missing:  # pragma: no cover - programming error
            raise TypeError(f"constraints name unknown parameters {missing}")

        def check_params(**values):
            """Check the named parameters without calling the function."""
            for name, value in values.items():
                constraint = constraints[name]
                if not constraint.is_valid(value):
                    raise InvalidInputError(
                        f"The {name!r} parameter of {func.__name__} must be "
                        f"{constraint.describe()}. Got {value!r} instead."
                    )

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_params(**{name: bound.arguments[name] for name in constraints})
            return func(*args, **kwargs)

        wrapper._parameter_constraints = dict(constraints)
        wrapper.check_params = check_params
        return wrapper

    return decorator


def check_estimator_params(estimator):
    """Check an estimator's attributes against its class's ``_parameter_constraints``.

    Called when ``fit`` starts (never in ``__init__``, which only stores).
    """
    cls = type(estimator).__name__
    for name, constraint in type(estimator)._parameter_constraints.items():
        value = getattr(estimator, name)
        if not constraint.is_valid(value):
            raise InvalidInputError(
                f"The {name!r} parameter of {cls} must be {constraint.describe()}. "
                f"Got {value!r} instead."
            )


def check_descriptors(X, name="X", min_rows=1):
    """Return ``X`` as a C-contiguous float64 array of shape (n, d), checked.

    Raises ``InvalidInputError`` naming ``name`` if X is not 2-D, holds NaN or
    inf, or has fewer than ``min_rows`` rows.
    """
    try:
        arr = np.ascontiguousarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a numeric array: {exc}") from None
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must have shape (n_samples, n_features); got shape {arr.shape}"
        )
    if arr.shape[0] < min_rows:
        raise InvalidInputError(f"{name} needs at least {min_rows} row(s); got {arr.shape[0]}")
    if arr.shape[1] == 0:
        raise InvalidInputError(f"{name} has no features (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    return arr


def check_grouped_descriptors(X, counts, name="X"):
    """``check_descriptors(X)`` plus ``counts``, the rows of each structure in order.

    Returns X and counts as int64; raises ``InvalidInputError`` unless counts
    is a non-empty 1-D array of positive integers summing to the rows of X.
    """
    X = check_descriptors(X, name)
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.shape[0] == 0:
        raise InvalidInputError(
            f"counts must be a 1-D array with one entry per structure; got shape {counts.shape}")
    if not np.issubdtype(counts.dtype, np.integer) or (counts < 1).any():
        raise InvalidInputError("counts must be positive integers (environments per structure)")
    if int(counts.sum()) != X.shape[0]:
        raise InvalidInputError(
            f"counts add up to {int(counts.sum())} environments but {name} has {X.shape[0]} rows")
    return X, counts.astype(np.int64)


def as_bandwidths(h):
    """Bandwidths as a 1-D float64 array, and whether a scalar was given.

    One shape convention everywhere: a scalar ``h`` gives results without a
    bandwidth axis; a 1-D ``h`` of length n_h adds a trailing axis of length
    n_h (per-sample arrays become (n, n_h), dataset values become (n_h,)).
    """
    if not Bandwidth().is_valid(h):
        raise InvalidInputError(
            f"bandwidth must be {Bandwidth().describe()}; got {h!r}"
        )
    arr = np.asarray(h, dtype=np.float64)
    return np.atleast_1d(arr).copy(), arr.ndim == 0
