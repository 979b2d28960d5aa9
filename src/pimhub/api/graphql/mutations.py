"""create<Class>, update<Class>, delete<Class> and upsert<Class>Batch.

Every write goes through the CatalogService, exactly as REST writes do: validated, versioned,
and with its outbox event in the same transaction. A failed write is reported in the
mutation's result (`success: false`, a stable `code`, per-field `errors`), never hidden by
another: each item of a batch is its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import structlog
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLString,
)

from pimhub.api.auth import may_write_referrers
from pimhub.api.graphql.binding import ClassBinding, key_arguments
from pimhub.api.graphql.context import RequestContext
from pimhub.api.graphql.errors import PoolTimeout, coded
from pimhub.api.graphql.listing import find_visible
from pimhub.api.graphql.loaders import GraphObject
from pimhub.catalog.errors import CatalogError, ObjectNotFound
from pimhub.catalog.objects import CatalogObject
from pimhub.catalog.variants import KEEP
from pimhub.datahub.config import Operation

MAX_BATCH = 1000
log = structlog.get_logger("pimhub.graphql")
T = TypeVar("T")

INPUT_ERROR = GraphQLObjectType(
    "InputError",
    {
        "field": GraphQLField(GraphQLNonNull(GraphQLString)),
        "code": GraphQLField(GraphQLNonNull(GraphQLString)),
        "message": GraphQLField(GraphQLNonNull(GraphQLString)),
    },
)


def _outcome_fields() -> dict[str, GraphQLField]:
    return {
        "success": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        "code": GraphQLField(GraphQLString, description="Stable error code when not successful"),
        "message": GraphQLField(GraphQLString),
        "errors": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(INPUT_ERROR)))),
    }


def _output_field(binding: ClassBinding) -> GraphQLField:
    def resolve(result: dict[str, Any], _info: Any, defaultLanguage: str | None = None) -> Any:
        node: GraphObject | None = result.get("node")
        if node is None or defaultLanguage is None:
            return node
        return GraphObject(node.obj, node.batch, defaultLanguage)

    return GraphQLField(
        binding.object_type,  # type: ignore[arg-type]
        args={"defaultLanguage": GraphQLArgument(GraphQLString)},
        resolve=resolve,
    )


def build_fields(binding: ClassBinding) -> dict[str, tuple[str, GraphQLField]]:
    name = binding.definition.name
    key_field = binding.definition.business_key
    input_type = binding.input_type
    assert input_type is not None
    result = GraphQLObjectType(
        f"{name}MutationResult",
        lambda: {**_outcome_fields(), "output": _output_field(binding)},
    )
    writes = {
        "published": GraphQLArgument(GraphQLBoolean),
        "language": GraphQLArgument(
            GraphQLString, description="The language of localized values in the input"
        ),
    }
    keys = {**key_arguments(binding), "expectedVersion": GraphQLArgument(GraphQLInt)}
    if binding.variants:
        writes["parent"] = GraphQLArgument(
            GraphQLString,
            description="Business key or uuid of the parent, making this object its variant; "
            "null makes it standalone; left out, an update keeps the parent it has",
        )
    out: dict[str, tuple[str, GraphQLField]] = {}
    ops = binding.operations
    if Operation.CREATE in ops:
        out[f"create{name}"] = (
            "create",
            GraphQLField(
                result,  # nullable: an error in one mutation never nulls the others
                args={"input": GraphQLArgument(GraphQLNonNull(input_type)), **writes},
                resolve=lambda _r, info, **a: _create(_ctx(info), binding, a),
            ),
        )
    if Operation.UPDATE in ops:
        out[f"update{name}"] = (
            "update",
            GraphQLField(
                result,  # nullable: an error in one mutation never nulls the others
                args={**keys, "input": GraphQLArgument(GraphQLNonNull(input_type)), **writes},
                resolve=lambda _r, info, **a: _update(_ctx(info), binding, a),
            ),
        )
    workflow = binding.definition.workflow
    if Operation.UPDATE in ops and workflow is not None:
        names = ", ".join(t.name for t in workflow.transitions)
        out[f"transition{name}"] = (
            "transition",
            GraphQLField(
                result,
                args={
                    **keys,
                    "transition": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description=f"One of: {names}"
                    ),
                    "comment": GraphQLArgument(GraphQLString),
                },
                resolve=lambda _r, info, **a: _transition(_ctx(info), binding, a),
                description=f"Run a workflow transition of a {name} (its scopes decide who may)",
            ),
        )
    if Operation.DELETE in ops:
        deleted = GraphQLObjectType(
            f"{name}DeleteResult",
            {
                **_outcome_fields(),
                "uuid": GraphQLField(GraphQLString),
                key_field: GraphQLField(GraphQLString),
                "version": GraphQLField(GraphQLInt),
            },
        )
        out[f"delete{name}"] = (
            "delete",
            GraphQLField(
                deleted,
                args={**keys, "force": GraphQLArgument(GraphQLBoolean)},
                resolve=lambda _r, info, **a: _delete(_ctx(info), binding, a),
            ),
        )
    if Operation.CREATE in ops and Operation.UPDATE in ops:
        item = GraphQLObjectType(
            f"{name}UpsertResult",
            lambda: {
                "index": GraphQLField(GraphQLNonNull(GraphQLInt)),
                key_field: GraphQLField(GraphQLString),
                "created": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                "changed": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                **_outcome_fields(),
                "output": _output_field(binding),
            },
        )
        out[f"upsert{name}Batch"] = (
            "upsert",
            GraphQLField(
                GraphQLList(GraphQLNonNull(item)),
                args={
                    "items": GraphQLArgument(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(input_type)))
                    ),
                    **writes,
                },
                resolve=lambda _r, info, **a: _upsert_batch(_ctx(info), binding, a),
                description=f"Create or update up to {MAX_BATCH} {name} objects by {key_field}",
            ),
        )
    return out


def _ctx(info: GraphQLResolveInfo[Any]) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


def to_values(binding: ClassBinding, data: Mapping[str, Any], language: str) -> dict[str, Any]:
    """GraphQL input as stored values: a localized field's text is written in `language`."""
    values: dict[str, Any] = {}
    for name, value in data.items():
        f = binding.definition.field(name)
        if f is not None and f.localized and value is not None:
            values[name] = {language: value}
        else:
            values[name] = value
    return values


