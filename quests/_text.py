"""Plain-text tables, for the summaries that results give of themselves and the CLI prints."""

__all__ = ["align_table"]


def align_table(header, rows):
    """A plain-text table: first column left-aligned, the others right-aligned.

    ``header`` is a tuple of column names, ``rows`` a list of tuples of strings.

    Examples
    --------
    >>> print(align_table(("name", "H"), [("a", "1.0"), ("bb", "10.0")]))
    name     H
    a      1.0
    bb    10.0
    """
    widths = [max(len(header[c]), *(len(row[c]) for row in rows)) for c in range(len(header))]
    fmt = "  ".join(["{:<%d}" % widths[0]] + ["{:>%d}" % w for w in widths[1:]])
    return "\n".join([fmt.format(*header)] + [fmt.format(*row) for row in rows])
