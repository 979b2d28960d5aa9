"""The GraphQL input types of one schema's mutations (schema.py), and the mutation fields
built on them (mutations.py)."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLString,
)

from pimhub.api.graphql import mutations
from pimhub.api.graphql.binding import ClassBinding
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.datahub.config import Operation


def mutation_fields(
    bindings: dict[str, ClassBinding],
) -> dict[str, tuple[str, ClassBinding, GraphQLField]]:
    """Each mutation field by name, with its kind (create, update, ...) and its class, for
    the classes the configuration lets clients write; each gets its input type first."""
    inputs = _InputTypes()
    out: dict[str, tuple[str, ClassBinding, GraphQLField]] = {}
    for binding in bindings.values():
        writes = binding.operations - {Operation.READ}
        if not writes:
            continue
        binding.input_type = inputs.input_type(binding)
        kinds = mutations.build_fields(binding)
        for field_name, (kind, gql_field) in kinds.items():
            out[field_name] = (kind, binding, gql_field)
    return out


class _InputTypes:
    def __init__(self) -> None:
        self.money_input = GraphQLInputObjectType(
            "MoneyInput",
            {
                "amount": GraphQLInputField(GraphQLNonNull(GraphQLFloat)),
                "currency": GraphQLInputField(GraphQLNonNull(GraphQLString)),
            },
        )
        self.quantity_input = GraphQLInputObjectType(
            "QuantityInput",
            {
                "value": GraphQLInputField(GraphQLNonNull(GraphQLFloat)),
                "unit": GraphQLInputField(GraphQLNonNull(GraphQLString)),
            },
        )

    def input_type(self, binding: ClassBinding) -> GraphQLInputObjectType:
        fields: dict[str, GraphQLInputField] = {}
        for f in binding.fields:
            fields[f.name] = GraphQLInputField(self._field_type(f), description=f.title)
        return GraphQLInputObjectType(f"{binding.definition.name}Input", fields)

    def _field_type(self, f: FieldDefinition) -> Any:
        if f.price_list:
            return GraphQLList(GraphQLNonNull(self.money_input))
        if f.type == FieldType.QUANTITY:
            return self.quantity_input
        if f.type == FieldType.MONEY:
            return self.money_input
        if f.type == FieldType.NUMBER:
            return GraphQLFloat
        if f.type == FieldType.BOOLEAN:
            return GraphQLBoolean
        if f.is_list:
            return GraphQLList(GraphQLNonNull(GraphQLString))
        return GraphQLString
