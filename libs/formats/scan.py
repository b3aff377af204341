"""Physical lines of interest found by searching, not by visiting every line.

A batch body is some 20,000 physical lines (LF-separated), of which a few thousand matter to
the column split (``columns``): the lines that hold the quote, the blank ones, the ones that
do not decode or hold a NUL. A Python step for each line (``RecordSplitter.ends``, decoding
line by line) was a large part of a dirty batch's split; these find them with the bytes' own
searches (``find``, ``count``, ``decode``) or ``list.index``, so the cost is a C scan and a
Python step per line found.

Offsets are byte offsets into the data; a line's number is its index among the data's
physical lines (``data.split(b"\\n")``), from 0.
"""

from __future__ import annotations

from typing import Final

WINDOW: Final = 1 << 14  # bytes decoded at once by ``utf8_faults`` (whole lines)


def first_of_each(data: bytes, byte: bytes) -> list[int]:
    """The offset of the first ``byte`` on each line that holds one, ascending."""
    found: list[int] = []
    at = data.find(byte)
    while at >= 0:
        found.append(at)
        end = data.find(b"\n", at)
        at = -1 if end < 0 else data.find(byte, end)
    return found


def lines_holding(data: bytes, byte: bytes) -> list[int]:
    """The lines of ``data`` that hold ``byte``, ascending."""
    return line_numbers(data, first_of_each(data, byte))


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


def utf8_faults(data: bytes) -> list[int]:
    """The offset of the first byte that is not UTF-8 on each line that has one, ascending.

    Linear: the data is decoded a window of whole lines at a time (``WINDOW`` bytes or so)
    and, after a fault, from the start of the next line; no byte is decoded twice, and each
    fault's exception copies at most a window (it holds the bytes it was decoding). A LF is
    never part of a multi-byte sequence, so a line's bytes decode on their own exactly when
    no fault is found in them here.
    """
    found: list[int] = []
    start, size = 0, len(data)
    with memoryview(data) as view:
        while start < size:
            stop = data.find(b"\n", start + WINDOW)
            stop = size if stop < 0 else stop
            try:
                str(view[start:stop], "utf-8")
            except UnicodeDecodeError as exc:
                found.append(start + exc.start)
                stop = data.find(b"\n", start + exc.start)
                stop = size if stop < 0 else stop
            start = stop + 1
    return found


def undecodable(lines: list[bytes], refused: tuple[bytes, ...] = (b"\x00",)) -> set[int]:
    """The indices of the ``lines`` (each without a LF) that are not UTF-8 or hold one of
    the bytes ``refused`` (a NUL, which the reader rejects): their faults found in the lines
    joined, by search and one linear decode."""
    joined = b"\n".join(lines)
    faults = utf8_faults(joined)
    for byte in refused:
        faults += first_of_each(joined, byte)
    faults.sort()
    return set(line_numbers(joined, faults))


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