def _writing(ctx: RequestContext, work: Callable[[], T]) -> T:
    """`work()`, a write through the catalog, which takes a pooled connection of its own:
    the request's read connection goes back to the pool first, so that no request ever
    holds one connection while it waits for another (see SqlGraphReadSession). Once the pool
    had no connection for one write, the rest of the request is not attempted: each would
    wait out the pool's timeout again, and the whole request is answered 503."""
    if ctx.unavailable is not None:
        raise ctx.unavailable
    ctx.session.fresh()
    try:
        return work()
    except PoolTimeout as exc:
        ctx.unavailable = exc
        raise


def _failure(exc: Exception) -> dict[str, Any]:
    """A failed write as a result. Anything but a domain error is a bug or a database
    problem: logged, and answered without its details (they may hold SQL). A pool that had
    no connection to give is no failure of this write: it fails the whole request (503)."""
    if isinstance(exc, PoolTimeout):
        raise exc
    if not isinstance(exc, CatalogError):
        log.exception("graphql.mutation_failed")
        exc = CatalogError("the write failed unexpectedly; it is logged with this request")
        exc.code = "internal-error"
    return {
        "success": False,
        "code": exc.code,
        "message": exc.detail,
        "errors": [e.as_dict() for e in exc.errors],
        "node": None,
    }


def _success(ctx: RequestContext, obj: CatalogObject, message: str) -> dict[str, Any]:
    ctx.session.fresh()  # later reads (relations of the output) see this write
    # A configuration without drafts shows no unpublished object, not even one it wrote.
    node = ctx.loader.batch([obj], ctx.default_language)[0] if ctx.loader.visible(obj) else None
    return {"success": True, "code": None, "message": message, "errors": [], "node": node}


def _language(ctx: RequestContext, args: Mapping[str, Any]) -> str:
    return args.get("language") or ctx.default_language


def _create(ctx: RequestContext, binding: ClassBinding, args: dict[str, Any]) -> dict[str, Any]:
    values = to_values(binding, args["input"], _language(ctx, args))
    try:
        obj = _writing(
            ctx,
            lambda: ctx.catalog.create(
                binding.definition.name,
                values,
                published=args.get("published"),  # unsaid: published, or as its workflow says
                parent=args.get("parent"),
                author=ctx.author,
            ),
        )
    except Exception as exc:
        return _failure(exc)
    return _success(ctx, obj, f"{binding.definition.name} '{obj.key}' created")


def _target(ctx: RequestContext, binding: ClassBinding, args: dict[str, Any]) -> CatalogObject:
    # Drafts are out of reach, not only out of sight, where a configuration hides them.
    if ctx.unavailable is not None:
        raise ctx.unavailable
    obj = find_visible(ctx, binding.definition, args)
    ctx.session.fresh()
    if obj is None:
        by = next((k for k in ("id", "fullpath", "uuid") if args.get(k) is not None), "key")
        value = args.get(binding.definition.business_key if by == "key" else by)
        raise ObjectNotFound.named(binding.definition.name, value, by)
    return obj


def _update(ctx: RequestContext, binding: ClassBinding, args: dict[str, Any]) -> dict[str, Any]:
    try:
        obj = _target(ctx, binding, args)
        values = to_values(binding, args["input"], _language(ctx, args))
        result = _writing(
            ctx,
            lambda: ctx.catalog.patch(
                binding.definition.name,
                obj.key,
                values,
                published=args.get("published"),
                expected_version=args.get("expectedVersion"),
                parent=args.get("parent", KEEP),
                author=ctx.author,
            ),
        )
    except Exception as exc:
        return _failure(exc)
    verb = "updated" if result.changed else "unchanged"
    return _success(ctx, result.object, f"{binding.definition.name} '{result.object.key}' {verb}")


