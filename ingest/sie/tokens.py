"""Tokenising: a record's fields (quoted, bare, object lists ``{…}``), the pattern that reads a
whole voucher row at once, and what a record adds to the ``#KSUMMA`` checksum."""

from __future__ import annotations

import re

# A field: "quoted" (with \" escapes; group 2 is empty when the quote is never closed),
# a brace, or a bare word.
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)("|$)|([{}])|([^\s"{}]+)')
CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")

Field = str | tuple[str, ...]  # a value, or the tokens of an object list {…}

# One field, quoted (group 1, \" escapes) or bare (group 2).
FIELD = r'(?:"((?:[^"\\]|\\.)*)"|([^\s"{}]+))'
# A whole well-formed row after its label, in one match: account, {objects} (raw inside,
# group 3), amount, then up to four optional fields. A line it does not match (extra fields,
# missing blanks, odd quoting) goes through the general tokenizer, which reads the same.
ROW = re.compile(
    rf"{FIELD}[ \t]*\{{((?:[^{{}}\"]|\"(?:[^\"\\]|\\.)*\")*)\}}[ \t]*{FIELD}"
    rf"(?:[ \t]+{FIELD})?(?:[ \t]+{FIELD})?(?:[ \t]+{FIELD})?(?:[ \t]+{FIELD})?[ \t]*$"
)


def split_fields(rest: str) -> tuple[list[Field], str | None, int]:
    """The fields after a record's label, a problem (or None) and the number of object
    lists. An object list becomes the tuple of its tokens; quotes are removed and ``\\"``
    unescaped (the only escape of the specification; other backslashes are kept)."""
    fields: list[Field] = []
    objects: list[str] | None = None
    lists = 0
    if '"' not in rest:
        if "{" not in rest and "}" not in rest:
            return rest.split(), None, 0  # type: ignore[return-value]
        for token in rest.replace("{", " { ").replace("}", " } ").split():
            if token == "{":
                if objects is not None:
                    return fields, "{ inside an object list", lists
                objects = []
            elif token == "}":
                if objects is None:
                    return fields, "} without an opening { in the record", lists
                fields.append(tuple(objects))
                objects = None
                lists += 1
            elif objects is None:
                fields.append(token)
            else:
                objects.append(token)
    else:
        for quoted, close, brace, bare in TOKEN.findall(rest):
            if bare:
                (fields if objects is None else objects).append(bare)
            elif brace == "{":
                if objects is not None:
                    return fields, "{ inside an object list", lists
                objects = []
            elif brace:
                if objects is None:
                    return fields, "} without an opening { in the record", lists
                fields.append(tuple(objects))
                objects = None
                lists += 1
            elif not close:
                return fields, "a quoted field is not closed", lists
            else:
                value = quoted.replace('\\"', '"') if "\\" in quoted else quoted
                (fields if objects is None else objects).append(value)
    if objects is not None:
        return fields, "an object list { … } is not closed", lists
    return fields, None, lists


def crc_text(label: str, fields: list[Field]) -> str:
    """What a record adds to the #KSUMMA checksum: its label and its fields' contents, without
    the blanks between fields, the delimiting quotes and the braces."""
    return label + "".join(value if type(value) is str else "".join(value) for value in fields)


def object_problem(tokens: tuple[str, ...]) -> tuple[str, str] | None:
    """Why the tokens of an object list are not pairs of a dimension number and an object
    (the rule and what is expected), or None."""
    if len(tokens) % 2:
        return (
            "the object list does not hold pairs of dimension and object",
            '{dimension "object" …}, e.g. {1 "100" 6 "P12"}',
        )
    for dimension in tokens[::2]:
        if not (dimension.isascii() and dimension.isdigit()) or len(dimension) > 9:
            return (
                "a dimension in the object list is not a number",
                '{dimension "object" …} with whole-number dimensions',
            )
    return None
