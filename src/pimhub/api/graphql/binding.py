"""One exposed class as the schema builder, the mutations and compiled plans see it (its own
module, so mutations.py need not import schema.py, which imports it)."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLInputObjectType, GraphQLObjectType

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldDefinition
from pimhub.datahub.config import Operation


@dataclass
class ClassBinding:
    """One exposed class: its definition, the fields in the schema, and its GraphQL types."""

    definition: ClassDefinition
    fields: list[FieldDefinition]
    operations: frozenset[Operation]
    type_name: str
    object_type: GraphQLObjectType | None = None
    input_type: GraphQLInputObjectType | None = None

    @property
    def variants(self) -> bool:
        """Whether the class has variants, so its type has parent, children and
        inheritedFields."""
        return self.definition.variants is not None
