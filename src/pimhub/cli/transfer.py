"""`pimhub import` (a CSV, JSON Lines, JSON, XML or XLSX file through a mapping) and
`pimhub export` (a class's objects to CSV, JSON Lines or XML)."""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pimhub import safe_yaml
from pimhub.catalog.batch import WriteMode
from pimhub.cli.common import (
    JsonFlag,
    console,
    err_console,
    fail,
    handles_errors,
    open_hub,
    print_json,
)
from pimhub.transfer.asset_fetch import asset_fetcher
from pimhub.transfer.cell_text import in_message
from pimhub.transfer.exporter import (
    ExportFormat,
    ExportOptions,
    check_delimiter,
    delimiter_problem,
    export,
)
from pimhub.transfer.importer import ImportOptions, ImportSummary, OnError, run_import
from pimhub.transfer.inference import propose_mapping
from pimhub.transfer.mapping import parse_mapping, shipped_mapping, shipped_mappings
from pimhub.transfer.reports import error_report
from pimhub.transfer.sources import Format, SourceOptions, read

EXIT_ROW_ERRORS = 3  # the import finished, but some rows were refused
INFER_SAMPLE = 200  # records --infer reads to choose list separators


profiles_app = typer.Typer(
    help="Scheduled imports: a source, a mapping and a cron expression, run by the worker.",
    no_args_is_help=True,
)


@profiles_app.command("add")
@handles_errors
def add_profile(
    name: Annotated[str, typer.Argument(help="a-z, 0-9, _ and -")],
    source: Annotated[str, typer.Option(help="a file path or an http(s) URL")],
    mapping: Annotated[str, typer.Option("--mapping", "-m", help="a YAML file or a shipped name")],
    cron: Annotated[str, typer.Option(help='e.g. "0 2 * * *" (02:00 UTC daily)')],
    class_: Annotated[str | None, typer.Option("--class")] = None,
    mode: Annotated[WriteMode, typer.Option()] = WriteMode.UPSERT,
    on_error: Annotated[OnError, typer.Option()] = OnError.SKIP,
    fmt: Annotated[Format | None, typer.Option("--format")] = None,
    delimiter: Annotated[str | None, typer.Option()] = None,
    record_path: Annotated[str | None, typer.Option()] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            help="'Name: value' sent with an http(s) source, repeatable; write a secret as "
            "${PIMHUB_IMPORT_...}, read from the worker's environment at each run",
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="save it, do not run it")] = False,
) -> None:
    """Create or replace a scheduled import."""
    headers = _headers(header or [])
    hub = open_hub()
    options = {
        "mode": mode.value,
        "onError": on_error.value,
        **({"format": fmt.value} if fmt else {}),
        **({"delimiter": delimiter} if delimiter else {}),
        **({"recordPath": record_path} if record_path else {}),
        **({"headers": headers} if headers else {}),
    }
    profile = hub.import_profiles.save(
        name,
        source=source,
        mapping=_mapping_text(mapping) if Path(mapping).exists() else mapping,
        cron=cron,
        class_name=class_,
        options=options,
        enabled=not disabled,
    )
    console.print(
        f"{profile.name}: next run {profile.next_run_at:%Y-%m-%d %H:%M} UTC "
        "(run by `pimhub worker`)"
    )


