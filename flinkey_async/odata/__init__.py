"""OData for the flinkey API: build, print, encode, parse and evaluate query options.

One tree serves all five jobs, so what the client sends is exactly what the sandbox reads::

    from flinkey_async import Car
    from flinkey_async.odata import Query, fields

    F = fields(Car)
    query = (
        Query()
        .filter((F.brand == "VW") & (F.name.startswith("Golf") | F.vin.is_null()))
        .select(F.id, F.name)
        .top(50)
    )
    query.params()["$filter"]   # "brand eq 'VW' and (startswith(name,'Golf') or vin eq null)"
    query.encoded()             # ready to append after '?', encoded exactly once

    parse_query_string(query.encoded()) == query   # True

See ``docs/odata.md`` for the operator table and the escaping rules.
"""

from flinkey_async.odata._ast import (
    FUNCTIONS,
    Arithmetic,
    Call,
    Comparison,
    Expr,
    In,
    ListExpr,
    Literal,
    LiteralValue,
    Logical,
    Negate,
    Not,
    OrderKey,
    Property,
    Raw,
)
from flinkey_async.odata._builder import (
    Fields,
    Query,
    SelectQuery,
    encode_query,
    fields,
    func,
    literal,
    raw,
)
from flinkey_async.odata._encoding import encode_params
from flinkey_async.odata._errors import (
    ODataError,
    ODataSyntaxError,
    UnknownFieldError,
    UnsupportedODataError,
)
from flinkey_async.odata._evaluator import (
    apply_query,
    apply_to_entity,
    check_properties,
    count_matching,
    evaluate,
)
from flinkey_async.odata._literals import INT64_MAX, MAX_INTEGER_DIGITS
from flinkey_async.odata._parser import (
    MAX_NESTING,
    parse_filter,
    parse_literal,
    parse_orderby,
    parse_query,
    parse_query_string,
    parse_select,
)
from flinkey_async.odata._printer import format_literal, print_expr, print_orderby

__all__ = [
    "FUNCTIONS",
    "INT64_MAX",
    "MAX_INTEGER_DIGITS",
    "MAX_NESTING",
    "Arithmetic",
    "Call",
    "Comparison",
    "Expr",
    "Fields",
    "In",
    "ListExpr",
    "Literal",
    "LiteralValue",
    "Logical",
    "Negate",
    "Not",
    "ODataError",
    "ODataSyntaxError",
    "OrderKey",
    "Property",
    "Query",
    "Raw",
    "SelectQuery",
    "UnknownFieldError",
    "UnsupportedODataError",
    "apply_query",
    "apply_to_entity",
    "check_properties",
    "count_matching",
    "encode_params",
    "encode_query",
    "evaluate",
    "fields",
    "format_literal",
    "func",
    "literal",
    "parse_filter",
    "parse_literal",
    "parse_orderby",
    "parse_query",
    "parse_query_string",
    "parse_select",
    "print_expr",
    "print_orderby",
    "raw",
]
