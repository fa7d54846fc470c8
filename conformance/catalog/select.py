"""Choosing cases: by profile, and by a `-k` expression over ids and tags.

`-k` takes words joined by `and`, `or`, `not` and parentheses, as pytest's
does: a word matches a case when it is a substring of the case id or equals
one of its tags. An expression that is exactly one case's id selects that case
alone (the rerun commands of the reports rely on it).
"""

import re

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
MAX_TOKENS = 200


class KeywordError(ValueError):
    pass


def select(cases, keyword=None, profile=None):
    """(chosen cases, {reason: count of cases left out})."""
    chosen, deselected = [], {"profile": 0, "keyword": 0}
    matcher = compile_keyword(keyword) if keyword else None
    if keyword and any(case.id == keyword.strip() for case in cases):
        matcher = lambda case: case.id == keyword.strip()  # noqa: E731 - an exact id selects that case alone
    for case in cases:
        if profile and profile not in case.profiles:
            deselected["profile"] += 1
        elif matcher and not matcher(case):
            deselected["keyword"] += 1
        else:
            chosen.append(case)
    return chosen, deselected


def compile_keyword(expression):
    tokens = _TOKEN.findall(expression)
    if not tokens:
        raise KeywordError("-k needs an expression")
    if len(tokens) > MAX_TOKENS:  # the parser and the matcher it builds recurse once a token at most
        raise KeywordError(f"-k: more than {MAX_TOKENS} words and parentheses")
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def parse_or():
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda c: a(c) or b(c))(left, right)
        return left

    def parse_and():
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda c: a(c) and b(c))(left, right)
        return left

    def parse_not():
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda c: not inner(c)
        return parse_atom()

    def parse_atom():
        token = peek()
        if token is None:
            raise KeywordError(f"-k {expression!r}: the expression ends too early")
        if token == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise KeywordError(f"-k {expression!r}: a parenthesis is not closed")
            take()
            return inner
        if token in (")", "and", "or"):
            raise KeywordError(f"-k {expression!r}: unexpected {token!r}")
        word = take()
        return lambda c: word in c.id or word in c.tags

    matcher = parse_or()
    if position != len(tokens):
        raise KeywordError(f"-k {expression!r}: unexpected {tokens[position]!r}")
    return matcher
