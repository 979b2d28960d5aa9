"""The GraphQL fields of stored values (schema.py): scalars, localized text, money, price
lists, quantities, relations, assets, Pimcore's formatted shapes (datahub formats) and
completeness, with the value types they share within one schema."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
)

from pimhub.api.graphql.asset_types import AssetTypes
from pimhub.api.graphql.binding import ClassBinding
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.loaders import GraphObject
from pimhub.api.graphql.values import (
    completeness,
    is_whole_number,
    localized,
    money,
    money_number,
    price,
    quantity,
    quantity_value,
    scalar_getter,
)
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.datahub.config import FieldFormat, Shape


class ValueTypes:
    """The value fields of one schema's object types, and the types they share."""

    def __init__(
        self,
        bindings: dict[str, ClassBinding],
        default_language: str,
        assets: AssetTypes | None,
    ) -> None:
        self.bindings = bindings
        self.default_language = default_language
        self.assets = assets
        self.quantity_value_type: GraphQLObjectType | None = None
        self.money = GraphQLObjectType(
            "Money", {"amount": GraphQLField(GraphQLFloat), "currency": GraphQLField(GraphQLString)}
        )
        self.quantity = GraphQLObjectType(
            "Quantity",
            {"value": GraphQLField(GraphQLFloat), "unit": GraphQLField(GraphQLString)},
            description="A measured value and its unit code (kg, cm, l, ...).",
        )
        self.completeness = GraphQLObjectType(
            "Completeness",
            {
                "channel": GraphQLField(GraphQLNonNull(GraphQLString)),
                "language": GraphQLField(GraphQLNonNull(GraphQLString)),
                "ratio": GraphQLField(
                    GraphQLNonNull(GraphQLInt),
                    description="Percent of the channel's required fields filled, rounded down",
                ),
                "missing": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(GraphQLString))),
                    description="Required fields not filled in this language",
                ),
            },
            description="How ready an object is for a channel in one language.",
        )

    def completeness_field(self, definition: ClassDefinition) -> GraphQLField:
        """An object's completeness per channel and language."""

        def resolve(
            n: GraphObject, _info: Any, channel: str | None = None, language: str | None = None
        ) -> list[dict[str, Any]]:
            return completeness(definition, n.obj.completeness, channel, language)

        return GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(self.completeness))),
            args={
                "channel": GraphQLArgument(GraphQLString),
                "language": GraphQLArgument(GraphQLString),
            },
            resolve=resolve,
            description="Per completeness channel and language (narrowed by the arguments).",
        )

    def formatted_field(self, f: FieldDefinition, fmt: FieldFormat) -> GraphQLField:
        """A field in Pimcore's shape, as the configuration's `formats` ask."""
        name = f.name
        if fmt.shape == Shape.NUMBER:
            currency = fmt.currency

            def resolve_number(n: GraphObject, _info: Any) -> Any:
                return money_number(n.obj.values.get(name), f, currency)

            shown = currency or (f.currencies[0] if f.currencies else "its stored currency")
            return GraphQLField(
                GraphQLFloat,
                resolve=resolve_number,
                description=f"{f.title or name}: the amount in {shown} (Pimcore's number)",
            )
        unit = fmt.unit

        def resolve_quantity(n: GraphObject, _info: Any) -> Any:
            return quantity_value(n.obj.values.get(name), f, unit)

        return GraphQLField(self._quantity_value(), resolve=resolve_quantity, description=f.title)

    def _quantity_value(self) -> GraphQLObjectType:
        """Pimcore's QuantityValue type, made once per schema when a format uses it."""
        if self.quantity_value_type is None:
            unit = GraphQLObjectType(
                "QuantityValueUnit",
                {
                    "id": GraphQLField(GraphQLID, description="The unit code"),
                    "abbreviation": GraphQLField(GraphQLString),
                    "longname": GraphQLField(GraphQLString),
                },
            )
            self.quantity_value_type = GraphQLObjectType(
                "QuantityValue",
                {
                    "value": GraphQLField(GraphQLFloat),
                    "unit": GraphQLField(unit),
                    "toString": GraphQLField(GraphQLString, description='e.g. "0.5 kg"'),
                },
                description="A quantity in Pimcore's shape.",
            )
        return self.quantity_value_type

    def value_field(
        self, f: FieldDefinition, key_field: str, asset_names: tuple[str, ...] = ()
    ) -> GraphQLField:
        """The field of one stored value in its own shape."""
        name = f.name
        description = f.title
        if f.type == FieldType.RELATION:
            assert f.target is not None
            target = self.bindings[f.target].object_type
            assert target is not None
            if f.multiple:
                return GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(target))),
                    resolve=lambda n, info: _ctx(info).loader.many(n, name),
                    description=description,
                )
            return GraphQLField(
                target,
                resolve=lambda n, info: _ctx(info).loader.one(n, name),
                description=description,
            )
        if f.type == FieldType.ASSET:
            return self._asset_field(f, asset_names)
        if f.localized:
            hub_default = self.default_language

            def resolve_text(n: GraphObject, _info: Any, language: str | None = None) -> Any:
                return localized(n.obj.values.get(name), language, n.language, hub_default)

            return GraphQLField(
                GraphQLString,
                args={"language": GraphQLArgument(GraphQLString)},
                resolve=resolve_text,
                description=description,
            )
        if f.type == FieldType.QUANTITY:

            def resolve_quantity(n: GraphObject, _info: Any, unit: str | None = None) -> Any:
                return quantity(n.obj.values.get(name), f, unit)

            return GraphQLField(
                self.quantity,
                args={"unit": GraphQLArgument(GraphQLString, description="Convert to this unit")},
                resolve=resolve_quantity,
                description=description,
            )
        if f.price_list:

            def resolve_price(n: GraphObject, _info: Any, currency: str | None = None) -> Any:
                return price(n.obj.values.get(name), f, currency)

            return GraphQLField(
                self.money,
                args={
                    "currency": GraphQLArgument(
                        GraphQLString, description=f"One of {', '.join(f.currencies)}"
                    )
                },
                resolve=resolve_price,
                description=description,
            )
        if f.type == FieldType.MONEY:
            return GraphQLField(
                self.money,
                resolve=lambda n, _i: money(n.obj.values.get(name)),
                description=description,
            )
        getter = scalar_getter(f)
        gql_type = _scalar_type(f)
        if name == key_field and not isinstance(gql_type, GraphQLNonNull):
            gql_type = GraphQLNonNull(gql_type)  # the identity: every object has one
        return GraphQLField(gql_type, resolve=lambda n, _i: getter(n), description=description)

    def _asset_field(self, f: FieldDefinition, names: tuple[str, ...]) -> GraphQLField:
        """An image or gallery: Pimcore's `asset` type. The first one resolved in a batch
        reads the assets of every asset field the operation selects, for the whole batch, with
        one statement (as compiled plans do)."""
        assert self.assets is not None
        name = f.name

        def resolve_one(n: GraphObject, info: GraphQLResolveInfo[Any]) -> Any:
            loader = _ctx(info).assets
            return loader.one(n, name, loader.selected(info, names) or (name,))

        def resolve_many(n: GraphObject, info: GraphQLResolveInfo[Any]) -> Any:
            loader = _ctx(info).assets
            return loader.many(n, name, loader.selected(info, names) or (name,))

        if f.multiple:
            return GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(self.assets.asset))),
                resolve=resolve_many,
                description=f.title,
            )
        return GraphQLField(self.assets.asset, resolve=resolve_one, description=f.title)


def _scalar_type(f: FieldDefinition) -> GraphQLOutputType:
    if is_whole_number(f):
        return GraphQLInt
    if f.type == FieldType.NUMBER:
        return GraphQLFloat
    if f.type == FieldType.BOOLEAN:
        return GraphQLBoolean
    if f.is_list:
        return GraphQLNonNull(GraphQLList(GraphQLNonNull(GraphQLString)))
    return GraphQLString


def _ctx(info: GraphQLResolveInfo[Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx
