"""The package's exceptions: one base class, all with one-line messages."""

__all__ = ["QuestsError", "InvalidInputError", "InvalidStructureError", "OutputError",
           "QuestsWarning"]


class QuestsError(ValueError):
    """Base class of every error quests raises on purpose.

    The message is a single line that names the problem; the command line
    prints it as ``error: <message>`` and exits with status 2.
    """


class InvalidInputError(QuestsError):
    """A parameter or array has the wrong value, shape or type."""


class InvalidStructureError(QuestsError):
    """A structure cannot be described (no atoms, NaN positions, singular cell...)."""


class OutputError(QuestsError):
    """An output path cannot be written (exists, or its folder is not writable)."""


class QuestsWarning(UserWarning):
    """A result holds something the user must know about (atoms of a species
    the reference lacks, rows outside a fitted range...). The command line
    prints each as one ``warning:`` line after a successful run."""
