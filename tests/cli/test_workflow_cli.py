"""`pimhub workflow show` and `pimhub workflow transition` against a fresh SQLite database."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.catalog.workflow_fixtures import ARTICLE
from tests.cli.test_cli import init, invoke, one_line_error


def test_show_and_transition(runner: CliRunner, db_url: str, tmp_path: Path) -> None:
    init(runner)
    classes = tmp_path / "classes.yaml"
    classes.write_text(yaml.safe_dump({"classes": [ARTICLE]}), encoding="utf-8")
    assert invoke(runner, "classes", "apply", str(classes))[0] == 0
    code, out, _ = invoke(runner, "workflow", "show", "Article")
    assert code == 0
    assert "initial state: draft" in out
    assert "reject" in out and "required" in out and "review" in out
    code, out, _ = invoke(runner, "workflow", "show", "Article", "--json")
    assert code == 0 and '"initial": "draft"' in out
    one_line_error(*invoke(runner, "workflow", "show", "Product")[::2])
    from pimhub.bootstrap import bootstrap
    from pimhub.settings import Settings

    hub = bootstrap(Settings(database_url=db_url))
    hub.catalog.create("Article", {"code": "a1"}, author="t")
    code, out, _ = invoke(runner, "workflow", "transition", "Article", "a1", "submit")
    assert code == 0, out
    assert "Article 'a1': review (unpublished), version 2" in out
    error = one_line_error(
        *invoke(runner, "workflow", "transition", "Article", "a1", "reject")[::2]
    )
    assert "requires a comment" in error
    code, out, _ = invoke(
        runner,
        "workflow",
        "transition",
        "Article",
        "a1",
        "reject",
        "--comment",
        "no",
        "--author",
        "ed",
    )
    assert code == 0 and "draft" in out
    error = one_line_error(
        *invoke(runner, "workflow", "transition", "Article", "a1", "approve")[::2]
    )
    assert "state 'draft'" in error
    [latest, *_] = hub.catalog.list_versions("Article", "a1", include_drafts=True)
    assert latest.author == "ed"


def test_import_names_a_published_refusal_without_an_empty_value(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    """`@published` is no field of the row: its refusal on a workflow class used to print
    `published = :` as if the file's cell had been empty."""
    init(runner)
    classes = tmp_path / "classes.yaml"
    classes.write_text(yaml.safe_dump({"classes": [ARTICLE]}), encoding="utf-8")
    assert invoke(runner, "classes", "apply", str(classes))[0] == 0
    data = tmp_path / "articles.csv"
    data.write_text("code,online\na1,yes\n", encoding="utf-8")
    mapping = tmp_path / "articles.yaml"
    mapping.write_text(
        yaml.safe_dump(
            {"class": "Article", "fields": {"code": {"column": "code"}, "@published": "online"}}
        ),
        encoding="utf-8",
    )
    code, out, err = invoke(runner, "import", str(data), "-m", str(mapping))
    shown = out + err
    assert code != 0, shown  # a refused row fails the command
    assert "published = :" not in shown, shown
    assert "row 1 (line 2), published: set by the workflow" in shown, shown