def _headers(given: list[str]) -> dict[str, str]:
    headers = {}
    for n, text in enumerate(given, start=1):
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            # Not echoed: the text may hold a secret, and errors end up in logs.
            raise fail(f"--header number {n}: write a header as 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


@profiles_app.command("list")
@handles_errors
def list_profiles(as_json: JsonFlag = False) -> None:
    """Scheduled imports, their next runs and last jobs."""
    if as_json:
        print_json([p.to_dict() for p in open_hub().import_profiles.all()])
        return
    table = Table("name", "cron", "source", "next run (UTC)", "enabled", "last job")
    for p in open_hub().import_profiles.all():
        table.add_row(  # cells are text, not markup: a source URL may hold [ ]
            escape(p.name),
            escape(p.cron),
            escape(p.source),
            f"{p.next_run_at:%Y-%m-%d %H:%M}",
            str(p.enabled),
            p.last_job_id or "",
        )
    console.print(table)


@profiles_app.command("remove")
@handles_errors
def remove_profile(name: str) -> None:
    """Delete a scheduled import."""
    open_hub().import_profiles.delete(name)
    console.print(f"{name}: removed")


@profiles_app.command("run")
@handles_errors
def run_profile(name: str) -> None:
    """Run a scheduled import now, in this process."""
    job = open_hub().import_profiles.run(name)
    summary = job.summary or {}
    errors = summary.get("errorCount", 0)
    text = (
        f"{name}: job {job.id} {job.status.value}: {summary.get('rows', 0)} rows, "
        f"{summary.get('created', 0)} created, {summary.get('updated', 0)} updated, "
        f"{summary.get('unchanged', 0)} unchanged, {summary.get('failed', 0)} refused"
        + (f" ({errors} error{'s' if errors != 1 else ''})" if summary.get("failed") else "")
        + (f", {summary['skipped']} skipped" if summary.get("skipped") else "")
        + (
            f", {summary['parents']} parent(s) with {summary['variants']} variant(s)"
            if summary.get("parents") or summary.get("variants")
            else ""
        )
        + (f" ({job.error})" if job.error else "")
    )
    # The error may quote the file (its columns): text, not Rich markup.
    console.print(escape(text), highlight=False)
    if job.status.value not in ("succeeded",):
        raise typer.Exit(EXIT_ROW_ERRORS if job.status.value == "completed-with-errors" else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(profiles_app, name="import-profiles")

    @app.command("import")
    @handles_errors
    def import_file(
        file: Annotated[Path, typer.Argument(help="CSV, JSONL, JSON, XML or XLSX", exists=True)],
        mapping: Annotated[
            str | None,
            typer.Option(
                "--mapping", "-m", help="a YAML mapping file, or a shipped one: magento-products"
            ),
        ] = None,
        class_: Annotated[
            str | None, typer.Option("--class", help="the class (default: the mapping's)")
        ] = None,
        infer: Annotated[
            bool,
            typer.Option(
                "--infer", help="print a mapping proposed from the header; import nothing"
            ),
        ] = False,
        mode: Annotated[
            WriteMode, typer.Option(help="upsert, create or update")
        ] = WriteMode.UPSERT,
        on_error: Annotated[
            OnError, typer.Option(help="skip bad rows, or abort and keep nothing")
        ] = OnError.SKIP,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="check everything, keep nothing")
        ] = False,
        report: Annotated[
            Path | None, typer.Option(help="write row errors here (.csv or .json)")
        ] = None,
        fmt: Annotated[
            Format | None, typer.Option("--format", help="default: from the extension")
        ] = None,
        delimiter: Annotated[str | None, typer.Option(help="CSV; default: sniffed")] = None,
        encoding: Annotated[str, typer.Option(help="text files")] = "utf-8-sig",
        record_path: Annotated[
            str | None, typer.Option(help="XML record element, e.g. products/product")
        ] = None,
        sheet: Annotated[str | None, typer.Option(help="XLSX sheet; default: the first")] = None,
        batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
        draft: Annotated[
            bool, typer.Option("--draft", help="new and updated objects unpublished")
        ] = False,
    ) -> None:
        """Import a file: every row becomes an object, matched by business key. Exit 0 when
        every row was accepted, 3 when some were refused (see --report), 1 on failure."""
        if delimiter is not None and (problem := delimiter_problem(delimiter)):
            raise fail(f"--delimiter: {problem}")  # before the database is opened
        hub = open_hub()
        source = SourceOptions(fmt, delimiter, encoding, record_path, sheet)
        if infer:
            _infer(hub, file, source, class_)
            return
        if mapping is None:
            raise fail("--mapping is required (propose one with --infer)")
        parsed = parse_mapping(safe_yaml.load(_mapping_text(mapping)))
        class_name = class_ or parsed.class_name
        hub.classes.get(class_name)  # an unknown class fails before any row is read
        options = ImportOptions(
            mode=mode,
            on_error=on_error,
            dry_run=dry_run,
            batch_size=batch_size,
            published=False if draft else None,
            author="cli-import",
            language=hub.settings.default_language,
        )

        def writer() -> Any:
            return hub.catalog.batch_writer(
                class_name, mode=mode, published=options.published, author=options.author
            )

        sink = error_report(report) if report else nullcontext(None)
        with sink as on_row_error, _progress() as bar:
            task = bar.add_task("import", total=None, rate=0.0, errors=0)

            def show(s: ImportSummary) -> None:
                bar.update(task, completed=s.rows, rate=s.rate, errors=s.failed)

            summary = run_import(
                writer,
                read(file, source, hub.imports.limits),
                parsed,
                options,
                on_row_error=on_row_error,
                progress=show,
                assets=asset_fetcher(
                    parsed,
                    hub.assets,
                    # The CLI may read local files: whoever runs it can read them anyway.
                    replace(hub.imports.asset_policy, local_files=True),
                    author=options.author,
                    dry_run=dry_run,
                ),
            )
        _print_summary(summary, report)
        if summary.aborted:
            raise typer.Exit(1)
        if summary.failed:
            raise typer.Exit(EXIT_ROW_ERRORS)

    @app.command("export")
    @handles_errors
    def export_objects(
        class_: Annotated[str, typer.Option("--class", help="the class to export")],
        fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.CSV,
        filter_: Annotated[
            str | None, typer.Option("--filter", help='JSON filter, e.g. {"stock": {"$gt": 0}}')
        ] = None,
        fields: Annotated[str | None, typer.Option(help="comma-separated; default: all")] = None,
        lang: Annotated[
            str | None, typer.Option(help="one language for localized fields; default: all")
        ] = None,
        drafts: Annotated[
            bool, typer.Option("--drafts", help="include unpublished objects")
        ] = False,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="default: stdout")
        ] = None,
        delimiter: Annotated[
            str | None, typer.Option(help="CSV: one character, e.g. ';' (default: ',')")
        ] = None,
    ) -> None:
        """Export a class's objects, streamed; relations as business keys."""
        options = ExportOptions(
            format=fmt,
            filter=filter_,
            fields=tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else None,
            language=lang,
            drafts=drafts,
            delimiter=delimiter,
        )
        check_delimiter(options)  # before the database is opened or a file created
        hub = open_hub()
        definition = hub.classes.get(class_)
        target = (
            output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout)
        )
        try:
            with target as out:
                count = export(
                    hub.catalog,
                    hub.graph_reads,
                    definition,
                    options,
                    out,
                    languages=hub.settings.languages or [hub.settings.default_language],
                    default_language=hub.settings.default_language,
                )
                out.flush()
        except BrokenPipeError:
            _quiet_closed_stdout()
            raise typer.Exit(1) from None
        if output is not None:
            console.print(f"wrote {count:,} {escape(class_)} object(s) to {escape(str(output))}")


