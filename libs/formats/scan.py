"""Physical lines of interest found by searching, not by visiting every line.

A batch body is some 20,000 physical lines (LF-separated), of which a few thousand matter to
the column split (``columns``): the lines that hold the quote and the blank ones. A Python
step for each line (``RecordSplitter.ends``) was a large part of a dirty batch's split; these
find them with the bytes' own searches (``find``, ``count``) or ``list.index``, so the cost
is a C scan and a Python step per line found.

Offsets are byte offsets into the data; a line's number is its index among the data's
physical lines (``data.split(b"\\n")``), from 0.
"""

from __future__ import annotations


def first_of_each(data: bytes, byte: bytes) -> list[int]:
    """The offset of the first ``byte`` on each line that holds one, ascending."""
    found: list[int] = []
    at = data.find(byte)
    while at >= 0:
        found.append(at)
        end = data.find(b"\n", at)
        at = -1 if end < 0 else data.find(byte, end)
    return found


def blanks(lines: list[bytes]) -> list[int]:
    """The indices of the blank lines (empty, or only a CR) of ``lines``, ascending; found
    by ``list.index``, a C loop."""
    found: list[int] = []
    for blank in (b"", b"\r"):
        at = -1
        try:
            while True:
                at = lines.index(blank, at + 1)
                found.append(at)
        except ValueError:  # no more
            pass
    found.sort()
    return found


def line_numbers(data: bytes, offsets: list[int]) -> list[int]:
    """The line of each offset (``offsets`` ascending): LFs counted between one and the next."""
    numbers: list[int] = []
    line = previous = 0
    count = data.count
    for at in offsets:
        line += count(b"\n", previous, at)
        numbers.append(line)
        previous = at
    return numbers
