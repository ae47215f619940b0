"""Dependency audit: pip-audit over the pinned requirements, with what it could not check said plainly.

    .venv/bin/python -m bench.audit [--service pypi|osv]

Runs ``pip-audit -r requirements.txt -r requirements-dev.txt`` (pinned in requirements-dev.txt) and
prints one line per finding (package, version, advisory, fixed in) and one per package it could not
audit, with the reason. When the vulnerability service does not answer for a package (an offline or
mirrored index: "Dependency not found on PyPI"), it falls back to the project's own JSON page on the
index, whose ``vulnerabilities`` list holds the advisories of the LATEST release: that settles the
pins that are the latest release and leaves the others marked "not audited".

Exit code: 0 when nothing known is found, 1 when a finding is printed, 2 when pip-audit cannot run.
The README's "Security and failover" section explains every finding and every skip.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
INDEX = "https://pypi.org/pypi"


def run_pip_audit(service: str) -> dict:
    cmd = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
           "--vulnerability-service", service]
    for name in REQUIREMENTS:
        cmd += ["-r", str(ROOT / name)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"error: pip-audit did not run: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")


def project_advisories(name: str, version: str) -> list[dict] | None:
    """The index's advisories for ``name`` when ``version`` is its latest release; None when unknown."""
    try:
        with urllib.request.urlopen(f"{INDEX}/{name}/json", timeout=20) as res:
            doc = json.loads(res.read())
    except (OSError, ValueError):
        return None
    if doc.get("info", {}).get("version") != version:
        return None
    return doc.get("vulnerabilities") or []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi", help="pip-audit's vulnerability service")
    args = parser.parse_args(argv)
    report = run_pip_audit(args.service)
    deps = report.get("dependencies", [])
    findings, skipped, audited, by_index = [], [], 0, 0
    for dep in deps:
        if "skip_reason" in dep:
            found = re.search(r"\(([^()\s]+)\)$", dep["skip_reason"])  # "... could not be audited: name (1.2)"
            dep = {**dep, "version": dep.get("version") or (found.group(1) if found else "?")}
            vulns = project_advisories(dep["name"], dep["version"])
            if vulns is None:
                skipped.append(dep)
                continue
            by_index += 1
            dep = {**dep, "vulns": [{"id": v.get("id"), "fix_versions": v.get("fixed_in", [])} for v in vulns]}
        audited += 1
        for v in dep.get("vulns", []):
            findings.append((dep["name"], dep["version"], v["id"], ", ".join(v.get("fix_versions") or []) or "none"))
    print(f"pip-audit ({args.service}): {len(deps)} packages (pins and what they pull in): {audited} audited "
          f"({by_index} through the index's own page, being their latest release), {len(skipped)} not audited, "
          f"{len(findings)} known vulnerabilities")
    for name, version, vid, fixed in findings:
        print(f"  FINDING {name}=={version}: {vid} (fixed in: {fixed})")
    for dep in skipped:
        print(f"  not audited {dep['name']}=={dep['version']}: {dep['skip_reason']}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
