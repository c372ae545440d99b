"""``column IN (…)`` for a list bound at execution, as each store takes it best.

A worker's batch asks about 40 ids at a time in most of its statements. As an expanding
``IN``, SQLAlchemy renders a parameter and a type cast per id at every execution, and
PostgreSQL parses as many; bound as one array (``= ANY``), the statement is the same text
whatever the list's length, and cheaper for the worker's CPU. SQLite has no arrays, and
keeps the expanding ``IN``.
"""

from typing import Any

from sqlalchemy import Boolean, String, TypeDecorator, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType


class InList(ColumnElement[bool]):
    """True where ``column`` is one of the values bound as ``name`` (a list)."""

    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 - SQLAlchemy's shape
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]
    type = Boolean()
    #: A predicate: stores without a boolean type must not compare it with 1.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name

    @property
    def _from_objects(self) -> list[FromClause]:
        """The column's table: a statement that names it only here still reads from it."""
        return self.column._from_objects


def in_list(column: ColumnElement[Any], name: str) -> InList:
    return InList(column, name)


@compiles(InList)
def _expanding_in(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(InList, "postgresql")
def _equals_any(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(element.name, type_=ARRAY(_element_type(element.column.type)))
    return compiler.process(element.column == any_(values), **kw)


def _element_type(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """The array's element type: a string type without its length. PostgreSQL cuts a value
    down to the length of an explicit cast (``'abcdef'::VARCHAR(3)`` is ``'abc'``), so a
    list bound as ``VARCHAR(100)[]`` would find a row for a longer value that shares its
    first 100 characters; an IN never does."""
    stored = column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type
    if isinstance(stored, String) and stored.length is not None:
        return String()
    return column_type
