"""Variants in the schema: on the object type of a class with variants, `parent`,
`children(first:)`, `isVariant` and `inheritedFields`; on its listing, `family:`.

A variant's values are its effective ones (storage keeps them merged with its parent's), so
inherited values resolve like any field. Parents and children load batch-wise through the
request's ObjectLoader (one statement per level, whatever the page size), and are hidden
like relation targets when the configuration shows no drafts.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLString,
)

from pimhub.api.graphql.binding import ClassBinding
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.listing import page_size
from pimhub.api.graphql.loaders import GraphObject
from pimhub.catalog.variants import FamilyRole

# The field names this module adds; a stored field of the same name takes precedence.
FAMILY_FIELDS = ("parent", "children", "isVariant", "inheritedFields")

FAMILY_ROLE = GraphQLEnumType(
    "VariantFamily",
    {
        "PARENTS": FamilyRole.PARENTS,
        "VARIANTS": FamilyRole.VARIANTS,
        "STANDALONE": FamilyRole.STANDALONE,
    },
    description="An object's place in a family: a parent has variants, a variant a parent.",
)


def family_argument() -> dict[str, GraphQLArgument]:
    return {
        "family": GraphQLArgument(
            FAMILY_ROLE, description="Only parents, only variants, or only standalone objects"
        )
    }


def inherited_fields(obj_inherited: Any, exposed: frozenset[str]) -> list[str]:
    """The inherited names a configuration may show (a hidden field stays unnamed)."""
    return [name for name in obj_inherited or () if name in exposed]


def family_fields(binding: ClassBinding) -> dict[str, GraphQLField]:
    target = binding.object_type
    assert target is not None
    exposed = frozenset(f.name for f in binding.fields)

    def children(n: GraphObject, info: GraphQLResolveInfo[Any], first: int | None = None) -> Any:
        ctx = _ctx(info)
        return ctx.loader.children(n, page_size(ctx, first))

    return {
        "parent": GraphQLField(
            target,
            resolve=lambda n, info: _ctx(info).loader.parent(n),
            description="The object this variant belongs to; null for all others",
        ),
        "children": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(target))),
            args={"first": GraphQLArgument(GraphQLInt, description="At most this many")},
            resolve=children,
            description="The variants of this object, oldest first",
        ),
        "isVariant": GraphQLField(
            GraphQLNonNull(GraphQLBoolean), resolve=lambda n, _i: n.obj.parent is not None
        ),
        "inheritedFields": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(GraphQLString))),
            resolve=lambda n, _i: inherited_fields(n.obj.inherited, exposed),
            description="Fields whose values this variant takes from its parent",
        ),
    }


def _ctx(info: GraphQLResolveInfo[Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx
