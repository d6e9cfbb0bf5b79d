"""Loaders: every supported source format, turned into the internal Terminology model.

Shipped (data comes with an installed package): icd10cm, hpo, drugs, consult_segments, cholec80_phases.
User-supplied files: umls, snomed, rxnorm, loinc, obo, owl, tabular (alias csv/tsv).
"""
from __future__ import annotations

import inspect
import os
from typing import Callable

from ..errors import OntologyLoadError
from ..index import paused_gc
from ..model import Terminology
from . import builtin, drugs, hpo, icd10cm, loinc, obo, owl, rxnorm, snomed, tabular, umls
from .reading import ProgressTracker

LOADERS: dict[str, Callable[..., Terminology]] = {
    "icd10cm": icd10cm.load,
    "hpo": hpo.load,
    "drugs": drugs.load,
    "consult_segments": builtin.load_consult_segments,
    "cholec80_phases": builtin.load_cholec80_phases,
    "umls": umls.load,
    "snomed": snomed.load,
    "rxnorm": rxnorm.load,
    "loinc": loinc.load,
    "obo": obo.load,
    "owl": owl.load,
    "tabular": tabular.load,
    "csv": tabular.load,
    "tsv": tabular.load,
}

# Shipped terminology name -> function returning the version of the data installed, read without a full load
# (so a cache can be checked for staleness in milliseconds).
SHIPPED_VERSIONS: dict[str, Callable[[], str]] = {
    "icd10cm": icd10cm.shipped_version,
    "hpo": hpo.shipped_version,
    "drugs": drugs.shipped_version,
    "consult_segments": lambda: builtin.CONSULT_SEGMENTS_VERSION,
    "cholec80_phases": lambda: builtin.CHOLEC80_VERSION,
}

FORMATS = tuple(LOADERS)


def _listed_files(paths) -> list[str]:
    if paths is None:
        return []
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif isinstance(paths, dict):
        paths = list(paths.values())
    files: list[str] = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, _dirs, names in os.walk(path):
                files.extend(os.path.join(root, name) for name in names)
        else:
            files.append(path)
    return files


def load_terminology(fmt: str, paths=None, name: str | None = None, version: str | None = None,
                     progress: Callable[[int], None] | None = None, encoding: str | None = None,
                     **options) -> Terminology:
    """Loads one terminology, all or nothing: any problem raises OntologyLoadError (naming the file and line) and
    nothing half-read is returned. `paths` is a dict (role -> path, e.g. {"MRCONSO": ...}) or a list of files or
    release folders; shipped formats need none. `progress(pct)` receives whole percentages, ending with 100.
    `encoding` declares the files' encoding when it is not UTF-8. Extra keyword options go to the format's loader
    (e.g. languages=("ENG",) for UMLS)."""
    loader = LOADERS.get(fmt.lower())
    if loader is None:
        raise OntologyLoadError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    if fmt.lower() not in SHIPPED_VERSIONS and not paths:
        raise OntologyLoadError(f"format {fmt!r} needs the terminology's files")
    accepted = set(inspect.signature(loader).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise OntologyLoadError(f"format {fmt!r} does not take option(s): {', '.join(unknown)}")
    tracker = ProgressTracker(progress, _listed_files(paths))
    try:
        with paused_gc():  # loaders create millions of small objects; see ConceptIndex.build
            terminology = loader(paths, name, version, tracker, encoding, **options)
    except OSError as exc:
        # strerror only: the exception's own text would include the full path.
        raise OntologyLoadError(f"could not read the files ({exc.strerror or type(exc).__name__})",
                                getattr(exc, "filename", None)) from None
    except MemoryError:
        raise OntologyLoadError("not enough memory to load these files") from None
    if not terminology.name or not terminology.version:
        raise OntologyLoadError("the terminology needs a name and a version")
    tracker.finish()
    return terminology
