"""The package's exceptions: one base class, all with one-line messages."""

__all__ = ["QuestsError", "InvalidInputError", "InvalidStructureError", "OutputError",
           "QuestsWarning"]


class QuestsError(ValueError):
    """Base class of every error quests raises on purpose.

    The message is a single line that names the problem; the command line
    prints it as ``error: <message>`` and exits with status 2.

    Examples
    --------
    One ``except`` clause catches every error quests raises on purpose:

    >>> import quests.io
    >>> try:
    ...     quests.io.split_index("md.xyz@last")
    ... except QuestsError as exc:
    ...     print(type(exc).__name__, "-", exc)
    InvalidInputError - md.xyz@last: the frame selection after '@' must be an integer or a slice
    like 0:100:2
    >>> issubclass(QuestsError, ValueError)
    True
    """


class InvalidInputError(QuestsError):
    """A parameter or array has the wrong value, shape or type.

    Examples
    --------
    >>> import quests.io
    >>> quests.io.split_index("md.xyz@0:100")
    ('md.xyz', '0:100')
    >>> quests.io.split_index("md.xyz@last")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: md.xyz@last: the frame selection after '@' must be an
    integer or a slice like 0:100:2
    """


class InvalidStructureError(QuestsError):
    """A structure cannot be described (no atoms, NaN positions, singular cell...).

    Examples
    --------
    >>> import numpy as np
    >>> from quests.structures import as_frame
    >>> positions = np.array([[0.0, 0.0, 0.0], [np.nan, 0.0, 0.0]])
    >>> as_frame((positions, np.eye(3) * 4.0, True), "md.xyz frame 7")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidStructureError: md.xyz frame 7 has NaN or infinite positions
    """


class OutputError(QuestsError):
    """An output path cannot be written (exists, or its folder is not writable).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from quests.io import check_output_path
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "entropy.csv")
    >>> open(path, "w").close()
    >>> check_output_path(path)
    Traceback (most recent call last):
    ...
    quests._errors.OutputError: output .../entropy.csv exists (use --overwrite to replace it)
    >>> check_output_path(path, overwrite=True).name
    'entropy.csv'
    >>> shutil.rmtree(folder)
    """


class QuestsWarning(UserWarning):
    """A result holds something the user must know about (atoms of a species
    the reference lacks, rows outside a fitted range...). The command line
    prints each as one ``warning:`` line after a successful run.

    Examples
    --------
    A nickel atom judged against a copper-only reference:

    >>> import warnings
    >>> from quests.uncertainty import unseen_species
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     novel = unseen_species([29, 28, 29], reference_species=[29], warn=True)
    >>> novel.tolist()
    [False, True, False]
    >>> caught[0].category.__name__
    'QuestsWarning'
    >>> print(caught[0].message)
    atoms of species the reference lacks (1 Ni) are counted novel with dH = inf
    """
