"""axe-core (Deque's accessibility engine, bundled by the axe-playwright-python
package: no download at test time) run inside a Playwright page, and the findings
that fail a test, worded for a person reading the test output."""

from dataclasses import dataclass
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# What fails a page: the two upper of axe's four impacts. "moderate" and "minor"
# findings are reported by axe too but are advice, not barriers.
FAILING_IMPACTS = ("serious", "critical")
# WCAG 2.1 A and AA plus axe's best practices (landmarks, one h1, skip link target...).
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

_AXE = Axe()


@dataclass(frozen=True)
class Finding:
    page: str
    rule: str
    impact: str
    target: str
    summary: str

    def __str__(self) -> str:
        return f"{self.page}: {self.rule} ({self.impact}) at {self.target}: {self.summary}"


def findings(page: Page, name: str) -> list[Finding]:
    """Every serious or critical axe violation on the page as it is now, one per
    element (``name`` says which page in the report)."""
    results = _AXE.run(page, options={"runOnly": {"type": "tag", "values": RULE_TAGS},
                                      "resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            found.append(Finding(page=name, rule=violation["id"], impact=violation["impact"],
                                 target=_target(node), summary=_summary(violation, node)))
    return found


def _target(node: dict[str, Any]) -> str:
    return " > ".join(str(part) for part in node.get("target", [])) or "?"


def _summary(violation: dict[str, Any], node: dict[str, Any]) -> str:
    # axe's failureSummary names what to fix for this very element ("Element has
    # insufficient color contrast of 3.2 ..."); the rule's help is the fallback.
    detail = (node.get("failureSummary") or "").replace("\n", " ").strip()
    return f"{violation.get('help', '')}. {detail}".strip()


def report(all_findings: list[Finding]) -> str:
    return f"{len(all_findings)} serious or critical accessibility violations:\n" + "\n".join(
        f"  - {finding}" for finding in all_findings)
