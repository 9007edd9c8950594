"""The alert rules: promtool checks them and runs their unit tests, in which every alert fires on a synthetic
series; each alert carries `for:`, a severity and its annotations."""

from __future__ import annotations

import yaml

from tests.monitoring.promql import RULES, RULES_TESTS, run_promtool


def _alerts() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_checks_the_rules() -> None:
    r = run_promtool("check", "rules", str(RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in r.stdout


def test_promtool_unit_tests_pass() -> None:
    r = run_promtool("test", "rules", RULES_TESTS.name, cwd=RULES_TESTS.parent)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_alert_is_unit_tested_firing() -> None:
    tests = yaml.safe_load(RULES_TESTS.read_text())["tests"]
    firing = {c["alertname"] for t in tests for c in t["alert_rule_test"] if c["exp_alerts"]}
    assert firing == {a["alert"] for a in _alerts()}


def test_every_alert_has_for_severity_and_annotations() -> None:
    for a in _alerts():
        assert a["alert"].startswith(("Raysvc", "Ray")), a["alert"]
        assert a.get("for"), f"{a['alert']}: no `for:`"
        assert a["labels"]["severity"] in {"critical", "warning"}, a["alert"]
        assert a["annotations"]["summary"] and a["annotations"]["description"], a["alert"]
