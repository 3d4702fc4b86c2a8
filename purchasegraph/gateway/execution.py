"""From document text to a result: parse, measure, validate (all cached), cost, execute.

The HTTP layer asks for the pieces in the order that keeps abuse cheap: the syntax tree and
its shape are checked before validation, validation before anyone is authenticated, and the
cost before a single statement runs. Parsing and validation results are cached by document
text, so a client repeating its query pays for neither again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    Visitor,
    execute,
    parse,
    specified_rules,
    subscribe,
    validate,
    visit,
)
from strawberry.execution import optimized_is_awaitable

from purchasegraph.compiled import run_compiled
from purchasegraph.context import Context
from purchasegraph.gateway.actual_cost import METER, NodeMeter
from purchasegraph.gateway.limits import Shape, check_cost, check_shape, query_cost
from purchasegraph.gateway.lru import ByteBoundedLRU, text_bytes
from purchasegraph.gateway.masking import masked
from purchasegraph.gateway.refusals import RequestCode, RequestError, malformed
from purchasegraph.gateway.strings import storable
from purchasegraph.observability.metrics import DISABLED, RESOLVERS, record_read
from purchasegraph.settings import QueryLimits

# What the parsed and checked documents may hold in memory, together with their texts.
CACHE_BYTES = 32 * 1024 * 1024
# A syntax tree takes 70-140 bytes per character of a typical document and up to 210 for the
# densest valid one (`id id id ...`, measured with tracemalloc); string literals take about one.
# The larger figure keeps the estimate an upper bound.
AST_BYTES_PER_CHARACTER = 250
INTROSPECTION_DISABLED_MESSAGE = "GraphQL introspection has been disabled"


@dataclass(frozen=True)
class Prepared:
    """A parsed, measured and valid document, and the operation the request names."""

    document: DocumentNode
    operation: OperationDefinitionNode
    shape: Shape

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation is OperationType.MUTATION

    @property
    def is_subscription(self) -> bool:
        return self.operation.operation is OperationType.SUBSCRIPTION

    @property
    def operation_name(self) -> str | None:
        return self.operation.name.value if self.operation.name else None


def with_code(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
    return formatted


class Engine:
    def __init__(
        self,
        schema: strawberry.Schema,
        limits: QueryLimits,
        *,
        production: bool,
        compiled_reads: bool = True,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.schema = schema._schema
        self._executor_class = schema.execution_context_class
        self.limits = limits
        self.production = production
        self.compiled_reads = compiled_reads
        rules = list(specified_rules)
        if production:
            rules.append(NoSchemaIntrospectionCustomRule)
        self._rules = tuple(rules)
        self._checked: ByteBoundedLRU[str, DocumentNode | RequestError] = ByteBoundedLRU(cache_bytes, _weigh_checked)

    def prepare(self, text: str, operation_name: str | None) -> Prepared:
        """The document checked against every limit and the schema, or a RequestError."""
        checked = self._checked.get(text)
        if checked is None:
            try:
                checked = self._check(text)
            except RequestError as refused:
                checked = refused.anew()  # kept without its traceback (and the frames it holds)
            self._checked.put(text, checked)
        if isinstance(checked, RequestError):
            raise checked.anew()
        operation = select_operation(checked, operation_name)
        return Prepared(checked, operation, check_shape(checked, operation, self.limits))

    def _check(self, text: str) -> DocumentNode:
        if not storable(text):
            raise malformed("The document holds NUL or an unpaired surrogate.")
        document = self._parse(text)
        for node in string_literals(document):
            if not storable(node.value):
                raise malformed("A string in the document holds NUL or an unpaired surrogate.")
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        for operation in operations:  # validation walks every operation, so each must fit
            check_shape(document, operation, self.limits)
        errors = validate(
            self.schema,
            document,
            self._rules,
            max_errors=20,
            hide_suggestions=self.production,
            allow_empty_selection_sets=False,
        )
        if errors:
            if any(e.message.startswith(INTROSPECTION_DISABLED_MESSAGE) for e in errors):
                raise RequestError(
                    RequestCode.INTROSPECTION_DISABLED,
                    "Introspection is disabled in production; the schema is published as schema.graphql.",
                )
            raise RequestError(
                RequestCode.GRAPHQL_VALIDATION_FAILED,
                errors[0].message,
                legacy_status=200,
                errors=[with_code(e, RequestCode.GRAPHQL_VALIDATION_FAILED) for e in errors],
            )
        return document

    def _parse(self, text: str) -> DocumentNode:
        try:
            return parse(text, max_tokens=self.limits.max_tokens, allow_empty_selection_sets=False)
        except GraphQLSyntaxError as error:
            if "more than" in error.message and "tokens" in error.message:
                raise RequestError(
                    RequestCode.MAX_TOKENS_EXCEEDED,
                    f"The document has more than {self.limits.max_tokens} tokens.",
                    extensions={"maximum": self.limits.max_tokens},
                ) from None
            raise RequestError(
                RequestCode.GRAPHQL_PARSE_FAILED,
                error.message,
                legacy_status=200,
                errors=[with_code(error, RequestCode.GRAPHQL_PARSE_FAILED)],
            ) from None
        except RecursionError:
            raise RequestError(
                RequestCode.MAX_DEPTH_EXCEEDED, f"The document nests deeper than {self.limits.max_depth} levels."
            ) from None

    def cost(self, prepared: Prepared, variables: Mapping[str, Any] | None) -> int:
        """The operation's requested cost on its coerced variables, or a refusal over the limit."""
        cost = query_cost(
            self.schema,
            prepared.document,
            prepared.operation,
            variables,
            hide_suggestions=self.production,
        )
        check_cost(cost, self.limits)
        return cost

    async def run(
        self, prepared: Prepared, *, variables: Mapping[str, Any] | None, context: Context
    ) -> tuple[ExecutionResult, int]:
        """The operation's result and its actual cost (one, plus the nodes it returned). A read takes
        the compiled path (one statement) when compiled reads are on and it compiles, else the
        resolvers, metered; a mutation always takes the resolvers."""
        if not prepared.is_mutation:
            if self.compiled_reads:
                compiled = await run_compiled(self.schema, prepared.document, prepared.operation, variables, context)
                if compiled is not None:
                    return ExecutionResult(data=compiled.data), 1 + compiled.nodes
            else:
                record_read(path=RESOLVERS, reason=DISABLED)
        meter = NodeMeter()
        token = METER.set(meter)
        try:
            return await self.execute(prepared, variables=variables, context=context), 1 + meter.nodes
        finally:
            METER.reset(token)

    def _operation(self, prepared: Prepared, variables: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
        """What graphql-core's ``execute`` and ``subscribe`` both take to run the operation."""
        return {
            "schema": self.schema,
            "document": prepared.document,
            "context_value": context,
            "variable_values": dict(variables) if variables is not None else None,
            "operation_name": prepared.operation_name,
            "executor_class": self._executor_class,
            "hide_suggestions": self.production,
        }

    async def execute(
        self, prepared: Prepared, *, variables: Mapping[str, Any] | None, context: object
    ) -> ExecutionResult:
        operation = self._operation(prepared, variables, context)
        result = execute(**operation, is_awaitable=optimized_is_awaitable)  # type: ignore[arg-type]
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result

    async def subscribe(
        self, prepared: Prepared, *, variables: Mapping[str, Any] | None, context: object
    ) -> AsyncIterator[ExecutionResult] | ExecutionResult:
        """The subscription's results as they come, or the result that refused it when it started."""
        started = subscribe(**self._operation(prepared, variables, context))
        return await started if isawaitable(started) else started


def _weigh_checked(text: str, checked: DocumentNode | RequestError) -> int:
    if isinstance(checked, RequestError):
        return text_bytes(text) + text_bytes(checked.message) + len(repr(checked.errors))
    return text_bytes(text) + AST_BYTES_PER_CHARACTER * len(text)


def string_literals(document: DocumentNode) -> list[StringValueNode]:
    found: list[StringValueNode] = []

    class Collect(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: object) -> None:
            found.append(node)

    visit(document, Collect())
    return found


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) == 1:
            return operations[0]
        message = "The document has no operation." if not operations else "Name the operation to run: operationName."
    else:
        for operation in operations:
            if operation.name is not None and operation.name.value == operation_name:
                return operation
        message = f"The document has no operation named {operation_name!r}."
    raise RequestError(RequestCode.OPERATION_NOT_FOUND, message, legacy_status=200)


