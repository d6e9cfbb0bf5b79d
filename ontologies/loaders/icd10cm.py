"""ICD-10-CM (chapters, blocks, categories, subcategories and 7th-character codes) from the CDC tabular XML and
code list that the simple-icd-10-cm package bundles.

We stream those two files ourselves instead of importing simple_icd_10_cm: its import builds an object tree
costing ~175 MB and ~2 s, which would push the index build past its memory and time budget. The rules are the
package's (and the tabular's): a diag without child diags that inherits a 7th-character definition gets one
child per listed character, its code padded with X placeholders to six characters, kept only when the code list
confirms it. tests/ontologies/test_ontology_icd10cm.py checks the result against the package's own API.
"""
from __future__ import annotations

import calendar
import glob
import importlib.metadata
import io
import os
import re

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressReader, ProgressTracker, package_file

NAME = "icd10cm"
PACKAGE = "simple-icd-10-cm"
LICENCE = "Public domain (U.S. Government work: CDC/NCHS ICD-10-CM)"
# Parentheses hold nonessential modifiers; square brackets hold synonyms or explanations ("Panic disorder
# [episodic paroxysmal anxiety]", "Human immunodeficiency virus [HIV] disease").
_NONESSENTIAL = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\])")
_NODE_TAGS = {"chapter", "section", "diag"}
_NOTE_LISTS = {"inclusionTerm": "inclusion_terms", "includes": "includes"}


def _data_dir() -> str:
    return package_file("simple_icd_10_cm", PACKAGE, "data")


def data_files() -> tuple[str, str]:
    """(tabular XML, code list) bundled with the package."""
    tabular = sorted(glob.glob(os.path.join(_data_dir(), "*tabular*.xml")))
    code_list = sorted(glob.glob(os.path.join(_data_dir(), "code-list*.txt")))
    if not tabular or not code_list:
        raise OntologyLoadError(f"{PACKAGE} does not ship its tabular XML and code list")
    return tabular[-1], code_list[-1]


def shipped_version() -> str:
    """Release date from the bundled tabular file's name, e.g. icd10c-tabular-April-1-2026.xml -> 2026-04-01."""
    months = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
    match = re.search(r"([A-Za-z]+)-(\d{1,2})-(\d{4})", os.path.basename(data_files()[0]))
    if match and match.group(1).lower() in months:
        return f"{match.group(3)}-{months[match.group(1).lower()]:02d}-{int(match.group(2)):02d}"
    return importlib.metadata.version(PACKAGE)


def nonessential_variant(text: str) -> str | None:
    """ICD-10-CM puts nonessential modifiers in parentheses ("Seizure(s) (convulsive) NOS") and alternative wording
    in brackets: the text without them is how the condition is usually written, so it becomes an extra synonym."""
    stripped = _NONESSENTIAL.sub("", text).strip(" ,")
    return stripped if stripped and stripped != text else None


class _Node:
    __slots__ = ("tag", "code", "description", "parent", "children", "inclusion_terms", "includes", "seven_chr",
                 "inherited_seven_chr", "line")

    def __init__(self, tag: str, parent: "_Node | None", line: int):
        self.tag, self.parent, self.line = tag, parent, line
        self.code = ""
        self.description = ""
        self.children: list[_Node] = []
        self.inclusion_terms: list[str] = []
        self.includes: list[str] = []
        self.seven_chr: dict[str, str] = {}
        # The 7th-character table in force for this node's children: the nearest one defined above or here.
        self.inherited_seven_chr = parent.inherited_seven_chr if parent is not None else None