def _quiet_closed_stdout() -> None:
    """`pimhub export | head` closed our stdout: point it at devnull, so that the flush at
    exit does not print a second BrokenPipeError, and stop without a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _mapping_text(name: str) -> str:
    path = Path(name)
    if path.exists():
        return path.read_text(encoding="utf-8")
    shipped = shipped_mapping(name)
    if shipped is None:
        raise fail(
            f"no mapping file '{name}', and no shipped mapping of that name "
            f"(shipped: {', '.join(shipped_mappings())})"
        )
    return shipped


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TextColumn("{task.fields[errors]:,} refused"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _print_summary(summary: ImportSummary, report: Path | None) -> None:
    verb = "would be" if summary.dry_run else "were"
    # Rows are counted once however many errors they have; skipped rows are neither.
    skipped = f", {summary.skipped:,} skipped" if summary.skipped else ""
    errors = (
        f" ({summary.error_count:,} error{'s' if summary.error_count != 1 else ''})"
        if summary.failed
        else ""
    )
    console.print(
        f"{summary.rows:,} rows in {summary.seconds:.1f} s ({summary.rate:,.0f} rows/s): "
        f"{summary.created:,} created, {summary.updated:,} updated, "
        f"{summary.unchanged:,} unchanged, {summary.failed:,} refused{errors}{skipped}"
    )
    if summary.parents or summary.variants:
        console.print(
            f"variants: {summary.parents:,} parent(s) with {summary.variants:,} variant(s) "
            f"in the accepted rows"
        )
    if (files := summary.assets) is not None:
        console.print(
            escape(
                f"assets: {files['fetched']:,} fetched ({files['created']:,} new, "
                f"{files['updated']:,} changed, {files['unchanged']:,} same bytes), "
                f"{files['notModified']:,} not modified, {files['refused']:,} refused"
                + (
                    f"; would fetch {files['wouldFetch']:,}: " + ", ".join(files["wouldFetchFirst"])
                    if files.get("wouldFetch")
                    else ""
                )
            ),
            highlight=False,
        )
    if summary.aborted:
        console.print("aborted at the first refused row: nothing was kept")
    elif summary.dry_run:
        console.print(
            f"dry run: nothing was kept ({summary.created + summary.updated:,} changes {verb} made)"
        )
    for e in summary.errors[:10]:
        # Column, value and message come from the file: never read as Rich markup (a
        # pattern such as [a-z0-9]+ would vanish).
        where = f"row {e.row}" + (f" (line {e.line})" if e.line not in (None, e.row) else "")
        # A refusal of no cell's value (published, set by a workflow) shows no "= ...".
        shown = "" if e.value in (None, "") else f" = {in_message(e.value)}"
        text = f"  {where}, {e.column}{shown}: {e.message}"
        console.print(escape(text), highlight=False)
    if summary.error_count > 10:
        more = f"; all of them in {report}" if report else "; write them all with --report"
        console.print(escape(f"  ... {summary.error_count - 10:,} more errors{more}"))


def _infer(hub: Any, file: Path, source: SourceOptions, class_name: str | None) -> None:
    if class_name is None:
        raise fail("--infer needs --class, the class the rows become")
    definition = hub.classes.get(class_name)
    # The first records, not only the header, show how lists are joined (| or ,).
    samples = [r.values for r in islice(read(file, source, hub.imports.limits), INFER_SAMPLE)]
    if not samples:
        raise fail(f"{file} has no rows to propose a mapping from")
    proposal, unmapped = propose_mapping(
        definition,
        samples[0],
        hub.settings.default_language,
        hub.settings.languages,
        samples,
    )
    if unmapped:
        names = ", ".join(u.column for u in unmapped)
        sys.stdout.write(f"# columns without a field of the same name: {names}\n")
        sys.stdout.writelines(f"#   {u.column}: {u.reason}\n" for u in unmapped)
    sys.stdout.write(yaml.safe_dump(proposal, sort_keys=False, allow_unicode=True))
