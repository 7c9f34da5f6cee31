"""The compare gates as a JUnit XML report: one test case per gate, a failure per failed gate."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from evalharness.report.compare import CompareResult
from evalharness.runstore import write_text_atomic

SUITE = "evalharness.compare"
# characters XML 1.0 cannot hold, even escaped
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def junit_xml(result: CompareResult) -> str:
    """The gate results as a JUnit XML document (a ``<testsuites>`` with one suite)."""
    failures = len(result.failed)
    root = ET.Element(
        "testsuites", name=SUITE, tests=str(len(result.gates)), failures=str(failures), errors="0"
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=SUITE,
        tests=str(len(result.gates)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (("baseline", result.baseline_run), ("current", result.current_run)):
        ET.SubElement(properties, "property", name=key, value=_clean(value))
    for gate in result.gates:
        case = ET.SubElement(suite, "testcase", classname=SUITE, name=gate.name, time="0")
        if gate.passed:
            ET.SubElement(case, "system-out").text = _clean(gate.message)
        else:
            failure = ET.SubElement(
                case, "failure", message=_clean(gate.message), type="GateFailed"
            )
            failure.text = _clean(f"{gate.name} (limit {gate.limit}): {gate.message}")
    lines = ["metric | baseline | current | change"]
    lines += [" | ".join((c.metric, *c.formatted())) for c in result.changes]
    ET.SubElement(suite, "system-out").text = _clean("\n".join(lines))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | Path, result: CompareResult) -> Path:
    """Write the JUnit XML file atomically; returns its path."""
    target = Path(path)
    write_text_atomic(target, junit_xml(result))
    return target
