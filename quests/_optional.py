"""Optional dependencies (torch, dask.distributed, zarr): imported when first needed."""

import importlib

from quests._errors import InvalidInputError


def require(module, purpose, extra, error=InvalidInputError, note=""):
    """``module`` imported, or ``error`` naming what needs it and the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the install
        raise error(f"{purpose} needs {module}: pip install 'quests[{extra}]'{note}") from None
