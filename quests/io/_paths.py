"""File specs: FILE@SLICE, NAME=VALUE, and whether a path can be read."""

import os
import re
from pathlib import Path


from quests._errors import InvalidInputError, QuestsError


#: descriptor files (``quests descriptors``): arrays in one .npz, or a chunked .zarr store
DESCRIPTOR_SUFFIXES = (".npz", ".zarr")

# an integer, or a slice start:stop[:step] with optional (signed) parts
_INDEX = re.compile(r"^(-?\d+|(-?\d+)?:(-?\d+)?(:(-?\d+)?)?)$")


class ReadError(QuestsError, OSError):
    """A file is missing, unreadable, empty or not in a format ase.io knows.

    Examples
    --------
    >>> read_structures("missing.xyz@0:10")
    Traceback (most recent call last):
    ...
    quests.io.ReadError: file not found: missing.xyz
    >>> issubclass(ReadError, OSError)
    True
    """


def split_index(spec, index=None):
    """Split ``"file.xyz@0:100"`` into ``("file.xyz", "0:100")``.

    The part after the last ``@`` is taken as an index if the whole spec is
    not an existing file, so paths containing ``@`` still work. ``index``
    (e.g. from ``--index``) applies when the spec carries none. Returns the
    index as a string (default ``":"``).

    Raises ``InvalidInputError`` for an index that is neither an integer
    nor a slice.

    Examples
    --------
    >>> split_index("traj.xyz@-10:")
    ('traj.xyz', '-10:')
    >>> split_index("traj.xyz", index="::10")
    ('traj.xyz', '::10')
    >>> split_index("traj.xyz@last")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: traj.xyz@last: the frame selection after '@' must be ...
    """
    spec = str(spec)
    path, sep, tail = spec.rpartition("@")
    if sep and path and not Path(spec).exists():
        if not _INDEX.match(tail):
            raise InvalidInputError(
                f"{spec}: the frame selection after '@' must be an integer or a slice "
                "like 0:100:2"
            )
        return path, tail
    if index is None:
        return spec, ":"
    if not _INDEX.match(str(index)):
        raise InvalidInputError(f"index must be an integer or a slice like 0:100:2; got {index!r}")
    return spec, str(index)


def split_named(spec, what="expected NAME=VALUE"):
    """'NAME=VALUE' as (name, value), both stripped; ``what`` begins the error message.

    Examples
    --------
    >>> split_named("solid = ref.xyz")
    ('solid', 'ref.xyz')
    """
    name, sep, value = (part.strip() for part in str(spec).partition("="))
    if not sep or not name or not value:
        raise InvalidInputError(f"{what}; got {spec!r}")
    return name, value


def spec_paths(value):
    """Paths a spec may name: FILE, NAME=FILE, FILE=G, FILE@SLICE (and lists of them).

    Candidates, not checks: a caller keeps those that exist (``check_distinct_paths``).

    Examples
    --------
    >>> spec_paths("solid=md.xyz@0:10")
    ['solid=md.xyz@0:10', 'solid', 'md.xyz@0:10', 'solid=md.xyz', 'md.xyz']
    """
    if isinstance(value, (tuple, list)):
        return [p for v in value for p in spec_paths(v)]
    if not isinstance(value, str) or not value:
        return []
    candidates = [value]
    if "=" in value:
        candidates += value.split("=", 1)
    for text in list(candidates):
        if "@" in text:
            candidates.append(text.rpartition("@")[0])
    # a folder or a glob reads the files in it: an output must not be one of them
    import glob

    for text in list(candidates):
        p = Path(text)
        if p.is_dir() and p.suffix.lower() not in DESCRIPTOR_SUFFIXES:
            candidates += sorted(str(f) for f in p.iterdir() if f.is_file())
        elif not p.exists() and glob.has_magic(text):
            candidates += sorted(glob.glob(text))
    return candidates


def as_slice(text):
    """The slice that ``text`` selects; an integer i becomes the slice of one frame.

    Examples
    --------
    >>> as_slice("0:100:2"), as_slice("-1")
    (slice(0, 100, 2), slice(-1, None, None))
    >>> list(range(10)[as_slice("3")]), list(range(10)[as_slice("-3:")])
    ([3], [7, 8, 9])
    """
    if ":" not in text:
        i = int(text)
        return slice(i, i + 1 if i != -1 else None)
    parts = [int(p) if p else None for p in text.split(":")]
    if len(parts) == 3 and parts[2] == 0:
        raise InvalidInputError(f"index {text}: the slice step cannot be zero")
    return slice(*parts)


def check_readable(path):
    """Refuse, by name, a path that is missing, a folder, unreadable or empty.

    Examples
    --------
    >>> check_readable("no_such_file.xyz")
    Traceback (most recent call last):
    ...
    quests.io.ReadError: file not found: no_such_file.xyz
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(f"file not found: {path}")
    if p.is_dir():
        raise ReadError(f"{path} is a directory, not a structure file")
    if not os.access(p, os.R_OK):
        raise ReadError(f"cannot read {path}: permission denied")
    if p.stat().st_size == 0:
        raise ReadError(f"{path} is empty")
