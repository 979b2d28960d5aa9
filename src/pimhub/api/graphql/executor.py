"""Runs GraphQL requests against a datahub configuration.

Per configuration the schema is kept until its fingerprint (the configuration's and every
class definition's version) changes, so edits apply on the next request without a restart.
Per schema, parsed and validated documents are kept by query text, and for the shapes a
compiled plan covers (plan.py) the plan too: a repeated query skips parsing, validation and
graphql-core's field-by-field execution.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSyntaxError,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values

from pimhub.access.keys import ApiKey
from pimhub.api.graphql.assets import ASSET_TYPE, AssetLoader
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.errors import PoolTimeout, coded
from pimhub.api.graphql.limits import (
    MAX_VARIABLE_ENTRIES,
    CostCounter,
    NoNulRule,
    OneSchemaRule,
    alias_rule,
    depth_rule,
    oversized_variable,
)
from pimhub.api.graphql.loaders import ObjectLoader
from pimhub.api.graphql.plan import Plan, compile_plan
from pimhub.api.graphql.schema import DatahubSchema, build_schema
from pimhub.api.graphql.values import PerFieldError
from pimhub.assets.presets import ThumbnailPreset
from pimhub.catalog.class_service import ClassService
from pimhub.catalog.errors import FieldError, Forbidden, NulCharacter, quoted
from pimhub.catalog.service import CatalogService
from pimhub.catalog.validation import find_nul, nul_message
from pimhub.datahub.ports import GraphReads
from pimhub.datahub.service import DatahubService, UnknownDatahubConfig

DOCUMENTS_PER_SCHEMA = 500
MAX_VARIABLE_ERRORS = 20
log = structlog.get_logger("pimhub.graphql")


_BASE_RULES = list(specified_rules)


class RequestFailed(Exception):
    """A request-level failure: no GraphQL execution happens, HTTP status says why."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class Prepared:
    """A parsed, validated document, with a plan per operation once compiled."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    plans: dict[str | None, Plan | None] = field(default_factory=dict)


@dataclass
class _SchemaEntry:
    fingerprint: Any
    schema: DatahubSchema
    documents: OrderedDict[str, Prepared] = field(default_factory=OrderedDict)


class GraphQLService:
    def __init__(
        self,
        datahub: DatahubService,
        classes: ClassService,
        catalog: CatalogService,
        reads: GraphReads,
        *,
        default_language: str,
        introspection_default: bool,
        presets: Callable[[], Mapping[str, ThumbnailPreset]] = dict,
        base_url: str = "",
    ) -> None:
        self.datahub = datahub
        self.presets = presets  # thumbnail presets by name, for fullpath(thumbnail:)
        self.base_url = base_url  # of asset URLs, unless a request names its own
        self.classes = classes
        self.catalog = catalog
        self.reads = reads
        self.default_language = default_language
        self.introspection_default = introspection_default
        self._schemas: dict[str, _SchemaEntry] = {}
        self._lock = threading.Lock()
        self.use_plans = True  # tests switch plans off to compare both paths
        self.plans_used = 0  # for tests and metrics: requests served by a compiled plan

    # -- schema ---------------------------------------------------------------------------

    def schema(self, config_name: str) -> DatahubSchema:
        return self._entry(config_name).schema

    def _entry(self, config_name: str) -> _SchemaEntry:
        fingerprint = self.reads.fingerprint(config_name)
        if fingerprint is None:
            raise UnknownDatahubConfig.named(config_name)
        entry = self._schemas.get(config_name)
        if entry is not None and entry.fingerprint == fingerprint:
            return entry
        with self._lock:
            config = self.datahub.get(config_name)
            definitions = {c.name: c for c in self.classes.all()}
            schema = build_schema(config, definitions, default_language=self.default_language)
            entry = _SchemaEntry(fingerprint, schema)
            self._schemas[config_name] = entry
        return entry

    # -- requests -------------------------------------------------------------------------

    def planned(self, config_name: str, query: str, operation_name: str | None) -> bool:
        """Whether this query already has a compiled plan: a hint for where to run it (a
        planned query costs about a millisecond; anything else may cost far more)."""
        entry = self._schemas.get(config_name)
        prepared = entry.documents.get(query) if entry is not None else None
        if prepared is None:
            return False
        plans = prepared.plans
        if operation_name is None and len(plans) == 1:
            return next(iter(plans.values())) is not None
        return plans.get(operation_name) is not None

    def run(
        self,
        config_name: str,
        key: ApiKey,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        *,
        allow_mutations: bool = True,
        presets: Mapping[str, ThumbnailPreset] | None = None,
        base_url: str | None = None,
    ) -> dict[str, Any]:
        """Runs one request. `presets` (thumbnail presets by name) and `base_url` (of asset
        URLs) default to the service's own."""
        entry = self._entry(config_name)
        schema = entry.schema
        config = schema.config
        if not key.opens_datahub(config.name):
            raise Forbidden(
                f"the key '{key.name}' is not a key of datahub configuration '{config.name}'; "
                f"it needs the scope '{config.scope}'"
            )
        # First: every later step (the NUL check too) walks the whole of the variables.
        oversized = oversized_variable(variables or {})
        if oversized is not None:
            where, size = oversized
            error = coded(
                f"{where} holds {size} entries; a list or object in the variables holds at "
                f"most {MAX_VARIABLE_ENTRIES}",
                "BAD_USER_INPUT",
                maximum=MAX_VARIABLE_ENTRIES,
            )
            return {"errors": [error.formatted]}
        nul = find_nul(variables or {}) or find_nul(operation_name or "", "operationName")
        if nul is not None:
            name = nul if nul == "operationName" else f"${nul}"
            raise NulCharacter(
                f"{name} holds a NUL character (U+0000), which no text may hold",
                [FieldError(nul, nul_message(nul), NulCharacter.code)],
            )
        prepared = self._prepare(entry, query)
        if prepared.errors:
            return {"errors": [e.formatted for e in prepared.errors]}
        assert prepared.document is not None
        operation = _operation(prepared.document, operation_name)
        if operation.operation == OperationType.MUTATION and not allow_mutations:
            raise RequestFailed(405, "mutations need POST", "METHOD_NOT_ALLOWED")
        coerced = get_variable_values(
            schema.schema,
            operation.variable_definitions or (),
            variables or {},
            max_errors=MAX_VARIABLE_ERRORS,  # one per unknown key otherwise: 300 KB for 1000
        )
        if isinstance(coerced, list):
            # A variable the schema cannot take (wrong type, out of range, missing): the
            # caller's input, so BAD_USER_INPUT like every other refused argument.
            for error in coerced:
                error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
            return {"errors": [e.formatted for e in coerced]}
        cost = CostCounter(
            prepared.fragments,
            coerced.coerced,
            # Assets cost like relations: one per parent, a gallery its assumed fan-out.
            frozenset(schema.by_type) | {ASSET_TYPE},
            config.limits.max_page_size,
        ).operation(operation, _root(schema, operation))
        extensions = {"cost": {"requested": cost, "maximum": config.limits.max_cost}}
        if cost > config.limits.max_cost:
            error = coded(
                f"the query costs {cost}; this configuration allows {config.limits.max_cost}. "
                "Ask for smaller pages (first) or fewer nested relations",
                "COST_LIMIT_EXCEEDED",
                cost=cost,
                maximum=config.limits.max_cost,
            )
            return {"errors": [error.formatted], "extensions": extensions}
        with self.reads.session() as session:
            ctx = RequestContext(
                config,
                session,
                ObjectLoader(session, drafts=config.drafts),
                self.catalog,
                key.name,
                self.default_language,
                api_key=key,
                assets=AssetLoader(
                    session,
                    base_url or self.base_url,
                    self.presets() if presets is None else presets,
                ),
            )
            plan = self._plan(schema, prepared, operation) if self.use_plans else None
            planned = None
            if plan is not None:
                try:
                    planned = plan.run(ctx, coerced)
                except PerFieldError:
                    planned = None  # a read only: graphql-core answers it from the start
            if planned is not None:
                self.plans_used += 1
                data, errors = planned
                body: dict[str, Any] = {"data": data}
                if errors:
                    body = {"errors": [_public(e) for e in errors], "data": data}
            else:
                result = execute(
                    schema.schema,
                    prepared.document,
                    context_value=ctx,
                    variable_values=variables or {},
                    operation_name=operation_name,
                )
                assert isinstance(result, ExecutionResult)
                _raise_unavailable(result)
                body = _body(result)
        body["extensions"] = extensions
        return body

    def _prepare(self, entry: _SchemaEntry, query: str) -> Prepared:
        documents = entry.documents
        prepared = documents.get(query)
        if prepared is not None:
            documents.move_to_end(query)
            return prepared
        prepared = self._validate(entry.schema, query)
        documents[query] = prepared
        if len(documents) > DOCUMENTS_PER_SCHEMA:
            documents.popitem(last=False)
        return prepared

    def _validate(self, schema: DatahubSchema, query: str) -> Prepared:
        config = schema.config
        limits = config.limits
        try:
            # max_tokens counts comments too: a flood of `#` lines stops at the limit.
            document = parse(query, max_tokens=limits.max_tokens)
        except GraphQLSyntaxError as exc:
            exc.extensions = {**(exc.extensions or {}), "code": _parse_code(exc.message)}
            return Prepared(None, [exc])
        rules = [
            *_BASE_RULES,
            depth_rule(limits.max_depth),
            alias_rule(limits.max_aliases),
            NoNulRule,
            OneSchemaRule,
        ]
        introspection = (
            config.introspection if config.introspection is not None else self.introspection_default
        )
        if not introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        errors = validate(schema.schema, document, rules)
        for error in errors:
            if not (error.extensions or {}).get("code"):
                code = _validation_code(error.message)
                error.extensions = {**(error.extensions or {}), "code": code}
        if errors:
            return Prepared(None, errors)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if not operations:
            error = coded("the document holds no operation", "GRAPHQL_VALIDATION_FAILED")
            return Prepared(None, [error])
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return Prepared(document, [], fragments)

    def _plan(
        self, schema: DatahubSchema, prepared: Prepared, operation: OperationDefinitionNode
    ) -> Plan | None:
        name = operation.name.value if operation.name else None
        if name not in prepared.plans:
            try:
                prepared.plans[name] = compile_plan(schema, operation, prepared.fragments)
            except Exception:
                # A plan is only a shortcut: if compiling one fails, graphql-core answers.
                log.exception("graphql.plan_failed")
                prepared.plans[name] = None
        return prepared.plans[name]


