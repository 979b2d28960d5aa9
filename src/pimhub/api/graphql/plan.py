"""Compiled plans (filled in below)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode

from pimhub.api.graphql.context import RequestContext


class Plan:
    def run(
        self, ctx: RequestContext, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
        raise NotImplementedError


def compile_plan(
    schema: Any, operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Plan | None:
    return None
