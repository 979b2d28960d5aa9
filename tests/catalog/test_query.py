"""Filter parsing, field resolution and sort parsing: the tree a filter becomes, and the
exact error (message, field and code) for each thing a client can get wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pimhub.catalog.classes import parse_class_definition
from pimhub.catalog.commerce import commerce_model
from pimhub.catalog.errors import FieldError, InvalidQuery
from pimhub.catalog.query import (
    BoolOp,
    Comparison,
    FieldRef,
    FieldResolver,
    FilterParser,
    Node,
    Not,
    SortKey,
    SystemField,
    ValueKind,
    parse_sort,
)

PRODUCT = next(parse_class_definition(c) for c in commerce_model() if c["name"] == "Product")
RESOLVER = FieldResolver(PRODUCT, default_language="en")
STOCK = FieldRef(None, ("stock",), ValueKind.NUMBER)
SKU = FieldRef(None, ("sku",), ValueKind.STRING)
FEATURED = FieldRef(None, ("featured",), ValueKind.BOOLEAN)
CREATED = FieldRef(SystemField.CREATED_AT, (), ValueKind.NUMBER)
VERSION = FieldRef(SystemField.VERSION, (), ValueKind.NUMBER)


def parse(filter: Any) -> Node | None:
    return FilterParser(RESOLVER).parse(filter if isinstance(filter, str) else json.dumps(filter))


def refusal(filter: Any) -> tuple[str, list[FieldError]]:
    with pytest.raises(InvalidQuery) as caught:
        parse(filter)
    return caught.value.detail, caught.value.errors


def invalid_value(where: str, message: str) -> tuple[str, list[FieldError]]:
    return f"{where}: {message}", [FieldError(where, message, "invalid-value")]


# -- field resolution ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        ("key", FieldRef(SystemField.KEY, (), ValueKind.STRING)),
        ("o_key", FieldRef(SystemField.KEY, (), ValueKind.STRING)),
        ("uuid", FieldRef(SystemField.UUID, (), ValueKind.STRING)),
        ("published", FieldRef(SystemField.PUBLISHED, (), ValueKind.BOOLEAN)),
        ("o_published", FieldRef(SystemField.PUBLISHED, (), ValueKind.BOOLEAN)),
        ("version", VERSION),
        ("createdAt", CREATED),
        ("creationDate", CREATED),
        ("o_creationDate", CREATED),
        ("modifiedAt", FieldRef(SystemField.MODIFIED_AT, (), ValueKind.NUMBER)),
        ("modificationDate", FieldRef(SystemField.MODIFIED_AT, (), ValueKind.NUMBER)),
        ("o_modificationDate", FieldRef(SystemField.MODIFIED_AT, (), ValueKind.NUMBER)),
        ("stock", STOCK),
        ("sku", SKU),
        ("featured", FEATURED),
        ("name", FieldRef(None, ("name", "en"), ValueKind.STRING)),
        ("name.de", FieldRef(None, ("name", "de"), ValueKind.STRING)),
        ("description.fr", FieldRef(None, ("description", "fr"), ValueKind.STRING)),
        ("price", FieldRef(None, ("price", "amount"), ValueKind.NUMBER)),
        ("price.amount", FieldRef(None, ("price", "amount"), ValueKind.NUMBER)),
        ("price.currency", FieldRef(None, ("price", "currency"), ValueKind.STRING)),
        ("category", FieldRef(None, ("category",), ValueKind.STRING)),
        ("releasedOn", FieldRef(None, ("releasedOn",), ValueKind.STRING)),
        ("availableFrom", FieldRef(None, ("availableFrom",), ValueKind.STRING)),
        ("color", FieldRef(None, ("color",), ValueKind.STRING)),
        ("weight", FieldRef(None, ("weight",), ValueKind.NUMBER, quantity=("mass", "kg"))),
        ("weight.unit", FieldRef(None, ("weight", "unit"), ValueKind.STRING, unit_of="mass")),
    ],
)
def test_names_resolve_to_columns_json_paths_and_kinds(name: str, ref: FieldRef) -> None:
    assert RESOLVER.resolve(name, "filter.x") == ref


def test_localized_fields_default_to_the_resolvers_language() -> None:
    german = FieldResolver(PRODUCT, default_language="de")
    assert german.resolve("name", "w") == FieldRef(None, ("name", "de"), ValueKind.STRING)


def test_labels_name_the_system_field_or_the_dotted_path() -> None:
    assert RESOLVER.resolve("o_creationDate", "w").label == "createdAt"
    assert RESOLVER.resolve("name.de", "w").label == "name.de"
    assert RESOLVER.resolve("stock", "w").label == "stock"


def resolve_refusal(name: str, resolver: FieldResolver = RESOLVER) -> tuple[str, list[FieldError]]:
    with pytest.raises(InvalidQuery) as caught:
        resolver.resolve(name, "filter.here")
    return caught.value.detail, caught.value.errors


@pytest.mark.parametrize(
    ("name", "detail", "error"),
    [
        (
            "nope",
            "unknown field 'nope'",
            FieldError("filter.here", "unknown field 'nope' in Product", "unknown-field"),
        ),
        (
            "nope.en",
            "unknown field 'nope.en'",
            FieldError("filter.here", "unknown field 'nope.en' in Product", "unknown-field"),
        ),
        (
            "price.tax",
            "'price.tax': a money field has .amount and .currency",
            FieldError("filter.here", "use .amount or .currency"),
        ),
        ("sku.en", "'sku' has no part 'en'", FieldError("filter.here", "sku.en")),
        (
            "related",
            "'related' holds a list and cannot be compared or sorted",
            FieldError("filter.here", "list fields are not filterable yet"),
        ),
        (
            "material",
            "'material' holds a list and cannot be compared or sorted",
            FieldError("filter.here", "list fields are not filterable yet"),
        ),
        ("image", "'image' cannot be filtered", FieldError("filter.here", "image")),
    ],
)
def test_names_that_are_no_filterable_field_are_refused(
    name: str, detail: str, error: FieldError
) -> None:
    assert resolve_refusal(name) == (detail, [error])


def test_only_exposed_fields_resolve_when_a_set_is_given() -> None:
    narrow = FieldResolver(PRODUCT, default_language="en", exposed=frozenset({"sku"}))
    assert narrow.resolve("sku", "w") == SKU
    assert narrow.resolve("createdAt", "w") == CREATED  # system fields are always there
    names = FieldResolver(PRODUCT, default_language="en", exposed=frozenset({"name"}))
    assert names.resolve("name.de", "w") == FieldRef(None, ("name", "de"), ValueKind.STRING)
    error = FieldError("filter.here", "unknown field 'stock' in Product", "unknown-field")
    assert resolve_refusal("stock", narrow) == ("unknown field 'stock'", [error])


# -- the tree a filter becomes -------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "  \n", "{}", " {} "])
def test_no_filter_or_an_empty_object_means_no_filter(text: str | None) -> None:
    assert FilterParser(RESOLVER).parse(text) is None


@pytest.mark.parametrize(
    ("filter", "tree"),
    [
        ({"stock": 5}, Comparison(STOCK, "$eq", 5)),
        ({"stock": None}, Comparison(STOCK, "$null", True)),
        ({"stock": [4, 6]}, Comparison(STOCK, "$in", [4, 6])),
        ({"stock": {"$lte": 5}}, Comparison(STOCK, "$lte", 5)),
        ({"stock": {"$nin": [1]}}, Comparison(STOCK, "$nin", [1])),
        ({"stock": {"$notnull": False}}, Comparison(STOCK, "$notnull", False)),
        ({"stock": {"$not": 5}}, Not(Comparison(STOCK, "$eq", 5))),
        ({"stock": {"$not": {"$gt": 5}}}, Not(Comparison(STOCK, "$gt", 5))),
        ({"stock": {"$not": {"$not": 5}}}, Not(Not(Comparison(STOCK, "$eq", 5)))),
        (
            {"stock": {"$gt": 1, "$lt": 9}},
            BoolOp("$and", (Comparison(STOCK, "$gt", 1), Comparison(STOCK, "$lt", 9))),
        ),
        (
            {"sku": "A", "featured": True},
            BoolOp("$and", (Comparison(SKU, "$eq", "A"), Comparison(FEATURED, "$eq", True))),
        ),
        (
            {"$or": [{"sku": "A"}, {"stock": 1}]},
            BoolOp("$or", (Comparison(SKU, "$eq", "A"), Comparison(STOCK, "$eq", 1))),
        ),
        ({"$and": [{"sku": "A"}]}, BoolOp("$and", (Comparison(SKU, "$eq", "A"),))),
        ({"$not": {"sku": "A"}}, Not(Comparison(SKU, "$eq", "A"))),
        (
            {"$not": {"$or": [{"sku": "A"}, {"sku": {"$like": "B%"}}]}},
            Not(BoolOp("$or", (Comparison(SKU, "$eq", "A"), Comparison(SKU, "$like", "B%")))),
        ),
        ({"createdAt": "2026-01-01T01:00:00+01:00"}, Comparison(CREATED, "$eq", 1767225600.0)),
        ({"createdAt": {"$in": [0, "1970-01-01T00:00:01Z"]}}, Comparison(CREATED, "$in", [0, 1.0])),
    ],
)
def test_filters_parse_into_the_expected_tree(filter: Any, tree: Node) -> None:
    assert parse(filter) == tree


MAX_NODES = 200


def test_a_filter_of_200_conditions_is_accepted_and_201_are_refused() -> None:
    # "$or" counts as one condition, and each of its items as one more.
    assert parse({"$or": [{"sku": str(i)} for i in range(MAX_NODES - 1)]}) is not None
    detail, errors = refusal({"$or": [{"sku": str(i)} for i in range(MAX_NODES)]})
    assert detail == "filter has more than 200 conditions"
    assert errors == [FieldError("filter.$or[199].sku", "filter too large", "too-large")]


def test_operators_inside_a_field_count_as_conditions() -> None:
    items = [{"sku": {"$ne": str(i)}} for i in range(MAX_NODES // 2)]
    detail, errors = refusal({"$and": items})
    assert detail == "filter has more than 200 conditions"
    assert errors == [FieldError("filter.$and[99].sku.$ne", "filter too large", "too-large")]
    assert parse({"$and": items[:-1]}) is not None


@pytest.mark.parametrize(
    ("text", "detail", "error"),
    [
        (
            "{",
            "filter is not valid JSON: Expecting property name enclosed in double quotes "
            "at character 1",
            FieldError("filter", "invalid JSON", "invalid-json"),
        ),
        (
            "[" * 100_000,
            "filter is nested too deeply",
            FieldError("filter", "nested too deeply", "invalid-json"),
        ),
        (
            "[]",
            "filter must be a JSON object",
            FieldError("filter", "expected an object", "invalid-json"),
        ),
        (
            '"sku"',
            "filter must be a JSON object",
            FieldError("filter", "expected an object", "invalid-json"),
        ),
    ],
)
def test_text_that_is_no_json_object_is_refused(text: str, detail: str, error: FieldError) -> None:
    assert refusal(text) == (detail, [error])


@pytest.mark.parametrize(
    ("filter", "detail", "error"),
    [
        (
            {"$or": {"sku": "A"}},
            "filter.$or takes a non-empty list of conditions",
            FieldError("filter.$or", "expected a list"),
        ),
        (
            {"$and": []},
            "filter.$and takes a non-empty list of conditions",
            FieldError("filter.$and", "expected a list"),
        ),
        (
            {"$or": [{"sku": "A"}, {}]},
            "filter.$or[1] must be a non-empty object",
            FieldError("filter.$or[1]", "expected an object"),
        ),
        (
            {"$and": ["sku"]},
            "filter.$and[0] must be a non-empty object",
            FieldError("filter.$and[0]", "expected an object"),
        ),
        (
            {"$not": {}},
            "filter.$not takes a condition object",
            FieldError("filter.$not", "expected an object"),
        ),
        (
            {"$not": [{"sku": "A"}]},
            "filter.$not takes a condition object",
            FieldError("filter.$not", "expected an object"),
        ),
        (
            {"$xor": [{"sku": "A"}]},
            "unknown operator '$xor' at filter",
            FieldError("filter.$xor", "unknown operator", "unknown-operator"),
        ),
        (
            {"$or": [{"stock": {"$gt": 1, "$between": [1, 2]}}]},
            "unknown operator '$between' at filter.$or[0].stock; use one of: $eq $ne $gt $gte "
            "$lt $lte $in $nin $like $notlike $null $notnull $not",
            FieldError("filter.$or[0].stock.$between", "unknown operator", "unknown-operator"),
        ),
        ({"stock": {}}, "filter.stock has no condition", FieldError("filter.stock", "empty")),
        (
            {"stock": {"$not": {}}},
            "filter.stock.$not has no condition",
            FieldError("filter.stock.$not", "empty"),
        ),
        (
            {"$and": [{"nope": 1}]},
            "unknown field 'nope'",
            FieldError("filter.$and[0].nope", "unknown field 'nope' in Product", "unknown-field"),
        ),
    ],
)
def test_malformed_filters_are_refused_naming_the_place(
    filter: Any, detail: str, error: FieldError
) -> None:
    assert refusal(filter) == (detail, [error])


# -- values --------------------------------------------------------------------------------

NUMBER_PAST_64_BITS = "is out of range; whole numbers must fit in 64 bits"
SURROGATE = "contains a lone surrogate (\\ud800-\\udfff), which is not text"


@pytest.mark.parametrize(
    ("filter", "where", "message"),
    [
        ({"stock": {"$null": 1}}, "filter.stock.$null", "$null takes true or false"),
        ({"stock": {"$notnull": "yes"}}, "filter.stock.$notnull", "$notnull takes true or false"),
        ({"stock": {"$in": 5}}, "filter.stock.$in", "$in takes a list of 1 to 1000 values"),
        ({"stock": {"$nin": []}}, "filter.stock.$nin", "$nin takes a list of 1 to 1000 values"),
        ({"stock": [1] * 1001}, "filter.stock", "$in takes a list of 1 to 1000 values"),
        ({"stock": ["5"]}, "filter.stock", "'stock' compares with a number, got '5'"),
        (
            {"stock": {"$nin": [1, True]}},
            "filter.stock.$nin",
            "'stock' compares with a number, got True",
        ),
        ({"sku": "A\x00"}, "filter.sku", "contains a NUL character"),
        ({"sku": {"$like": "%\x00"}}, "filter.sku.$like", "contains a NUL character"),
        ({"sku": {"$in": ["\x00"]}}, "filter.sku.$in", "contains a NUL character"),
        (
            {"stock": {"$not": "x"}},
            "filter.stock.$not.$eq",
            "'stock' compares with a number, got 'x'",
        ),
        ({"$not": {"stock": "x"}}, "filter.$not.stock", "'stock' compares with a number, got 'x'"),
        (
            {"stock": {"$not": {"$gt": None}}},
            "filter.stock.$not.$gt",
            "'stock' compares with a number, got None",
        ),
        ({"sku": "\ud800"}, "filter.sku", SURROGATE),
        ({"sku": {"$notlike": "%\udfff"}}, "filter.sku.$notlike", SURROGATE),
        ({"sku": {"$nin": ["a", "\udc00"]}}, "filter.sku.$nin", SURROGATE),
        ({"stock": {"$like": "\x00"}}, "filter.stock.$like", "contains a NUL character"),
        (
            {"stock": {"$like": "5%"}},
            "filter.stock.$like",
            "$like applies to text fields only, not to 'stock'",
        ),
        (
            {"featured": {"$notlike": "t%"}},
            "filter.featured.$notlike",
            "$notlike applies to text fields only, not to 'featured'",
        ),
        (
            {"createdAt": {"$like": "2026%"}},
            "filter.createdAt.$like",
            "$like applies to text fields only, not to 'createdAt'",
        ),
        (
            {"featured": {"$gt": False}},
            "filter.featured.$gt",
            "$gt does not apply to the true/false field 'featured'; use $eq or $ne",
        ),
        (
            {"published": {"$lte": True}},
            "filter.published.$lte",
            "$lte does not apply to the true/false field 'published'; use $eq or $ne",
        ),
        (
            {"o_published": {"$gte": 1}},
            "filter.o_published.$gte",
            "$gte does not apply to the true/false field 'published'; use $eq or $ne",
        ),
        (
            {"featured": {"$lt": True}},
            "filter.featured.$lt",
            "$lt does not apply to the true/false field 'featured'; use $eq or $ne",
        ),
        (
            {"sku": {"$like": 5}},
            "filter.sku.$like",
            "$like takes a string pattern with % and _ wildcards",
        ),
        (
            {"sku": {"$notlike": None}},
            "filter.sku.$notlike",
            "$notlike takes a string pattern with % and _ wildcards",
        ),
        ({"stock": "5"}, "filter.stock", "'stock' compares with a number, got '5'"),
        ({"stock": True}, "filter.stock", "'stock' compares with a number, got True"),
        ({"stock": {"$gt": None}}, "filter.stock.$gt", "'stock' compares with a number, got None"),
        ({"sku": 5}, "filter.sku", "'sku' compares with a string, got 5"),
        ({"featured": 1}, "filter.featured", "'featured' compares with a boolean, got 1"),
        ({"featured": "true"}, "filter.featured", "'featured' compares with a boolean, got 'true'"),
        ({"version": False}, "filter.version", "'version' compares with a number, got False"),
        ({"createdAt": True}, "filter.createdAt", "'createdAt' compares with a number, got True"),
        (
            {"createdAt": {"$eq": None}},
            "filter.createdAt.$eq",
            "'createdAt' compares with a number, got None",
        ),
        ({"stock": 2**63}, "filter.stock", f"9223372036854775808 {NUMBER_PAST_64_BITS}"),
        (
            {"stock": {"$gt": -(2**63) - 1}},
            "filter.stock.$gt",
            f"-9223372036854775809 {NUMBER_PAST_64_BITS}",
        ),
        (
            {"price.amount": [1, 2**64]},
            "filter.price.amount",
            f"18446744073709551616 {NUMBER_PAST_64_BITS}",
        ),
        (
            {"version": 2**31},
            "filter.version",
            "2147483648 is out of range; versions go up to 2147483647",
        ),
        (
            {"version": {"$gt": -(2**31)}},
            "filter.version.$gt",
            "-2147483648 is out of range; versions go up to 2147483647",
        ),
        (
            {"createdAt": 253_402_300_800},
            "filter.createdAt",
            "253402300800 is outside the years 1 to 9999",
        ),
        (
            {"modifiedAt": -62_135_596_801},
            "filter.modifiedAt",
            "-62135596801 is outside the years 1 to 9999",
        ),
        (
            {"createdAt": "yesterday"},
            "filter.createdAt",
            "'yesterday' is neither Unix seconds nor an ISO 8601 date-time",
        ),
        (
            {"createdAt": "2026-01-01T00:00:00"},
            "filter.createdAt",
            "'2026-01-01T00:00:00' has no time zone; add Z or an offset such as +01:00",
        ),
        (
            {"createdAt": "0001-01-01T00:00:00+01:00"},
            "filter.createdAt",
            "'0001-01-01T00:00:00+01:00' is outside the years 1 to 9999 in UTC",
        ),
        (
            {"modifiedAt": "9999-12-31T23:59:59-01:00"},
            "filter.modifiedAt",
            "'9999-12-31T23:59:59-01:00' is outside the years 1 to 9999 in UTC",
        ),
    ],
)
def test_values_that_do_not_fit_the_field_are_refused(
    filter: Any, where: str, message: str
) -> None:
    assert refusal(filter) == invalid_value(where, message)


@pytest.mark.parametrize(
    ("text", "value"),
    [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"), ("1e400", "inf")],
)
def test_numbers_that_are_not_finite_are_refused(text: str, value: str) -> None:
    assert refusal(f'{{"stock": {text}}}') == invalid_value(
        "filter.stock", f"{value} is not a finite number"
    )


@pytest.mark.parametrize(
    ("filter", "tree"),
    [
        ({"stock": 2**63 - 1}, Comparison(STOCK, "$eq", 2**63 - 1)),
        ({"stock": {"$lt": -(2**63)}}, Comparison(STOCK, "$lt", -(2**63))),
        ({"stock": 1e308}, Comparison(STOCK, "$eq", 1e308)),
        ({"version": 2**31 - 1}, Comparison(VERSION, "$eq", 2**31 - 1)),
        ({"version": {"$gt": -(2**31) + 1}}, Comparison(VERSION, "$gt", -(2**31) + 1)),
        ({"createdAt": 253_402_300_799}, Comparison(CREATED, "$eq", 253_402_300_799)),
        ({"createdAt": -62_135_596_800}, Comparison(CREATED, "$eq", -62_135_596_800)),
        ({"createdAt": "9999-12-31T23:59:59Z"}, Comparison(CREATED, "$eq", 253_402_300_799.0)),
        ({"createdAt": "0001-01-01T00:00:00Z"}, Comparison(CREATED, "$eq", -62_135_596_800.0)),
        ({"createdAt": {"$null": True}}, Comparison(CREATED, "$null", True)),
        ({"stock": [0] * 1000}, Comparison(STOCK, "$in", [0] * 1000)),
        ({"sku": {"$like": "%"}}, Comparison(SKU, "$like", "%")),
        (
            {"price.currency": {"$notlike": "E%"}},
            Comparison(FieldRef(None, ("price", "currency"), ValueKind.STRING), "$notlike", "E%"),
        ),
    ],
)
def test_values_at_the_edges_of_their_range_are_accepted(filter: Any, tree: Node) -> None:
    assert parse(filter) == tree


# -- sort ----------------------------------------------------------------------------------


def test_sort_keys_keep_their_order_and_direction() -> None:
    price = FieldRef(None, ("price", "amount"), ValueKind.NUMBER)
    assert parse_sort(RESOLVER, ["-price", " +stock ", "sku", "-createdAt"]) == [
        SortKey(price, True),
        SortKey(STOCK, False),
        SortKey(SKU, False),
        SortKey(CREATED, True),
    ]
    assert parse_sort(RESOLVER, []) == []


def sort_refusal(spec: list[str]) -> tuple[str, list[FieldError]]:
    with pytest.raises(InvalidQuery) as caught:
        parse_sort(RESOLVER, spec)
    return caught.value.detail, caught.value.errors


def test_five_sort_keys_are_accepted_and_six_refused() -> None:
    five = ["sku", "stock", "name", "color", "createdAt"]
    assert len(parse_sort(RESOLVER, five)) == 5
    assert sort_refusal([*five, "version"]) == (
        "at most 5 sort keys",
        [FieldError("sort", "too many keys")],
    )


@pytest.mark.parametrize(
    ("spec", "detail", "error"),
    [
        (["sku", "-"], "empty sort key", FieldError("sort[1]", "empty")),
        (["  "], "empty sort key", FieldError("sort[0]", "empty")),
        (
            ["-category"],
            "cannot sort by the relation 'category'",
            FieldError("sort[0]", "relations cannot be sorted by", "invalid-value"),
        ),
        (
            ["Xsku"],
            "unknown field 'Xsku'",
            FieldError("sort[0]", "unknown field 'Xsku' in Product", "unknown-field"),
        ),
        (
            ["sku", "nope"],
            "unknown field 'nope'",
            FieldError("sort[1]", "unknown field 'nope' in Product", "unknown-field"),
        ),
    ],
)
def test_bad_sort_keys_are_refused_naming_the_key(
    spec: list[str], detail: str, error: FieldError
) -> None:
    assert sort_refusal(spec) == (detail, [error])


@pytest.mark.usefixtures("far_east_local_time")
def test_filter_times_are_converted_in_utc_not_in_local_time() -> None:
    late = Comparison(CREATED, "$lt", 253_402_297_200.0)
    assert parse({"createdAt": {"$lt": "9999-12-31T23:00:00Z"}}) == late


PARCEL = parse_class_definition(
    {
        "name": "Parcel",
        "businessKey": "code",
        "fields": [
            {"name": "code", "type": "text"},
            {"name": "name", "type": "text", "localized": True},
            {"name": "weight", "type": "quantity", "family": "mass", "unit": "kg"},
            {"name": "price", "type": "money", "priceList": True, "currencies": ["EUR", "USD"]},
        ],
        "completeness": {"channels": {"shop": {"languages": ["en", "de"], "required": ["name"]}}},
    }
)


@pytest.mark.parametrize(
    ("given", "detail", "field", "message"),
    [
        (
            '{"completeness": 1}',
            "'completeness': write completeness.<channel>.<language>",
            "filter.completeness",
            "use completeness.<channel>.<language>; channels: shop",
        ),
        (
            '{"completeness.nope.en": 1}',
            "Parcel has no completeness channel 'nope'",
            "filter.completeness.nope.en",
            "unknown channel 'nope'; channels: shop",
        ),
        (
            '{"completeness.shop.fr": 1}',
            "channel 'shop' has no language 'fr'",
            "filter.completeness.shop.fr",
            "unknown language 'fr'; shop: en, de",
        ),
        (
            '{"price": 1}',
            "'price': a price list is compared per currency, e.g. price.EUR",
            "filter.price",
            "name a currency: EUR, USD",
        ),
        (
            '{"weight.value": 1}',
            "'weight.value': a quantity compares as weight (in kg) or weight.unit",
            "filter.weight.value",
            "use weight or weight.unit",
        ),
        (
            '{"weight.unit": "parsec"}',
            "filter.weight.unit: unknown unit 'parsec' for a mass; use one of: mg, g, kg, t, "
            "oz, lb",
            "filter.weight.unit",
            "unknown unit 'parsec' for a mass; use one of: mg, g, kg, t, oz, lb",
        ),
        (
            '{"weight": {"$gt": "1e308 t"}}',
            "filter.weight.$gt: '1e308 t' is not a finite number",
            "filter.weight.$gt",
            "'1e308 t' is not a finite number",
        ),
    ],
)
def test_completeness_price_list_and_quantity_names_are_refused_by_path(
    given: str, detail: str, field: str, message: str
) -> None:
    resolver = FieldResolver(PARCEL, default_language="en")
    with pytest.raises(InvalidQuery) as caught:
        FilterParser(resolver).parse(given)
    assert caught.value.detail == detail
    assert [(e.field, e.message) for e in caught.value.errors] == [(field, message)]


def test_a_quantity_operand_without_a_unit_is_in_the_fields_unit() -> None:
    resolver = FieldResolver(PARCEL, default_language="en")
    node = FilterParser(resolver).parse('{"weight": {"$gt": "5"}, "weight.unit": "POUND"}')
    assert isinstance(node, BoolOp)
    assert [(c.op, c.value) for c in node.items if isinstance(c, Comparison)] == [
        ("$gt", 5.0),
        ("$eq", "lb"),
    ]


def test_a_class_without_channels_says_so() -> None:
    plain = parse_class_definition(
        {"name": "Plain", "businessKey": "code", "fields": [{"name": "code", "type": "text"}]}
    )
    resolver = FieldResolver(plain, default_language="en")
    with pytest.raises(InvalidQuery) as caught:
        FilterParser(resolver).parse('{"completeness.shop.en": 1}')
    assert caught.value.errors[0].message == "unknown channel 'shop'; channels: none"


# -- incremental sync as Pimcore clients send it -------------------------------------------

MODIFIED = FieldRef(SystemField.MODIFIED_AT, (), ValueKind.NUMBER)


@pytest.mark.parametrize(
    ("filter", "tree"),
    [
        ({"o_modificationDate": {"$gt": "946684800"}}, Comparison(MODIFIED, "$gt", 946_684_800)),
        ({"o_modificationDate": {"$gt": 946684800}}, Comparison(MODIFIED, "$gt", 946_684_800)),
        ({"modificationDate": {"$gt": "946684800.5"}}, Comparison(MODIFIED, "$gt", 946_684_800.5)),
        ({"modificationDate": {"$gt": "2000-01-01"}}, Comparison(MODIFIED, "$gt", 946_684_800.0)),
        ({"o_creationDate": {"$lte": "-1"}}, Comparison(CREATED, "$lte", -1)),
        ({"creationDate": "9999-12-31"}, Comparison(CREATED, "$eq", 253_402_214_400.0)),
        ({"o_versionCount": {"$gt": 3}}, Comparison(VERSION, "$gt", 3)),
        (
            {"o_modificationDate": {"$in": ["946684800", "2000-01-02"]}},
            Comparison(MODIFIED, "$in", [946_684_800, 946_771_200.0]),
        ),
    ],
)
def test_pimcore_sync_filters_take_seconds_as_text_and_days(filter: Any, tree: Node) -> None:
    assert parse(filter) == tree


@pytest.mark.parametrize(
    ("filter", "where", "message"),
    [
        (
            {"o_modificationDate": {"$gt": "946684800x"}},
            "filter.o_modificationDate.$gt",
            "'946684800x' is neither Unix seconds nor an ISO 8601 date-time",
        ),
        (
            {"o_modificationDate": {"$gt": "99999999999999"}},
            "filter.o_modificationDate.$gt",
            "'99999999999999' is outside the years 1 to 9999",
        ),
        (
            {"modificationDate": "2000-13-01"},
            "filter.modificationDate",
            "'2000-13-01' is neither Unix seconds nor an ISO 8601 date-time",
        ),
        (
            {"modificationDate": "2000-01-01T10:00"},
            "filter.modificationDate",
            "'2000-01-01T10:00' has no time zone; add Z or an offset such as +01:00",
        ),
        (
            {"o_creationDate": "1" * 5000},
            "filter.o_creationDate",
            f"'{'1' * 24}'... is outside the years 1 to 9999",
        ),
    ],
)
def test_pimcore_sync_values_out_of_range_or_garbage_are_refused_by_field(
    filter: Any, where: str, message: str
) -> None:
    assert refusal(filter) == invalid_value(where, message)


def test_pimcore_names_without_a_meaning_here_say_what_to_use() -> None:
    detail, errors = refusal({"o_id": 5})
    assert detail.startswith("unknown field 'o_id' (filter by the business key or uuid")
    assert errors[0].field == "filter.o_id" and errors[0].code == "unknown-field"


def test_pimcore_hints_are_given_whole_and_only_for_names_the_class_lacks() -> None:
    assert refusal({"o_path": 5}) == (
        "unknown field 'o_path' (objects live in one folder per class; filter by the business key)",
        [
            FieldError(
                "filter.o_path",
                "unknown field 'o_path' in Product; objects live in one folder per class; "
                "filter by the business key",
                "unknown-field",
            )
        ],
    )
    # A class's own field of that name, hidden by the exposure, is just unknown.
    thing = parse_class_definition(
        {
            "name": "Thing",
            "businessKey": "code",
            "fields": [{"name": "code", "type": "text"}, {"name": "o_path", "type": "text"}],
        }
    )
    resolver = FieldResolver(thing, default_language="en", exposed=frozenset({"code"}))
    with pytest.raises(InvalidQuery) as caught:
        FilterParser(resolver).parse('{"o_path": "x"}')
    assert (caught.value.detail, caught.value.errors) == (
        "unknown field 'o_path'",
        [FieldError("filter.o_path", "unknown field 'o_path' in Thing", "unknown-field")],
    )


def test_unix_seconds_of_24_digits_reach_the_range_check_and_longer_ones_do_not() -> None:
    where = "filter.o_creationDate"
    longest, longer = "1" * 24, "1" * 25
    assert refusal({"o_creationDate": longest}) == invalid_value(
        where, f"'{longest}' is outside the years 1 to 9999"
    )
    assert refusal({"o_creationDate": longer}) == invalid_value(
        where, f"'{longest}'... is outside the years 1 to 9999"
    )


def test_whole_unix_seconds_stay_whole_numbers() -> None:
    node = parse({"o_modificationDate": {"$in": ["946684800", "946684800.5"]}})
    assert isinstance(node, Comparison)
    assert [(v, type(v)) for v in node.value] == [(946_684_800, int), (946_684_800.5, float)]