def _parse_code(message: str) -> str:
    """The code of a refused parse: a limit the parser enforces has its own."""
    if "tokens" in message:
        return "TOKEN_LIMIT_EXCEEDED"
    if "nested too deeply" in message:
        return "DEPTH_LIMIT_EXCEEDED"  # the parser's own guard, below maxDepth's check
    return "GRAPHQL_PARSE_FAILED"


def _validation_code(message: str) -> str:
    """The code of a graphql-core validation error: introspection switched off, its own
    depth guard (`fields` within `fields` ...), or anything else."""
    lowered = message.lower()
    if "introspection depth" in lowered:
        return "DEPTH_LIMIT_EXCEEDED"  # not INTROSPECTION_DISABLED: introspection is on
    if "introspection" in lowered:
        return "INTROSPECTION_DISABLED"
    return "GRAPHQL_VALIDATION_FAILED"


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) > 1:
            raise RequestFailed(
                400, "the document has several operations; name one in operationName", "BAD_REQUEST"
            )
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise RequestFailed(400, f"the document has no operation named '{quoted(name)}'", "BAD_REQUEST")


def _root(schema: DatahubSchema, operation: OperationDefinitionNode) -> Any:
    if operation.operation == OperationType.MUTATION:
        return schema.schema.mutation_type
    if operation.operation == OperationType.SUBSCRIPTION:
        raise RequestFailed(400, "subscriptions are not supported; use webhooks", "BAD_REQUEST")
    return schema.schema.query_type


def _raise_unavailable(result: ExecutionResult) -> None:
    """A field that found no free database connection fails the whole request (a 503 the
    client may retry), rather than reading as a bug of that field."""
    for error in result.errors or ():
        if isinstance(error.original_error, PoolTimeout):
            raise error.original_error


def _body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_public(e) for e in result.errors]
    body["data"] = result.data
    return body


def _public(error: GraphQLError) -> dict[str, Any]:
    """An error as the client sees it. Errors we raise on purpose carry a code; anything
    else is a bug or a database failure whose message may hold SQL: logged, not shown."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError) or error.extensions:
        return dict(error.formatted)
    log.error("graphql.unexpected_error", exc_info=original, path=error.path)
    formatted = dict(error.formatted)
    formatted["message"] = "internal error; it is logged with this request"
    formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return formatted
