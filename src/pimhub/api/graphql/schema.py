"""Builds the GraphQL schema of one datahub configuration from the class definitions.

Fields the configuration does not expose are not in the schema at all, and so are
operations it does not allow. Type names follow Pimcore's datahub (`object_Product`,
`ProductConnection`), so queries with `... on object_Product` fragments run unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
)

from pimhub.api.graphql import inputs
from pimhub.api.graphql.asset_types import AssetTypes
from pimhub.api.graphql.binding import ClassBinding, key_arguments
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.family import family_argument, family_fields
from pimhub.api.graphql.listing import Listing, get_listing, get_one
from pimhub.api.graphql.loaders import GraphObject
from pimhub.api.graphql.value_types import ValueTypes
from pimhub.api.graphql.values import (
    SYSTEM_FIELDS,
    system_getter,
)
from pimhub.catalog.classes import ClassDefinition
from pimhub.catalog.fields import FieldDefinition, FieldType
from pimhub.datahub.config import DatahubConfig, FieldFormat, Operation

log = structlog.get_logger("pimhub.graphql")

# Keyset cursors are opaque strings (edge `cursor`, pageInfo `endCursor`) and go back in
# `afterCursor`; `after` is Pimcore's integer offset. Two arguments, because a client that
# validates locally (graphql-codegen, gql) only lets an Int variable into an Int position.
AFTER_CURSOR_DESCRIPTION = (
    "Opaque keyset cursor from an edge's `cursor` or `pageInfo.endCursor` (a URL-safe "
    "string; pass it back unchanged): the page after that object, with no page skipped or "
    "repeated while others write. Not together with `after`."
)
SYSTEM_TYPES: dict[str, GraphQLOutputType] = {
    "id": GraphQLNonNull(GraphQLID),
    "fullpath": GraphQLNonNull(GraphQLString),
    "uuid": GraphQLNonNull(GraphQLString),
    "key": GraphQLNonNull(GraphQLString),
    "classname": GraphQLNonNull(GraphQLString),
    "published": GraphQLNonNull(GraphQLBoolean),
    "version": GraphQLNonNull(GraphQLInt),
    "creationDate": GraphQLNonNull(GraphQLInt),
    "modificationDate": GraphQLNonNull(GraphQLInt),
}


@dataclass(frozen=True)
class RootField:
    kind: str  # get | listing | create | update | delete | upsert
    binding: ClassBinding


@dataclass
class DatahubSchema:
    config: DatahubConfig
    schema: GraphQLSchema
    classes: dict[str, ClassBinding]
    roots: dict[str, RootField]
    default_language: str
    by_type: dict[str, ClassBinding] = field(default_factory=dict)


def _fitting_formats(
    config_name: str, formats: Sequence[FieldFormat], definition: ClassDefinition
) -> dict[str, FieldFormat]:
    """The formats that still fit their field. Class changes that break a format are
    refused, but a configuration saved before that check may still hold one: its field
    answers in its own shape, with a warning, rather than fail every query that asks for it
    as if the client had erred. A format whose field is gone is left out as the field is."""
    out: dict[str, FieldFormat] = {}
    for fmt in formats:
        f = definition.field(fmt.field)
        if f is None:
            continue
        if fmt.fits(f):
            out[fmt.field] = fmt
        else:
            log.warning(
                "graphql.stale_format",
                config=config_name,
                class_name=definition.name,
                field=fmt.field,
                format=fmt.to_dict(),
            )
    return out


def build_schema(
    config: DatahubConfig,
    definitions: Mapping[str, ClassDefinition],
    *,
    default_language: str,
) -> DatahubSchema:
    bindings: dict[str, ClassBinding] = {}
    for exposed in config.classes:
        definition = definitions.get(exposed.name)
        if definition is None or Operation.READ not in exposed.operations:
            continue
        fields: list[FieldDefinition] = [
            definition.field(n)  # type: ignore[misc]
            for n in exposed.field_names(definition)
        ]
        bindings[exposed.name] = ClassBinding(
            definition,
            fields,
            exposed.operations,
            f"object_{exposed.name}",
            formats=_fitting_formats(config.name, exposed.formats, definition),
        )
    # Relations to classes this configuration does not expose are left out.
    for binding in bindings.values():
        binding.fields = [
            f for f in binding.fields if f.type != FieldType.RELATION or f.target in bindings
        ]
    builder = _Builder(bindings, default_language)
    query = GraphQLObjectType("Query", builder.query_fields)
    mutation_fields: dict[str, GraphQLField] = {}
    for field_name, (kind, binding, gql_field) in inputs.mutation_fields(bindings).items():
        mutation_fields[field_name] = gql_field
        builder.roots[field_name] = RootField(kind, binding)
    mutation = GraphQLObjectType("Mutation", mutation_fields) if mutation_fields else None
    schema = GraphQLSchema(query=query, mutation=mutation)
    return DatahubSchema(
        config,
        schema,
        bindings,
        builder.roots,
        default_language,
        {b.type_name: b for b in bindings.values()},
    )


class _Builder:
    def __init__(self, bindings: dict[str, ClassBinding], default_language: str) -> None:
        self.bindings = bindings
        self.default_language = default_language
        self.roots: dict[str, RootField] = {}
        self.page_info = GraphQLObjectType(
            "PageInfo",
            {
                "hasNextPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                "hasPreviousPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                "startCursor": GraphQLField(GraphQLString),
                "endCursor": GraphQLField(GraphQLString),
            },
        )
        # Only a configuration that exposes an asset field has the asset type and getAsset.
        exposes_assets = any(f.type == FieldType.ASSET for b in bindings.values() for f in b.fields)
        self.assets = AssetTypes() if exposes_assets else None
        self.values = ValueTypes(bindings, default_language, self.assets)
        for binding in bindings.values():
            binding.object_type = self._object_type(binding)
        self.query_fields: dict[str, GraphQLField] = {}
        for name, binding in bindings.items():
            self.query_fields[f"get{name}"] = self._get_field(binding)
            self.query_fields[f"get{name}Listing"] = self._listing_field(binding)
            self.roots[f"get{name}"] = RootField("get", binding)
            self.roots[f"get{name}Listing"] = RootField("listing", binding)
        if self.assets is not None and "getAsset" not in self.query_fields:
            # (A class named Asset keeps its own getAsset.)
            self.query_fields["getAsset"] = self.assets.get_asset_field()

    # -- object types ---------------------------------------------------------------------

    def _object_type(self, binding: ClassBinding) -> GraphQLObjectType:
        definition = binding.definition

        # Read together for a batch, when the operation selects them (see AssetLoader).
        asset_names = tuple(f.name for f in binding.fields if f.type == FieldType.ASSET)

        def fields() -> dict[str, GraphQLField]:
            out: dict[str, GraphQLField] = {}
            for name in SYSTEM_FIELDS:
                getter = system_getter(name)
                out[name] = GraphQLField(SYSTEM_TYPES[name], resolve=lambda n, _i, g=getter: g(n))
            if definition.completeness:
                out["completeness"] = self.values.completeness_field(definition)
            if binding.variants:
                out.update(family_fields(binding))
            for f in binding.fields:
                fmt = binding.formats.get(f.name)
                if fmt is not None:
                    out[f.name] = self.values.formatted_field(f, fmt)
                else:
                    out[f.name] = self.values.value_field(f, definition.business_key, asset_names)
            if definition.workflow is not None and "workflowState" not in out:
                out["workflowState"] = GraphQLField(
                    GraphQLString, resolve=lambda n, _i: n.obj.workflow_state
                )
            return out

        return GraphQLObjectType(
            binding.type_name,
            fields,
            description=definition.description or definition.title,
        )

    # -- queries --------------------------------------------------------------------------

    def _get_field(self, binding: ClassBinding) -> GraphQLField:
        key_field = binding.definition.business_key

        def resolve(_root: Any, info: GraphQLResolveInfo[Any], **args: Any) -> GraphObject | None:
            return get_one(_ctx(info), binding.definition, args)

        return GraphQLField(
            binding.object_type,  # type: ignore[arg-type]
            args={**key_arguments(binding), "defaultLanguage": GraphQLArgument(GraphQLString)},
            resolve=resolve,
            description=f"One {binding.definition.name} by id, fullpath, uuid or {key_field}.",
            extensions={"binding": binding},
        )

    def _listing_field(self, binding: ClassBinding) -> GraphQLField:
        name = binding.definition.name
        node_type = binding.object_type
        assert node_type is not None
        edge = GraphQLObjectType(
            f"{name}Edge",
            {
                "cursor": GraphQLField(
                    GraphQLNonNull(GraphQLString),
                    resolve=lambda e, _i: e[0].cursor(e[1]),
                    description="Opaque keyset cursor of this object; pass it as `afterCursor`",
                ),
                "node": GraphQLField(
                    GraphQLNonNull(node_type), resolve=lambda e, _i: e[0].node(e[1])
                ),
            },
        )
        connection = GraphQLObjectType(
            f"{name}Connection",
            {
                "totalCount": GraphQLField(
                    GraphQLNonNull(GraphQLInt), resolve=lambda c, _i: c.total()
                ),
                "edges": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(edge))),
                    resolve=lambda c, _i: [(c, i) for i in range(len(c.nodes))],
                ),
                "pageInfo": GraphQLField(
                    GraphQLNonNull(self.page_info), resolve=lambda c, _i: c.page_info()
                ),
            },
        )

        def resolve(_root: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Listing:
            return get_listing(_ctx(info), binding.definition, args)

        return GraphQLField(
            connection,
            args={
                "ids": GraphQLArgument(GraphQLString, description="Comma-separated ids"),
                "fullpaths": GraphQLArgument(
                    GraphQLString,
                    description="Comma-separated fullpaths (as Pimcore's); a comma inside a "
                    "key is written \\, and a backslash \\\\",
                ),
                "filter": GraphQLArgument(GraphQLString, description="JSON filter"),
                "first": GraphQLArgument(GraphQLInt),
                "after": GraphQLArgument(
                    GraphQLInt, description="Offset: skip this many objects (as Pimcore)"
                ),
                "afterCursor": GraphQLArgument(GraphQLString, description=AFTER_CURSOR_DESCRIPTION),
                "sortBy": GraphQLArgument(GraphQLList(GraphQLString)),
                "sortOrder": GraphQLArgument(GraphQLList(GraphQLString)),
                "published": GraphQLArgument(GraphQLBoolean),
                "defaultLanguage": GraphQLArgument(GraphQLString),
                **(family_argument() if binding.variants else {}),
            },
            resolve=resolve,
            description=f"A page of {name} objects.",
            extensions={"binding": binding},
        )


def _ctx(info: GraphQLResolveInfo[Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


Resolver = Callable[..., Any]
