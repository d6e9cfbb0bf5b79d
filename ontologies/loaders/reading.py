"""Line-level file reading shared by the loaders: decoding, line numbers, progress and column checks.

Files are read as bytes and decoded one line at a time, so a bad byte is reported with its exact line number and a
multi-gigabyte release (UMLS MRCONSO is ~2 GB) never has to fit in memory at once.
"""
from __future__ import annotations

import codecs
import importlib.util
import csv
import gzip
import io
import os
import zlib
from typing import Callable, Iterable, Iterator

from ..errors import OntologyLoadError

Progress = Callable[[int], None]


class ProgressTracker:
    """Turns bytes read across all files of one load into whole percentages, reporting each change once."""

    def __init__(self, callback: Progress | None, paths: Iterable[str] = ()):
        self.callback = callback
        self.total = sum(_size(path) for path in paths)
        self.done = 0
        self.last = -1

    def add_files(self, paths: Iterable[str]) -> None:
        """Counts files a loader found by itself (shipped data) towards the total."""
        self.total += sum(_size(path) for path in paths)

    def advance(self, n_bytes: int) -> None:
        self.done += n_bytes
        if self.callback is None:
            return
        # Hold 100 back until finish(): the index still has to be built after the last byte is read.
        pct = min(99, int(self.done * 100 / max(self.total, 1)))
        if pct != self.last:
            self.last = pct
            self.callback(pct)

    def set_fraction(self, fraction: float) -> None:
        """For loaders whose work is not reading our own files (e.g. a package parsing its bundled data)."""
        self.total = self.total or 100
        self.done = max(self.done, int(fraction * self.total))
        self.advance(0)

    def finish(self) -> None:
        if self.callback is not None and self.last != 100:
            self.last = 100
            self.callback(100)


class ProgressReader(io.RawIOBase):
    """A binary file wrapper that reports bytes read to the progress tracker (for parsers that pull data)."""

    def __init__(self, handle, tracker: ProgressTracker):
        self.handle, self.tracker = handle, tracker

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.handle.read(len(buffer))
        buffer[: len(data)] = data
        self.tracker.advance(len(data))
        return len(data)


def package_file(module: str, package: str, *parts: str) -> str:
    """A data file (or folder, with no `parts`) shipped inside an installed package, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise OntologyLoadError(f"the {package} package is not installed")
    root = list(spec.submodule_search_locations)[0]
    if not parts:
        return root
    path = os.path.join(root, *parts)
    if not os.path.exists(path):
        raise OntologyLoadError(f"{package} does not ship {'/'.join(parts)}", path)
    return path


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class LineCounter:
    """The number of the line last handed out, so csv-based readers can report where a record ended."""

    def __init__(self) -> None:
        self.value = 0


def iter_lines(path: str, encoding: str | None = None, progress: ProgressTracker | None = None,
               counter: LineCounter | None = None, keep_newline: bool = False) -> Iterator[tuple[int, str]]:
    """Yields (line number, text) for every line; undecodable bytes raise OntologyLoadError with the line number."""
    if not os.path.isfile(path):
        raise OntologyLoadError("file not found", path)
    name = encoding or "utf-8"
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise OntologyLoadError(f"unknown encoding {name!r}", path) from None
    counter = counter or LineCounter()
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            if codec.startswith(("utf-16", "utf-32")):
                # Multi-byte newlines: the codec has to split lines. Decode errors are then reported at the line
                # after the last complete one, which is approximate because the decoder works in chunks.
                lines: Iterable = _wide_lines(raw, name, path, counter, progress)
            else:
                lines = _byte_lines(raw, codec, encoding is not None, path, counter, progress)
            for text in lines:
                yield counter.value, (text if keep_newline else text.rstrip("\r\n"))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise OntologyLoadError(f"file is truncated or not valid gzip ({type(exc).__name__})", path,
                                counter.value + 1) from None


def _byte_lines(raw, codec: str, declared: bool, path: str, counter: LineCounter, progress) -> Iterator[str]:
    for raw_line in raw:
        counter.value += 1
        if progress is not None:
            progress.advance(len(raw_line))
        if b"\x00" in raw_line:
            raise OntologyLoadError("contains NUL bytes: a binary, UTF-16 or corrupted file (declare encoding='utf-16' "
                                    "if it is UTF-16)", path, counter.value)
        try:
            text = raw_line.decode(codec)
        except UnicodeDecodeError as exc:
            hint = "" if declared else "; if the file uses another encoding, declare it (e.g. encoding='latin-1')"
            raise OntologyLoadError(f"not valid {codec} (byte 0x{raw_line[exc.start]:02x} at column {exc.start + 1})"
                                    f"{hint}", path, counter.value) from None
        if counter.value == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


def _wide_lines(raw, encoding: str, path: str, counter: LineCounter, progress) -> Iterator[str]:
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline=None)
    try:
        for text in stream:
            counter.value += 1
            if progress is not None:
                progress.advance(len(text) * 2)
            if counter.value == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text
    except UnicodeDecodeError:
        raise OntologyLoadError(f"not valid {encoding}", path, counter.value + 1) from None
    finally:
        stream.detach()


def read_header_rows(path: str, delimiter: str, required: Iterable[str], encoding: str | None,
                     progress: ProgressTracker | None, quoted: bool) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields (line number, row as {lower-cased column: value}) for a delimited file with a header line.

    Missing required columns, rows with the wrong number of fields and unterminated quotes raise OntologyLoadError.
    `quoted` selects CSV quoting rules; RF2 and most TSV exports are unquoted and may contain bare '"' characters.
    """
    counter = LineCounter()
    lines = (text for _, text in iter_lines(path, encoding, progress, counter, keep_newline=True))
    if quoted:
        records: Iterator[list[str]] = csv.reader(lines, delimiter=delimiter, strict=True)
    else:
        records = (text.rstrip("\r\n").split(delimiter) for text in lines)
    try:
        header = next(records, None)
        if header is None:
            raise OntologyLoadError("file is empty", path, 1)
        columns = [column.strip().lower() for column in header]
        missing = [column for column in required if column.lower() not in columns]
        if missing:
            raise OntologyLoadError(f"missing required column(s): {', '.join(missing)}", path, 1)
        width = len(columns)
        for fields in records:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != width:
                raise OntologyLoadError(f"expected {width} fields, found {len(fields)} (truncated or malformed line)",
                                        path, counter.value)
            yield counter.value, dict(zip(columns, fields))
    except csv.Error as exc:
        raise OntologyLoadError(f"malformed CSV ({exc})", path, counter.value) from None


def read_pipe_rows(path: str, n_fields: int, encoding: str | None,
                   progress: ProgressTracker | None) -> Iterator[tuple[int, list[str]]]:
    """Yields (line number, fields) of an RRF file; every line must carry exactly n_fields (plus the final '|')."""
    for line_no, text in iter_lines(path, encoding, progress):
        if not text.strip():
            continue
        fields = text.split("|")
        if len(fields) == n_fields + 1 and fields[-1] == "":
            fields.pop()
        if len(fields) != n_fields:
            raise OntologyLoadError(f"expected {n_fields} '|'-separated fields, found {len(fields)} "
                                    "(truncated or malformed line)", path, line_no)
        yield line_no, fields


def pick_files(paths, wanted: dict[str, tuple[str, ...]], fmt: str) -> dict[str, str]:
    """Maps role -> path from either a dict keyed by role or a list of files recognised by their names.

    `wanted` maps each role to basename prefixes (case-insensitive), e.g. {"MRCONSO": ("mrconso",)}. A directory in
    the list is searched (not recursively beyond one level of release sub-folders).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if isinstance(paths, dict):
        lowered = {str(key).lower(): os.fspath(value) for key, value in paths.items()}
        return {role: lowered[role.lower()] for role in wanted if role.lower() in lowered}
    candidates: list[str] = []
    for path in paths or []:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                candidates.extend(os.path.join(root, name) for name in sorted(files))
        else:
            candidates.append(path)
    # A full RF2 release holds Full, Delta and Snapshot files side by side; the snapshot is the current state.
    candidates.sort(key=lambda path: "snapshot" not in os.path.basename(path).lower())
    found: dict[str, str] = {}
    for role, prefixes in wanted.items():
        for path in candidates:
            base = os.path.basename(path).lower()
            if base.startswith(prefixes) and role not in found:
                found[role] = path
    if not found and candidates:
        names = ", ".join(os.path.basename(path) for path in candidates[:5])
        raise OntologyLoadError(f"no {fmt} files recognised among: {names}")
    return found


def single_path(paths) -> str:
    """The one file of a single-file format, given as a path, a one-item list or a one-entry dict."""
    if isinstance(paths, dict):
        paths = list(paths.values())
    if isinstance(paths, (list, tuple)):
        if len(paths) != 1:
            raise OntologyLoadError(f"expected one ontology file, got {len(paths)}")
        paths = paths[0]
    if not paths:
        raise OntologyLoadError("no file given")
    return os.fspath(paths)
