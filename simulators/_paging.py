"""Shared paging parts: windows over a store's ordered records, cursors and a tiny SELECT parser.

Every list endpoint pages over :meth:`RecordStore.ordered` (insertion order). Without a filter a
page is a slice, O(page); a cursor id is turned into a position by a dictionary lookup. With a
filter the scan starts at the cursor and stops one match past the page, so a whole walk reads the
table about once. The vendor modules only shape these windows into their own envelopes.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote

import orjson

from simulators._store import Record

Match = Callable[[Record], bool]
Scalar = str | int | float | bool | None
_T = TypeVar("_T")


class PagingError(ValueError):
    """A paging or query parameter the vendor would refuse; ``param`` names it when known."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


class QueryError(PagingError):
    """A query the tiny parser cannot read; ``column`` is where it stopped (1-based)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, "q")
        self.column = column


# --- windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One page of records and whether another matching record lies beyond it."""

    records: list[Record]
    more: bool


def forward(rows: Sequence[Record], start: int, size: int, match: Match | None = None) -> Window:
    """Up to ``size`` (matching) records from position ``start`` on."""
    if match is None:
        return Window(list(rows[start : start + size]), start + size < len(rows))
    page: list[Record] = []
    for i in range(start, len(rows)):
        if match(rows[i]):
            if len(page) == size:  # one match past the page is enough to know there is more
                return Window(page, True)
            page.append(rows[i])
    return Window(page, False)


def backward(rows: Sequence[Record], end: int, size: int, match: Match | None = None) -> Window:
    """The last ``size`` (matching) records before position ``end``, in list order."""
    if match is None:
        begin = max(0, end - size)
        return Window(list(rows[begin:end]), begin > 0)
    page: list[Record] = []
    more = False
    for i in range(end - 1, -1, -1):
        if match(rows[i]):
            if len(page) == size:
                more = True
                break
            page.append(rows[i])
    page.reverse()
    return Window(page, more)


def around(
    rows: Sequence[Record],
    position: Callable[[str], int | None],
    after: str | None,
    before: str | None,
    size: int,
    match: Match | None = None,
) -> Window:
    """The page after record ``after``, or before record ``before``, or else the first page.

    ``position`` maps an id to its place in ``rows``; an unknown id raises a PagingError naming
    ``after`` or ``before`` as its ``param``, for the vendor to word.
    """
    cursor, param = (after, "after") if after else (before, "before")
    at = position(cursor) if cursor else None
    if cursor and at is None:
        raise PagingError(f"No such object: '{cursor}'", param)
    if at is None:
        return forward(rows, 0, size, match)
    return forward(rows, at + 1, size, match) if after else backward(rows, at, size, match)


def bounded_int(text: str | None, default: int, low: int, high: int, param: str) -> int:
    """``text`` as an integer in ``low..high`` (``default`` when absent), else a PagingError."""
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise PagingError(f"Invalid integer: {text}", param) from None
    if value < low:
        raise PagingError(f"This value must be greater than or equal to {low}.", param)
    if value > high:
        raise PagingError(f"This value must be less than or equal to {high}.", param)
    return value


def field(data: dict[str, Any], name: str) -> str | None:
    """The key of ``data`` spelled like ``name`` ignoring case (vendors match fields so)."""
    if name in data:
        return name
    lowered = name.lower()
    return next((k for k in data if k.lower() == lowered), None)


def equals(stored: Any, wanted: Scalar, *, fold_case: bool = False) -> bool:
    """A stored value against a query literal, comparing as the literal's type suggests."""
    if wanted is None or stored is None:
        return wanted is None and stored is None
    if isinstance(wanted, bool):
        return str(stored).lower() == str(wanted).lower()
    if isinstance(wanted, int | float):
        try:
            return not isinstance(stored, bool) and float(stored) == wanted
        except (TypeError, ValueError):
            return False
    text = str(stored)
    return text.casefold() == wanted.casefold() if fold_case else text == wanted


# --- cursors ------------------------------------------------------------------------------------


def encode_cursor(id_: str) -> str:
    """An opaque cursor naming the record a page ended on (shaped like Zendesk's base64 JSON)."""
    return base64.b64encode(orjson.dumps({"o": "id", "v": id_})).decode()


def decode_cursor(token: str) -> str | None:
    """The record id inside ``token``, or None when it is not a cursor this simulator made."""
    try:
        raw = orjson.loads(base64.b64decode(token, validate=True))
    except ValueError:  # binascii.Error and orjson.JSONDecodeError are both ValueErrors
        return None
    if isinstance(raw, dict) and raw.get("o") == "id" and isinstance(raw.get("v"), str):
        value: str = raw["v"]
        return value
    return None


class Cursors(Generic[_T]):
    """Server-side cursors by key; opening one past ``limit`` drops the oldest, as vendors do."""

    def __init__(self, limit: int, prefix: str) -> None:
        self._open: OrderedDict[str, _T] = OrderedDict()
        self._limit, self._prefix = limit, prefix

    def open(self, value: _T) -> str:
        key = f"{self._prefix}{secrets.token_hex(8).upper()}"[:18]
        self._open[key] = value
        while len(self._open) > self._limit:
            self._open.popitem(last=False)
        return key

    def get(self, key: str) -> _T | None:
        return self._open.get(key)

    def clear(self) -> None:
        self._open.clear()