def _may_run(ctx: RequestContext, binding: ClassBinding) -> Callable[[Sequence[str]], bool]:
    """Who may run a transition here: a key holding one of its scopes on the class, or, for
    `write` and `delete`, any key of a configuration that allows that operation on it (as
    the configuration's update and delete mutations do)."""
    name = binding.definition.name
    granted = {"write"} | ({"delete"} if Operation.DELETE in binding.operations else set())

    def may_run(scopes: Sequence[str]) -> bool:
        key = ctx.api_key
        return bool(granted & set(scopes)) or (key is not None and key.may_run(scopes, name))

    return may_run


def _transition(ctx: RequestContext, binding: ClassBinding, args: dict[str, Any]) -> dict[str, Any]:
    name = binding.definition.name
    try:
        obj = _target(ctx, binding, args)
        moved = _writing(
            ctx,
            lambda: ctx.catalog.transition(
                name,
                obj.key,
                args["transition"],
                may_run=_may_run(ctx, binding),
                author=ctx.author,
                comment=args.get("comment"),
                expected_version=args.get("expectedVersion"),
            ),
        )
    except Exception as exc:
        return _failure(exc)
    state = moved.workflow_state
    return _success(ctx, moved, f"{name} '{moved.key}' is now {state} ({args['transition']})")


def _may_unlink(ctx: RequestContext, what: str) -> Callable[[set[str]], None]:
    """A forced delete changes the objects referring to it: each class needs this
    configuration's update on it or the key's write scope (admin passes)."""

    def updatable(class_name: str) -> bool:
        exposed = ctx.config.exposed(class_name)
        return exposed is not None and exposed.allows(Operation.UPDATE)

    alternative = " or this configuration's 'update' operation on them"
    return may_write_referrers(ctx.api_key, what, updatable, alternative)


def _delete(ctx: RequestContext, binding: ClassBinding, args: dict[str, Any]) -> dict[str, Any]:
    try:
        obj = _target(ctx, binding, args)
        gone = _writing(
            ctx,
            lambda: ctx.catalog.delete(
                binding.definition.name,
                obj.key,
                force=bool(args.get("force")),
                expected_version=args.get("expectedVersion"),
                author=ctx.author,
                may_unlink=_may_unlink(ctx, f"{binding.definition.name} '{obj.key}'"),
            ),
        )
    except Exception as exc:
        return _failure(exc)
    ctx.session.fresh()
    return {
        "success": True,
        "code": None,
        "message": f"{binding.definition.name} '{gone.key}' deleted",
        "errors": [],
        "uuid": gone.uuid,
        binding.definition.business_key: gone.key,
        "version": gone.version,
    }


def _refuse_hidden(ctx: RequestContext, binding: ClassBinding, key: Any) -> None:
    if ctx.unavailable is not None:
        raise ctx.unavailable
    if ctx.config.drafts or not isinstance(key, str):
        return
    existing = ctx.session.one(binding.definition.name, id=None, uuid=None, key=key)
    ctx.session.fresh()
    if existing is not None and not existing.published:
        # Worded as update<Class> words a missing object, so that the answer does not tell
        # a hidden draft from a missing one (getProduct shows neither).
        raise ObjectNotFound.named(binding.definition.name, key)


def _upsert_batch(
    ctx: RequestContext, binding: ClassBinding, args: dict[str, Any]
) -> list[dict[str, Any]]:
    items = args["items"]
    if len(items) > MAX_BATCH:
        raise coded(f"a batch holds at most {MAX_BATCH} items, got {len(items)}", "BATCH_TOO_LARGE")
    language = _language(ctx, args)
    key_field = binding.definition.business_key
    parent = args.get("parent", KEEP)  # the same for every item
    results: list[dict[str, Any]] = []
    saved: list[tuple[dict[str, Any], CatalogObject]] = []
    for index, item in enumerate(items):
        outcome: dict[str, Any] = {"index": index, key_field: item.get(key_field)}
        try:
            _refuse_hidden(ctx, binding, item.get(key_field))
            values = to_values(binding, item, language)
            result = _writing(
                ctx,
                partial(
                    ctx.catalog.upsert,
                    binding.definition.name,
                    values,
                    published=args.get("published"),
                    parent=parent,
                    author=ctx.author,
                ),
            )
        except Exception as exc:
            outcome.update(_failure(exc), created=False, changed=False)
        else:
            outcome.update(
                success=True,
                code=None,
                message="created"
                if result.created
                else "updated"
                if result.changed
                else "unchanged",
                errors=[],
                created=result.created,
                changed=result.changed,
            )
            if ctx.loader.visible(result.object):
                saved.append((outcome, result.object))
            else:
                outcome["node"] = None
        results.append(outcome)
    ctx.session.fresh()
    # One batch for all outputs, so their relations load with one statement per field.
    nodes = ctx.loader.batch([obj for _, obj in saved], ctx.default_language)
    for (outcome, _), node in zip(saved, nodes, strict=True):
        outcome["node"] = node
    return results
