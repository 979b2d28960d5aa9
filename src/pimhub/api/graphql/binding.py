"""What the schema builder, the mutations and compiled plans share: one exposed class, the
arguments that name an object, and Pimcore's `fullpath` (their own module, so mutations.py
need not import schema.py, which imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    GraphQLArgument,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLObjectType,
    GraphQLString,
)

from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldDefinition
from pimhub.datahub.config import FieldFormat, Operation


@dataclass
class ClassBinding:
    """One exposed class: its definition, the fields in the schema, and its GraphQL types."""

    definition: ClassDefinition
    fields: list[FieldDefinition]
    operations: frozenset[Operation]
    type_name: str
    object_type: GraphQLObjectType | None = None
    input_type: GraphQLInputObjectType | None = None
    # Fields this configuration answers in Pimcore's shape (datahub formats), by name.
    formats: dict[str, FieldFormat] = field(default_factory=dict)

    @property
    def variants(self) -> bool:
        """Whether the class has variants, so its type has parent, children and
        inheritedFields."""
        return self.definition.variants is not None


def fullpath(class_name: str, key: str) -> str:
    """Pimcore's `fullpath` for our objects: the class as the folder, the business key as
    the object's key (`/Product/PH-00001`). Keys are unique per class, so the path is too;
    a key holding '/' stays whole (the path's part after the class folder is the key)."""
    return f"/{class_name}/{key}"


def key_from_fullpath(class_name: str, path: str) -> str | None:
    """The business key a `fullpath` names, or None when it is not in this class's folder."""
    prefix = f"/{class_name}/"
    if not path.startswith(prefix) or len(path) == len(prefix):
        return None
    return path[len(prefix) :]


def key_arguments(binding: ClassBinding) -> dict[str, GraphQLArgument]:
    """How get<Class>, update<Class> and delete<Class> name their object: Pimcore's `id: Int`
    and `fullpath`, or our `uuid` and business key (exactly one of them)."""
    return {
        "id": GraphQLArgument(
            GraphQLInt,
            description="The hub's internal id (as Pimcore's `id: Int`; differs between hubs)",
        ),
        "fullpath": GraphQLArgument(
            GraphQLString, description="Pimcore's path: /<class>/<business key>"
        ),
        "uuid": GraphQLArgument(GraphQLString),
        binding.definition.business_key: GraphQLArgument(GraphQLString),
    }
