"""The fuzzing gate: ``schemathesis run`` with every check against one service's OpenAPI document.

:func:`fuzz` runs the CLI in a fresh working directory (no replay cache carried over from an earlier run),
reads its JUnit and JSON reports and returns a :class:`GateResult`: one :class:`Finding` per failing test
case (operation, check codes, response status and a ``curl`` reproducer), the operations the time cap left
untested, and the run's errors. The gate passes only when all three are empty.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]

#: Test cases per operation and phase (the coverage phase adds its boundary cases on top).
MAX_EXAMPLES = 10
#: Slower than this is a failure (schemathesis' ``max_response_time`` check, 10 s by default: too tight
#: for a 2-CPU CI machine; a request this slow should have become a job).
MAX_RESPONSE_TIME_S = 30
#: A request with no answer after this long is an error of the run (kept near the limit above: a hung
#: request would otherwise eat its service's time cap).
REQUEST_TIMEOUT_S = 40

#: Findings of these checks are listed with every run but do not fail the gate:
#: - ST202 (valid input rejected): some rules the services check cannot be stated in JSON Schema, so a request
#:   the document allows may still be refused with a 422 that names the field: rules on the data (a window
#:   longer than the series, a date outside it, a file not in the data directory) or across fields (`end`
#:   after `start`, lists of equal length, a sweep grid's parameters per strategy). Every rule a schema can
#:   state is stated (bounds, patterns, enums, "exactly one of" as `oneOf`).
#: - ST301 (resource still there after DELETE): `DELETE /v1/jobs/{id}` stops a job and keeps its record, so
#:   that its status (STOPPED) and progress stay readable, as documented on the operation.
#: Everything else fails it: server errors, responses outside the document, invalid input accepted (ST201),
#: slow or hung requests.
REPORTED_ONLY = frozenset({"ST202", "ST301"})

_CASE = re.compile(r"^\d+\. Test Case ID: \S+$", re.MULTILINE)
_CHECK = re.compile(r"^- (ST\d{3} .+)$", re.MULTILINE)
_DETAIL = re.compile(r"^    (\S[^\n]*[^:\n])$", re.MULTILINE)  # the checks' explanations, not sub-headings
_STATUS = re.compile(r"^\[(\d{3})\] .*:$", re.MULTILINE)
_CURL = re.compile(r"^    (curl .+)$", re.MULTILINE)
_BODY = re.compile(r"^    `(.*)`$", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    """One failing test case: what was sent (``curl``), what came back and which checks it broke."""

    operation: str
    checks: tuple[str, ...]
    status: int | None
    curl: str
    details: tuple[str, ...] = ()
    body: str = ""

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(c.split()[0] for c in self.checks)

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no response"
        lines = [f"{self.operation}  [{status}]  {'; '.join(self.checks)}"]
        lines += [f"    {d}" for d in self.details]
        if self.body:
            lines.append(f"    response: {self.body[:300]}")
        lines.append(f"    {self.curl}")
        return "\n".join(lines)


@dataclass
class GateResult:
    service: str
    findings: list[Finding] = field(default_factory=list)
    reported: list[Finding] = field(default_factory=list)  # REPORTED_ONLY findings
    untested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not (self.findings or self.untested or self.errors)

    def message(self, report_dir: Path | None = None) -> str:
        """The failure message: every finding grouped by operation, each with its reproducer."""
        ops = self.report.get("operations") or {}
        head = (
            f"schemathesis on {self.service}: {len(self.findings)} failing case(s), "
            f"{len(self.errors)} error(s), {len(self.untested)} operation(s) untested; "
            f"{ops.get('tested', '?')}/{ops.get('selected', '?')} operations tested in "
            f"{self.report.get('running_time', 0):.0f} s (stop: {self.report.get('stop_reason')})"
        )
        parts = [head]
        if report_dir is not None:
            parts.append(f"full reports: {report_dir}")
        parts += [str(f) for f in sorted(self.findings, key=lambda f: (f.operation, sorted(f.codes)))]
        parts += [f"ERROR {e}" for e in self.errors]
        if self.reported:
            parts.append(
                f"reported, not gating ({', '.join(sorted(REPORTED_ONLY))}): {len(self.reported)} case(s)"
            )
            parts += [str(f) for f in sorted(self.reported, key=lambda f: (f.operation, sorted(f.codes)))]
        if self.untested:
            parts.append(f"not reached within the time cap: {', '.join(self.untested)}")
        return "\n\n".join(parts)


def _findings(operation: str, text: str) -> list[Finding]:
    """Each numbered test case of a JUnit failure text."""
    out = []
    for block in _CASE.split(text)[1:]:
        checks = tuple(_CHECK.findall(block))
        status = _STATUS.search(block)
        explained = block[: status.start()] if status else block
        curl = _CURL.search(block)
        body = _BODY.search(block)
        out.append(
            Finding(
                operation=operation,
                checks=checks,
                status=int(status.group(1)) if status else None,
                curl=curl.group(1) if curl else "(no reproducer in the report)",
                details=tuple(dict.fromkeys(_DETAIL.findall(explained))),
                body=body.group(1) if body else "",
            )
        )
    return out


def parse_reports(service: str, junit: Path, summary: Path, output: str) -> GateResult:
    result = GateResult(service=service)
    if summary.exists():
        result.report = json.loads(summary.read_text())
    if not junit.exists():
        result.errors.append(f"schemathesis wrote no JUnit report; its output ends:\n{output[-3000:]}")
        return result
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        for failure in case.findall("failure"):
            found = _findings(name, failure.text or "")
            unparsed = Finding(name, (failure.get("message") or "failure",), None, failure.text or "")
            for finding in found or [unparsed]:
                gating = not finding.codes or not finding.codes <= REPORTED_ONLY
                (result.findings if gating else result.reported).append(finding)
        for error in case.findall("error"):  # title, message, reproducer; the traceback stays in the report
            text = error.text or ""
            lines = [line for line in text.splitlines() if line.strip()]
            curl = _CURL.search(text)
            reproducer = f"\n    {curl.group(1)}" if curl else ""
            result.errors.append(f"{name}: {' / '.join(lines[:2])[:500]}{reproducer}")
        skips = [s.text or "" for s in case.findall("skipped")]
        if any("Time limit" in s for s in skips) and not case.findall("failure"):
            result.untested.append(name)
    ops = result.report.get("operations") or {}
    if ops and ops.get("tested", 0) < ops.get("selected", 0) and not result.untested:
        untested = ops["selected"] - ops["tested"]
        result.errors.append(f"{untested} operation(s) untested: {ops.get('skip_reasons')}")
    if not result.report.get("complete", False):
        result.errors.append(f"the run did not complete; its output ends:\n{output[-3000:]}")
    return result


def fuzz(
    service: str,
    base_url: str,
    workdir: Path,
    *,
    max_examples: int = MAX_EXAMPLES,
    max_time_s: int | None = None,
    timeout_s: float = 600,
) -> GateResult:
    """Fuzz ``base_url``'s ``/openapi.json`` with all checks; reports land in ``workdir``.

    ``max_time_s`` caps the run (schemathesis then repeats fuzzing and stateful testing until it is spent);
    generation is deterministic, so the same code gets the same cases in the same order. One worker: with
    more, hypothesis' concurrent ``ast.parse`` trips CPython 3.11 ("AST constructor recursion depth
    mismatch"), an error of the tool, not of the API.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    junit, summary = workdir / "junit.xml", workdir / "report.json"
    cmd = [
        *SCHEMATHESIS,
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--generation-deterministic",
        "--max-response-time",
        str(MAX_RESPONSE_TIME_S),
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        # unsanitized: it would print `"session_open": "[Filtered]"` in a reproducer (no secrets here)
        "--workers",
        "1",
        "--no-color",
        "--output-sanitize",
        "false",
        "--report",
        "junit,json",
        "--report-junit-path",
        str(junit),
        "--report-json-path",
        str(summary),
    ]
    if max_time_s is not None:
        cmd += ["--max-time", str(max_time_s)]
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS="tests.fuzz.hooks",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s)
    output = proc.stdout + proc.stderr
    (workdir / "output.txt").write_text(output)
    result = parse_reports(service, junit, summary, output)
    if (
        proc.returncode != 0 and result.passed and not result.reported
    ):  # a failure the reports did not explain
        result.errors.append(f"schemathesis exited {proc.returncode}; its output ends:\n{output[-3000:]}")
    return result
