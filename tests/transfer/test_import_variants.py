"""Imports that build families of variants, on both databases: a parent's row lists its
variants (`@variants`, as Magento's configurable_variations) or a variant's row names its
parent (`@parent`, as Akeneo's parent column); refused links are row errors naming the row
and the column; a dry run keeps nothing; a second import changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pimhub.bootstrap import Hub
from pimhub.catalog.service import ListQuery
from pimhub.storage.tables import objects, outbox
from pimhub.transfer.importer import ImportOptions, ImportSummary, RowError, run_import
from pimhub.transfer.mapping import parse_mapping
from pimhub.transfer.sources import Format, from_text

MAPPING = parse_mapping(
    {
        "class": "Product",
        "fields": {
            "sku": "sku",
            "name.en": "name",
            "color": {"column": "color", "lowercase": True, "optional": True},
            "size": {"column": "size", "optional": True},
            "@variants": {"column": "variations", "variations": "sku", "optional": True},
            "@parent": {"column": "parent", "optional": True},
        },
    }
)
HEADER = "sku,name,color,size,variations\n"
CHILDREN = "T-S-Red,Tee S red,Red,S,\nT-M-Red,Tee M red,Red,M,\nT-S-Blue,Tee S blue,Blue,S,\n"
PARENT = 'T,Tee,,,"sku=T-S-Red,size=S,color=Red|sku=T-M-Red,size=M,color=Red|sku=T-S-Blue"\n'


def run(hub: Hub, text: str, **options: Any) -> tuple[ImportSummary, list[RowError]]:
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    summary = run_import(
        writer,
        from_text(text, Format.CSV),
        MAPPING,
        ImportOptions(**options),
        on_row_error=errors.append,
    )
    return summary, errors


def variants_of(hub: Hub, key: str) -> dict[str, tuple[Any, Any]]:
    page = hub.catalog.list_objects("Product", ListQuery(parent=key, first=100))
    return {o.key: (o.values.get("color"), o.values.get("size")) for o in page.items}


def totals(hub: Hub) -> tuple[int, int]:
    with hub.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(objects)).scalar_one()
        return count, conn.execute(select(func.count()).select_from(outbox)).scalar_one()


def test_a_parent_row_links_the_variants_listed_before_it_in_any_batch(hub: Hub) -> None:
    summary, errors = run(hub, HEADER + CHILDREN + PARENT, batch_size=2)
    assert errors == []
    assert (summary.created, summary.parents, summary.variants) == (4, 1, 3)
    assert variants_of(hub, "T") == {
        "T-S-Red": ("red", "S"),
        "T-M-Red": ("red", "M"),
        "T-S-Blue": ("blue", "S"),
    }
    child = hub.catalog.get_object("Product", "T-S-Red", include_drafts=False)
    assert child.values["name"] == {"en": "Tee S red"}  # its own, not the parent's
    before = totals(hub)
    again, _ = run(hub, HEADER + CHILDREN + PARENT, batch_size=2)
    assert (again.unchanged, again.parents, again.variants) == (4, 1, 3)
    assert totals(hub) == before


def test_a_dry_run_links_nothing_and_keeps_nothing(hub: Hub) -> None:
    before = totals(hub)
    summary, errors = run(hub, HEADER + CHILDREN + PARENT, dry_run=True)
    assert errors == []
    assert (summary.created, summary.parents, summary.variants) == (4, 1, 3)
    assert totals(hub) == before


def test_unknown_and_clashing_variants_are_row_errors_at_their_column(hub: Hub) -> None:
    clash = "T-M-Blue,Tee M blue,Blue,S,\n"  # the axes of T-S-Blue
    parent = 'T,Tee,,,"sku=T-S-Blue,size=S|sku=T-XL,size=XL|sku=T-M-Blue,size=S"\n'
    summary, errors = run(hub, HEADER + CHILDREN + clash + parent)
    # One refused row with two errors.
    assert (summary.created, summary.failed, summary.error_count, summary.parents) == (4, 1, 2, 0)
    cell = "sku=T-S-Blue,size=S|sku=T-XL,size=XL|sku=T-M-Blue,size=S"
    assert [(e.row, e.column, e.value, e.code) for e in errors] == [
        (5, "variations", cell, "reference"),
        (5, "variations", cell, "axes-taken"),
    ]
    assert "no Product 'T-XL' to be a variant of 'T'" in errors[0].message
    assert "the same axis values as 'T-S-Blue'" in errors[1].message
    # Nothing of the refused row was written: no parent, no link.
    assert totals(hub)[0] == 4
    assert hub.catalog.get_object("Product", "T-S-Blue", include_drafts=False).parent is None


def test_a_variations_cell_without_skus_is_a_row_error(hub: Hub) -> None:
    summary, errors = run(hub, HEADER + 'T,Tee,,,"size=S,color=Red"\n')
    assert summary.failed == 1
    assert [(e.row, e.column, e.code) for e in errors] == [(1, "variations", "transform")]


PARENT_HEADER = "sku,name,color,size,parent\n"
BY_PARENT = "T,Tee,,,\nT-S-Red,Tee S red,Red,S,T\nT-M-Red,Tee M red,Red,M,T\nA,Apron,,,\n"


def test_a_parent_column_links_variants_and_an_empty_one_unlinks(hub: Hub) -> None:
    summary, errors = run(hub, PARENT_HEADER + BY_PARENT)
    assert errors == []
    assert (summary.created, summary.parents, summary.variants) == (4, 1, 2)
    assert set(variants_of(hub, "T")) == {"T-S-Red", "T-M-Red"}
    again, _ = run(hub, PARENT_HEADER + BY_PARENT)
    assert (again.unchanged, again.failed) == (4, 0)
    unlinked, _ = run(hub, PARENT_HEADER + "T-M-Red,Tee M red,Red,M,\n")
    assert unlinked.updated == 1
    assert set(variants_of(hub, "T")) == {"T-S-Red"}
    standalone = hub.catalog.get_object("Product", "T-M-Red", include_drafts=False)
    assert standalone.parent is None


def test_a_refused_parent_or_clashing_axes_name_their_columns(hub: Hub) -> None:
    rows = BY_PARENT + "T-X,Tee X,Red,S,T\nT-Y,Tee Y,Red,L,NOPE\n"
    summary, errors = run(hub, PARENT_HEADER + rows)
    assert (summary.created, summary.failed) == (4, 2)
    assert [(e.row, e.column, e.value, e.code) for e in errors] == [
        (5, "color", "Red", "axes-taken"),
        (6, "parent", "NOPE", "parent"),
    ]


def test_a_reimport_writes_what_changed_and_only_that(hub: Hub) -> None:
    run(hub, HEADER + CHILDREN + PARENT)
    before = totals(hub)
    drafts, _ = run(hub, HEADER + CHILDREN + PARENT, published=False)
    assert drafts.unchanged == 4  # unchanged rows stay live, as plain rows do
    assert totals(hub) == before
    renamed = CHILDREN.replace("Tee M red", "Tee M rouge")
    changed, _ = run(hub, HEADER + renamed + PARENT.replace("Tee", "Tea"))
    assert (changed.updated, changed.unchanged) == (2, 2)
    assert hub.catalog.get_object("Product", "T", include_drafts=False).values["name"] == {
        "en": "Tea"
    }
    # One batch: a row lists T-S-Blue under U, a later row names T as its parent again.
    both = "sku,name,color,size,variations,parent\n"
    rows = "U,Other tee,,,sku=T-S-Blue,\nT-S-Blue,Tee S blue,Blue,S,,T\n"
    summary, errors = run(hub, both + rows)
    assert errors == [] and (summary.created, summary.updated) == (1, 1)
    assert set(variants_of(hub, "T")) == {"T-S-Red", "T-M-Red", "T-S-Blue"}
    assert variants_of(hub, "U") == {}


def test_linking_gives_each_variant_one_version_and_event(hub: Hub) -> None:
    run(hub, HEADER + CHILDREN)
    objects_before, events_before = totals(hub)
    described = "sku,name,description,variations\n" + PARENT.replace("Tee,,,", "Tee,<p>Soft.</p>,")
    mapping = {"description.en": "description"}
    summary, errors = run_with(hub, described, mapping)
    assert errors == [] and (summary.created, summary.parents, summary.variants) == (1, 1, 3)
    assert totals(hub) == (objects_before + 1, events_before + 4)
    child = hub.catalog.get_object("Product", "T-M-Red", include_drafts=False)
    assert child.version == 2 and "description" in child.inherited
    assert child.values["description"] == {"en": "<p>Soft.</p>"}
    assert [
        v.version for v in hub.catalog.list_versions("Product", "T-M-Red", include_drafts=True)
    ] == [2, 1]


def run_with(hub: Hub, text: str, fields: dict[str, Any]) -> tuple[ImportSummary, list[RowError]]:
    mapping = parse_mapping(
        {
            "class": "Product",
            "fields": {
                "sku": "sku",
                "name.en": "name",
                "@variants": {"column": "variations", "variations": "sku"},
                **fields,
            },
        }
    )
    errors: list[RowError] = []

    def writer() -> Any:
        return hub.catalog.batch_writer("Product", author="import")

    summary = run_import(
        writer, from_text(text, Format.CSV), mapping, ImportOptions(), on_row_error=errors.append
    )
    return summary, errors


def test_links_that_break_the_variant_rules_refuse_the_whole_row(hub: Hub) -> None:
    run(hub, HEADER + CHILDREN + PARENT)
    found: list[tuple[int, str, str, str]] = []
    for rows in (
        'N,No axes,,,\nM,Missing,,,"sku=N"\n',  # N sets no axis
        'W,Wrong,,,"sku=T"\n',  # T has variants of its own
        'T-S-Red2,Tee S red again,Red,S,\nT,Tee,,,"sku=T-S-Red2"\n',  # T-S-Red is red, S
    ):
        _, errors = run(hub, HEADER + rows)
        found += [(e.row, e.column, e.code, e.message) for e in errors]
    _, errors = run(hub, "sku,name,color,size,variations,parent\n" + 'P,Pa,,,"sku=T-S-Red2",T\n')
    found += [(e.row, e.column, e.code, e.message) for e in errors]
    assert found == [
        (2, "variations", "axis-required", "'N' does not set color, an axis"),
        (2, "variations", "axis-required", "'N' does not set size, an axis"),
        (1, "variations", "variant-level", "'T' has variants of its own, so it cannot be one"),
        (2, "variations", "axes-taken", "has the same axis values as sibling 'T-S-Red'"),
        (1, "variations", "variant-level", "'P' is a variant itself: a family has one level"),
    ]
    # Nothing of a refused row was written.
    assert totals(hub)[0] == 6  # T and its three, and the accepted plain rows N, T-S-Red2
    assert set(variants_of(hub, "T")) == {"T-S-Red", "T-M-Red", "T-S-Blue"}
