"""quests: information content of atomistic data.

Descriptors of atomic environments (``quests.descriptor``), Gaussian kernel
density estimates over them (``quests.kde``): dataset entropy, diversity,
per-environment differential entropy and overlap.
"""

__version__ = "0.1.0"

from quests._errors import (  # noqa: E402
    InvalidInputError,
    InvalidStructureError,
    OutputError,
    QuestsError,
    QuestsWarning,
)

__all__ = [
    "__version__",
    "QuestsError",
    "InvalidInputError",
    "InvalidStructureError",
    "OutputError",
    "QuestsWarning",
]