_COOKIE = re.compile(r'^<cookie pagenumber="(\d+)" pagingcookie="([^"]*)" istracking="\w+" />$')
_INNER = re.compile(r'^<cookie page="\d+"><(\w+) last="\{([^}]+)\}" first="\{[^}]+\}" /></cookie>$')


def _lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


def paging_cookie(page: int, id_attr: str, first: str, last: str) -> str:
    """Dataverse's ``$skiptoken``: page ``page + 1`` resumes after record ``last``.

    The real token is a ``<cookie>`` element whose ``pagingcookie`` attribute holds a second,
    URL-encoded cookie naming the first and last primary keys of the page just returned.
    """
    inner = f'<cookie page="{page}"><{id_attr} last="{{{last}}}" first="{{{first}}}" /></cookie>'
    encoded = _lower_escapes(quote(inner, safe=""))
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{encoded}" istracking="False" />'


def read_paging_cookie(token: str, id_attr: str) -> tuple[int, str] | None:
    """(page number, last id) from a ``$skiptoken`` made by :func:`paging_cookie`."""
    outer = _COOKIE.match(token)
    inner = _INNER.match(unquote(outer[2])) if outer else None
    if outer is None or inner is None or inner[1] != id_attr:
        return None
    return int(outer[1]), inner[2]


# --- the SELECT parser --------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """``SELECT columns FROM table [WHERE column = literal [AND ...]]``; columns None is ``*``."""

    columns: tuple[str, ...] | None
    table: str
    where: tuple[tuple[str, Scalar], ...]


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])"
    r"|(?P<word>[A-Za-z_][\w.]*)|(?P<sym><>|!=|<=|>=|[=,*();<>])|(?P<bad>\S))"
)
_LITERAL_WORDS: dict[str, Scalar] = {"true": True, "false": False, "null": None}
_KEYWORDS = frozenset({"SELECT", "FROM", "WHERE", "AND", "OR", "NOT"})


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing white space is left
            break
        kind = m.lastgroup or "bad"
        if kind == "bad":
            raise QueryError(f"unexpected character '{m[kind]}'", m.start(kind) + 1)
        out.append((kind, m[kind], m.start(kind) + 1))
        pos = m.end()
    return out


def parse_query(text: str, *, allow_star: bool) -> Query:
    """Read the small SELECT subset both SuiteQL and SOQL share, else raise QueryError."""
    return _Parser(text).query(allow_star=allow_star)


class _Parser:
    """A recursive-descent reader over :func:`_tokens`; errors name the column they stop at."""

    def __init__(self, text: str) -> None:
        self.tokens = [*_tokens(text), ("end", "<EOF>", len(text) + 1)]
        self.at = 0

    def peek(self, word: str) -> bool:
        kind, got, _ = self.tokens[self.at]
        return kind == "word" and got.upper() == word

    def take(self, kind: str, word: str | None = None) -> str:
        got_kind, got, column = self.tokens[self.at]
        if got_kind != kind or (word is not None and got.upper() != word):
            raise QueryError(f"unexpected token: '{got}' (expected {word or kind})", column)
        self.at += 1
        return got

    def name(self) -> str:
        column = self.tokens[self.at][2]
        got = self.take("word")
        if got.upper() in _KEYWORDS:
            raise QueryError(f"unexpected token: '{got}'", column)
        if self.tokens[self.at][1] == "(":
            raise QueryError(f"function {got}() is not supported", column)
        if "." in got:
            raise QueryError(f"dotted name '{got}' is not supported", column)
        return got

    def query(self, *, allow_star: bool) -> Query:
        self.take("word", "SELECT")
        columns: tuple[str, ...] | None = None
        if self.tokens[self.at][1] == "*":
            if not allow_star:
                raise QueryError("unexpected token: '*'", self.tokens[self.at][2])
            self.at += 1
        else:
            names = [self.name()]
            while self.tokens[self.at][1] == ",":
                self.at += 1
                names.append(self.name())
            columns = tuple(names)
        self.take("word", "FROM")
        table = self.name()
        where: list[tuple[str, Scalar]] = []
        if self.peek("WHERE"):
            self.at += 1
            where.append(self.condition())
            while self.peek("AND"):
                self.at += 1
                where.append(self.condition())
        if self.tokens[self.at][1] == ";":
            self.at += 1
        kind, got, column = self.tokens[self.at]
        if kind != "end":
            raise QueryError(f"'{got}' and what follows it is not supported", column)
        return Query(columns, table, tuple(where))

    def condition(self) -> tuple[str, Scalar]:
        column = self.name()
        _, op, op_column = self.tokens[self.at]
        if op != "=":
            raise QueryError(f"operator '{op}' is not supported; only '=' is", op_column)
        kind, literal, at = self.tokens[self.at + 1]
        self.at += 2
        if kind == "str":
            return column, literal[1:-1].replace("\\'", "'").replace("''", "'")
        if kind == "num":
            return column, float(literal) if "." in literal else int(literal)
        if kind == "word" and literal.lower() in _LITERAL_WORDS:
            return column, _LITERAL_WORDS[literal.lower()]
        raise QueryError(f"unexpected token: '{literal}' (expected a literal)", at)