def _parse_tabular(path: str, tracker: ProgressTracker) -> list[_Node]:
    """Chapters, sections and diags in document order (parents before children)."""
    nodes: list[_Node] = []
    stack: list[_Node] = []
    path_tags: list[str] = []
    last_char: str | None = None
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise OntologyLoadError(f"cannot read the tabular XML ({exc.strerror})", path) from None
    try:
        for event, element in iterparse(io.BufferedReader(ProgressReader(handle, tracker)), events=("start", "end")):
            tag = element.tag
            if event == "start":
                path_tags.append(tag)
                if tag == "sevenChrDef":
                    last_char = None  # a note before any extension belongs to nothing
                if tag in _NODE_TAGS and (tag == "chapter" or stack):
                    node = _Node(tag, stack[-1] if stack else None, len(nodes) + 1)
                    if tag == "section":
                        node.code = element.get("id", "")
                    nodes.append(node)
                    if stack:
                        stack[-1].children.append(node)
                    stack.append(node)
                continue
            path_tags.pop()
            parent_tag = path_tags[-1] if path_tags else ""
            if tag in _NODE_TAGS and stack and stack[-1].tag == tag:
                stack.pop()
                element.clear()  # keeps memory flat: the finished subtree is already in our nodes
            elif not stack:
                continue
            elif tag in ("name", "desc") and parent_tag == stack[-1].tag:
                text = (element.text or "").strip()
                if tag == "name":
                    stack[-1].code = text
                else:
                    stack[-1].description = text
            elif tag == "note" and parent_tag in _NOTE_LISTS and (element.text or "").strip():
                getattr(stack[-1], _NOTE_LISTS[parent_tag]).append(element.text.strip())
            elif tag == "extension" and parent_tag == "sevenChrDef":
                last_char = element.get("char")
                stack[-1].seven_chr[last_char] = element.text or ""
            elif tag == "note" and parent_tag == "sevenChrDef" and last_char and (element.text or "").strip():
                stack[-1].seven_chr[last_char] += "/" + element.text.strip()
            elif tag == "sevenChrDef" and stack[-1].seven_chr:
                # Children read after this point inherit this table (they follow the code's own data elements).
                stack[-1].inherited_seven_chr = stack[-1].seven_chr
    except (ParseError, DefusedXmlException) as exc:
        raise OntologyLoadError(f"unreadable tabular XML ({type(exc).__name__}: {exc})", path) from None
    finally:
        handle.close()
    return nodes


def _confirmed_codes(path: str) -> set[str]:
    with open(path, encoding="utf-8") as handle:
        return {line.split(" ", 1)[0].strip().replace(".", "") for line in handle if line.strip()}


def _seventh_character_children(node: _Node, confirmed: set[str]) -> list[tuple[str, str]]:
    table = node.seven_chr or node.inherited_seven_chr
    if node.tag != "diag" or node.children or not table:
        return []
    extended = node.code + "." if len(node.code) == 3 else node.code
    extended = extended.ljust(7, "X")
    return [(extended + char, f"{node.description}, {meaning}") for char, meaning in table.items()
            if extended[:3] + extended[4:] + char in confirmed]


def _level(node: _Node) -> str:
    if node.tag == "chapter":
        return "chapter"
    if node.tag == "section":
        return "block"
    return "category" if len(node.code) == 3 else "subcategory"


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker,
         encoding: str | None = None) -> Terminology:
    tabular, code_list = data_files()
    tracker.add_files([tabular])
    nodes = _parse_tabular(tabular, tracker)
    confirmed = _confirmed_codes(code_list)
    source = f"{PACKAGE} {importlib.metadata.version(PACKAGE)} bundled CDC ICD-10-CM tabular"
    builder = TerminologyBuilder(name or NAME, version or shipped_version(), source, LICENCE)
    origin_file = os.path.basename(tabular)
    for node in nodes:
        if node.code in builder:
            continue  # a block made of one category shares its code; the category (with the children) wins
        extensions = _seventh_character_children(node, confirmed)
        parent = node.parent
        # A category whose block has the same code hangs from the block's parent (the chapter).
        while parent is not None and parent.code == node.code:
            parent = parent.parent
        if node.tag == "section" and any(child.code == node.code for child in node.children):
            continue
        _add(builder, node.code, node.description, node.inclusion_terms + node.includes,
             parent.code if parent else None, not node.children and not extensions, _level(node),
             (origin_file, node.line))
        for code, description in extensions:
            _add(builder, code, description, [], node.code, True, "extended subcategory", (origin_file, node.line))
    return builder.build()


def _add(builder: TerminologyBuilder, code: str, description: str, synonyms: list[str], parent: str | None,
         billable: bool, level: str, origin: tuple[str, int]) -> None:
    if not code or not description:
        raise OntologyLoadError(f"tabular entry {code or '?'} lacks a code or description", *origin)
    variants = [variant for text in [description, *synonyms] if (variant := nonessential_variant(text))]
    builder.add(Concept(code=code, name=description, synonyms=synonyms + variants, parents=[parent] if parent else [],
                        attributes={"billable": billable, "level": level, "semantic_types": []}), origin)