@dataclass
class FormattedResult:
    body: dict[str, Any]
    unavailable: bool
    # Execution never started (the variables did not fit): a request error, not a result.
    not_executed: bool


def format_result(result: ExecutionResult, *, request_id: str) -> FormattedResult:
    """The response body of an executed operation, its errors ``masked``; ``unavailable`` when a
    statement found the database unavailable (the whole request is then a 503)."""
    errors: list[dict[str, Any]] = []
    unavailable = False
    for error in result.errors or ():
        shown = masked(error, request_id)
        if shown is not error:
            if (shown.extensions or {}).get("code") == RequestCode.SERVICE_UNAVAILABLE.value:
                unavailable = True
            else:
                errors.append(dict(shown.formatted))
            continue
        not_run = result.data is None and not error.path
        errors.append(with_code(error, RequestCode.BAD_VARIABLES) if not_run else dict(error.formatted))
    body: dict[str, Any] = {}
    if errors:
        # In document order: resolvers in different branches fail in whatever order their awaits
        # finish, and the same request should get the same body every time.
        body["errors"] = sorted(errors, key=_document_order)
    not_executed = result.data is None and bool(result.errors) and all(not e.path for e in result.errors or ())
    if not not_executed:
        body["data"] = result.data
    return FormattedResult(body=body, unavailable=unavailable, not_executed=not_executed)


def _document_order(error: dict[str, Any]) -> tuple[int, int, tuple[str, ...]]:
    """Where an error's field stands in the document (its first location), then its path (list
    indexes zero-padded, so that they sort as numbers); an error with neither sorts first."""
    locations = error.get("locations") or [{"line": 0, "column": 0}]
    path = tuple(f"{p:010d}" if isinstance(p, int) else str(p) for p in error.get("path") or ())
    return locations[0]["line"], locations[0]["column"], path
