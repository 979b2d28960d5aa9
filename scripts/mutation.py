"""Mutation testing of pimhub's pure core modules with mutmut (see docs/testing.md).

Each module is mutated in a throwaway copy of the working tree (so nothing here changes and
the suite may keep running), against the tests that exercise it, on SQLite only. mutmut
3 forks one process per mutant from an interpreter that has imported everything already
and runs only the tests that reach the mutated function, and it stops a mutant that runs
far longer than its tests did (a hanging mutant counts as caught).

Score of a module: killed / (killed + survived), where killed includes timeouts and
survived includes mutants no test reaches. A surviving mutant listed in
scripts/mutation-equivalents.toml (reviewed: it cannot change behaviour) is left out of
both, as long as the listed mutated line still is what mutmut produces; a stale entry is
reported and the mutant counts as survived. The last line is `ratio: X`, the lowest
module's score as a fraction.

    bash scripts/mutation                      # every module
    bash scripts/mutation events/policy.py     # one (or several) of them
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "scripts" / "mutation-equivalents.toml"
# Module (under src/pimhub) -> the tests that exercise it.
MODULES: dict[str, list[str]] = {
    # Quantities and price lists (issue 14) are validated here and tested with their feature.
    "catalog/validation.py": [
        "tests/catalog/test_validation.py",
        "tests/catalog/test_quantities.py",
    ],
    "catalog/query.py": [
        "tests/catalog/test_query.py",
        "tests/storage/test_filter_sql.py",
        # Filters on completeness and on quantities (issue 14) are tested with their features.
        "tests/catalog/test_completeness.py",
        "tests/catalog/test_quantities.py",
    ],
    "events/policy.py": ["tests/events/test_policy.py"],
    "storage/listing.py": [
        "tests/storage/test_listing_rows.py",
        "tests/storage/test_listing_cursors.py",
        "tests/storage/test_filter_sql.py",
        # Quantity, completeness and family conditions (issue 14) are tested with them.
        "tests/catalog/test_quantities.py",
        "tests/catalog/test_completeness_service.py",
        "tests/catalog/test_variants.py",
    ],
    # The steps, empty amounts and --infer's proposals of issue 16 are tested with them.
    "transfer/mapping.py": [
        "tests/transfer/test_mapping.py",
        "tests/transfer/test_more_steps.py",
        "tests/transfer/test_empty_amounts.py",
        "tests/transfer/test_infer.py",
        "tests/transfer/test_asset_step.py",
    ],
    # The asset step (issue 17): parsing and locating, and the imports that use it.
    "transfer/asset_step.py": [
        "tests/transfer/test_asset_step.py",
    ],
    "transfer/steps.py": [
        "tests/transfer/test_mapping.py",
        "tests/transfer/test_more_steps.py",
        "tests/transfer/test_empty_amounts.py",
        "tests/transfer/test_infer.py",
    ],
    # The mapping's skip filter (issue 16).
    "transfer/row_filter.py": [
        "tests/transfer/test_row_filter.py",
        "tests/transfer/test_more_steps.py",
    ],
    # --infer's proposals (issue 16), the export -> infer -> import round trip included.
    "transfer/inference.py": [
        "tests/transfer/test_infer.py",
        "tests/transfer/test_infer_roundtrip.py",
    ],
    # Breaking changes between committed and served schemas (issue 16).
    "api/schema_changes.py": ["tests/api/test_schema_changes.py"],
    # Pimcore's money and quantity formats per field (issue 16), and the class changes they
    # and listed fields hold up.
    "datahub/config.py": [
        "tests/datahub/test_config.py",
        "tests/datahub/test_formats.py",
        "tests/datahub/test_class_changes_and_formats.py",
        "tests/datahub/test_class_changes_and_fields.py",
    ],
    # Whether a format fits a field's type (moved out of config.py to untie an import cycle).
    "datahub/formats.py": [
        "tests/datahub/test_config.py",
        "tests/datahub/test_formats.py",
        "tests/datahub/test_class_changes_and_formats.py",
    ],
    "search/documents.py": ["tests/search/test_documents.py"],
    "catalog/variants.py": ["tests/catalog/test_variant_rules.py"],
    # The Magento connector's pure mapping (issue 15): hub values as Magento's.
    "connectors/magento/mapping.py": ["tests/connectors/magento/test_mapping.py"],
    # Publishing workflows (issue 17): parsing and the rules, and the service that runs them.
    "catalog/workflows.py": [
        "tests/catalog/test_workflows.py",
        "tests/catalog/test_workflow_service.py",
    ],
    # What a class change does to the workflow states stored objects hold (issue 17).
    "catalog/workflow_changes.py": ["tests/catalog/test_workflow_service.py"],
    # Assets (issue 17): thumbnail presets, metadata and paths.
    "assets/presets.py": [
        "tests/assets/test_presets.py",
        "tests/assets/test_thumbnails.py",
    ],
    "assets/metadata.py": ["tests/assets/test_metadata.py"],
    "assets/paths.py": ["tests/assets/test_paths.py"],
}
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
SURVIVED = {"survived", "no tests"}


@dataclass
class Score:
    module: str
    counts: dict[str, int] = field(default_factory=dict)
    survivors: dict[str, str] = field(default_factory=dict)  # mutant -> its diff
    equivalent: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def killed(self) -> int:
        return sum(n for s, n in self.counts.items() if s in KILLED)

    @property
    def survived(self) -> int:
        return len(self.survivors)

    @property
    def ratio(self) -> float:
        tried = self.killed + self.survived
        return self.killed / tried if tried else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="paths under src/pimhub (default: all)")
    parser.add_argument("--quiet", action="store_true", help="no diffs of survivors")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"not a module of the run: {', '.join(unknown)} (known: {', '.join(MODULES)})")
    equivalents = load_equivalents()
    scores = [run_module(m, equivalents) for m in modules]
    for score in scores:
        report(score, quiet=args.quiet)
    print(f"ratio: {min(s.ratio for s in scores):.3f}")
    return 0


def load_equivalents() -> dict[str, dict[str, str]]:
    """Reviewed equivalent mutants: name -> {line, why}."""
    if not EQUIVALENTS.exists():
        return {}
    entries = tomllib.loads(EQUIVALENTS.read_text())["equivalent"]
    return {e["mutant"]: e for e in entries}


def run_module(module: str, equivalents: dict[str, dict[str, str]]) -> Score:
    score = Score(module)
    with tempfile.TemporaryDirectory(prefix="pimhub-mutation-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        configure(work, f"src/pimhub/{module}", MODULES[module])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIMHUB_")}
        mutmut = [sys.executable, "-m", "mutmut"]
        print(f"== {module}: mutating, then running {' '.join(MODULES[module])}", flush=True)
        subprocess.run([*mutmut, "run"], cwd=work, env=env, stdout=subprocess.DEVNULL, check=True)
        meta = work / "mutants" / "src" / "pimhub" / f"{module}.meta"
        statuses = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in statuses.items():
            status = status_name(code)
            score.counts[status] = score.counts.get(status, 0) + 1
            if status not in SURVIVED:
                continue
            diff = subprocess.run(
                [*mutmut, "show", name], cwd=work, env=env, capture_output=True, text=True
            ).stdout
            listed = equivalents.get(short(name))
            if listed is not None and listed["line"].strip() in added_lines(diff):
                score.equivalent.append(short(name))
            else:
                if listed is not None:
                    score.stale.append(short(name))
                score.survivors[short(name)] = diff
    return score


def status_name(code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[code])


def short(name: str) -> str:
    # mutmut separates class and method with U+01C1; a plain dot reads better in lists.
    return name.replace("\u01c1", ".")


def added_lines(diff: str) -> list[str]:
    return [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]


def copy_tree(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    # Some tests read the docs they keep honest (an example in docs/import.md, say).
    for part in ("src", "tests", "docs"):
        shutil.copytree(ROOT / part, target / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def configure(work: Path, module: str, tests: list[str]) -> None:
    """Appends mutmut's settings for one module to the copy's pyproject.toml."""
    tests = [t for t in tests if (work / t).exists()]
    if not tests:
        raise SystemExit(f"none of the tests listed for {module} exist")
    settings = {
        "source_paths": ["src"],
        "only_mutate": [module],
        "also_copy": ["tests", "docs", "pyproject.toml"],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-x"],
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    with (work / "pyproject.toml").open("a") as out:
        out.write("\n".join(lines) + "\n")


def report(score: Score, *, quiet: bool) -> None:
    counts = ", ".join(f"{n} {s}" for s, n in sorted(score.counts.items()))
    print(
        f"{score.module}: {score.ratio:.1%} killed ({score.killed} killed, {score.survived} "
        f"survived, {len(score.equivalent)} equivalent; mutmut: {counts})"
    )
    for name in score.stale:
        print(f"  stale equivalent entry (the mutant changed; review it): {name}")
    if quiet:
        return
    for name, diff in score.survivors.items():
        changed = [
            line
            for line in diff.splitlines()[1:]
            if line[:1] in "+-" and line[:3] not in ("+++", "---")
        ]
        print(f"  survived {name}")
        for line in changed:
            print(f"      {line}")


if __name__ == "__main__":
    sys.exit(main())
