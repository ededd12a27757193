"""The crm configure language: parse, render, verify and merge Pacemaker configurations.

Role: operators who know crmsh type `crm configure` text; this module turns that text into the
configuration model (`parse_configuration`), prints a model back in crmsh's `configure show`
layout (`render_configuration`, `render_statements`), lists semantic problems one line each
(`verify`), and gives `configure load update` / `load replace` / `delete` semantics as pure
functions (`merge_update`, `merge_replace`, `load_configuration`, `delete_objects`).

Invariants:
- Pure: text in, data out; no I/O, clock or randomness.
- Syntax errors raise CrmSyntaxError naming line, column and the problem; arbitrary text
  raises nothing else. Input size, token count and expression nesting are bounded.
- parse_configuration(render_configuration(c)) == c, except for what crm syntax cannot
  carry: ids of rule expressions, nested rules and fencing levels (regenerated in crmsh's
  scheme), fencing level numbers (1, 2... per target), the score of a nested rule and the
  boolean operator of a one-term rule (both meaningless), and a location rule without a
  score (written `0:`, Pacemaker's reading). Every other id the model holds can be written
  and is rendered only when it differs from the id the parser would generate in that place
  (crmsh's scheme: `rsc-monitor-10s`, `loc-rule`, `loc-rule-expression`, `order-0`...).
- Names are kept as written: Master/Slave and Promoted/Unpromoted roles, master-max and
  promoted-max, stonith-* and fencing-* properties reach the model unchanged; the scheduler
  reads either spelling.

Extensions over crmsh 4.4 (whose syntax is accepted for every object the model holds;
alert and ACL statements are refused as unknown): `{ A B attr=value }` is an
explicit resource set in colocation, order and rsc_ticket constraints (no implied
attributes), `_rsc_set_` also separates two adjacent plain sets, parentheses nest rule
expressions, `$id=` names a set inside a bracket, and order scores are kept as scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from raftha.model.config import (
    AttributeSet,
    Clone,
    ColocationConstraint,
    Configuration,
    Constraint,
    DateExpression,
    Expression,
    FencingLevel,
    Group,
    LocationConstraint,
    Node,
    Operation,
    OperationExpression,
    OrderConstraint,
    Pairs,
    Primitive,
    Resource,
    ResourceExpression,
    ResourceSet,
    Rule,
    Tag,
    Template,
    TicketConstraint,
    constraint_resources,
    constraint_simple_resources,
    normalize_role,
    pairs_get,
    walk_resource,
)

MAX_TEXT_CHARACTERS = 16 * 1024 * 1024
MAX_TOKENS = 2_000_000
MAX_NESTING_DEPTH = 32

ROLE_SPELLINGS = ("Stopped", "Started", "Unpromoted", "Promoted", "Slave", "Master")
ACTION_NAMES = ("start", "stop", "promote", "demote")
ORDER_KINDS = ("Mandatory", "Optional", "Serialize")
BINARY_OPERATIONS = ("lt", "gt", "lte", "gte", "eq", "ne")
UNARY_OPERATIONS = ("defined", "not_defined")
VALUE_TYPES = ("string", "integer", "number", "version")
DATE_SPEC_FIELDS = ("hours", "monthdays", "weekdays", "yeardays", "yearsdays", "months",
                    "weeks", "years", "weekyears", "moon", "minutes", "seconds", "days")
RESOURCE_SET_ATTRIBUTES = ("sequential", "require-all", "ordered", "role", "action", "score",
                           "kind", "$id", "id")
OPERATION_FIELDS = ("interval", "timeout", "role", "on-fail", "enabled", "id", "$id")
STATEMENT_KEYWORDS = (
    "node", "primitive", "rsc_template", "group", "clone", "ms", "master", "promotable",
    "location", "colocation", "collocation", "order", "rsc_ticket", "property",
    "rsc_defaults", "op_defaults", "fencing_topology", "fencing-topology", "tag",
)
RESERVED_WORDS = frozenset(
    ("and", "or", "rule", "date", "defined", "not_defined", "op", "params", "meta",
     "utilization", "attributes", "op_params", "op_meta", "_rsc_set_", "resource")
)
_SCORE_PATTERN = re.compile(r"[+-]?(\d+|inf|infinity)", re.IGNORECASE)
_SAFE_WORD = re.compile(r"[A-Za-z0-9_.+\-@%,#]+")
_VALUE_SOURCE = re.compile(r"([^\s{}]+)\{(\S+)\}")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_OPENING = {closing: opening for opening, closing in _BRACKETS.items()}


class CrmSyntaxError(ValueError):
    """Text that is not valid crm configure syntax; the message names line and column."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.problem = message
        self.line = line
        self.column = column


# ---------------------------------------------------------------- lexer


@dataclass(frozen=True)
class Token:
    """One word of a statement. `quoted` is true when any part was quoted or escaped;
    `equals` is the index of the first unquoted '=' (or -1); `colons` are the indexes of
    unquoted ':' characters."""

    text: str
    line: int
    column: int
    quoted: bool = False
    equals: int = -1
    colons: tuple[int, ...] = ()

    def is_word(self, *words: str) -> bool:
        return not self.quoted and self.text.lower() in words

    @property
    def is_pair(self) -> bool:
        return self.equals > 0

    @property
    def key(self) -> str:
        return self.text[: self.equals]

    @property
    def value(self) -> str:
        return self.text[self.equals + 1:]

    @property
    def ends_with_colon(self) -> bool:
        return bool(self.colons) and self.colons[-1] == len(self.text) - 1 and self.equals < 0

    @property
    def head(self) -> str:
        """The text before a trailing ':' (for `score:` and `id:` tokens)."""
        return self.text[:-1] if self.ends_with_colon else self.text


@dataclass(frozen=True)
class Statement:
    tokens: tuple[Token, ...]
    end_line: int
    end_column: int


def _split_brackets(token: Token) -> list[Token]:
    """Unquoted brackets glued to a word become words of their own ("(A" -> "(", "A")."""
    text = token.text
    if token.quoted or len(text) < 2 or token.equals >= 0 or text.startswith("/"):
        return [token]
    if text[0] in "([{" and _BRACKETS[text[0]] not in text:
        rest = Token(text[1:], token.line, token.column + 1, False, -1,
                     tuple(index - 1 for index in token.colons))
        return [Token(text[0], token.line, token.column), *_split_brackets(rest)]
    if text[-1] in ")]}" and _OPENING[text[-1]] not in text:
        rest = Token(text[:-1], token.line, token.column, False, -1,
                     tuple(index for index in token.colons if index < len(text) - 1))
        return [*_split_brackets(rest), Token(text[-1], token.line, token.column + len(text) - 1)]
    return [token]


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
_BLANKS = re.compile(r"[ \t\f\v]*")
# A word without quotes or backslashes, read in one step (the common case).
_PLAIN_WORD = re.compile(r"[^ \t\f\v\"'\\]+(?=[ \t\f\v]|\Z)")


class _Lexer:
    """Splits text into statements: one per logical line (backslash continues a line),
    comment lines start with '#', words are separated by blanks, quotes group words."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.statements: list[Statement] = []
        self.current: list[Token] = []
        self.token_count = 0

    def run(self) -> list[Statement]:
        lines = self.text.split("\n")
        continuing = False
        line_number = 0
        for line_number, raw_line in enumerate(lines, start=1):
            line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
            stripped = line.strip()
            if not continuing:
                self._flush()
                if not stripped or stripped.startswith("#"):
                    continue
            continuing = self._scan_line(line, line_number)
        self._flush()
        return self.statements

    def _flush(self) -> None:
        if self.current:
            last = self.current[-1]
            self.statements.append(Statement(tuple(self.current), last.line,
                                             last.column + max(len(last.text), 1)))
            self.current = []

    def _add(self, token: Token) -> None:
        for piece in _split_brackets(token):
            self.token_count += 1
            if self.token_count > MAX_TOKENS:
                raise CrmSyntaxError(f"more than {MAX_TOKENS} words", token.line, token.column)
            self.current.append(piece)

    def _scan_line(self, line: str, line_number: int) -> bool:
        """Scan one physical line; returns True when it ends with a continuation."""
        position = 0
        length = len(line)
        while position < length:
            position = _BLANKS.match(line, position).end()  # type: ignore[union-attr]
            if position >= length:
                break
            char = line[position]
            if char == "\\" and line[position + 1:].strip() == "":
                return True
            start = position
            plain = _PLAIN_WORD.match(line, position)
            if plain is not None:
                text = plain.group(0)
                position = plain.end()
                colons = tuple(index for index, char in enumerate(text) if char == ":")
                self._add(Token(text, line_number, start + 1, False, text.find("="), colons))
                continue
            characters: list[str] = []
            quoted_flags: list[bool] = []
            any_quote = False
            while position < length and line[position] not in " \t\f\v":
                char = line[position]
                if char in "\"'":
                    quote = char
                    quote_column = position + 1
                    any_quote = True
                    position += 1
                    while True:
                        if position >= length:
                            raise CrmSyntaxError(f"unterminated {quote} quote", line_number,
                                                 quote_column)
                        char = line[position]
                        if char == quote:
                            position += 1
                            break
                        if quote == '"' and char == "\\" and position + 1 < length:
                            following = line[position + 1]
                            if following in _ESCAPES:
                                characters.append(_ESCAPES[following])
                                quoted_flags.append(True)
                                position += 2
                                continue
                        characters.append(char)
                        quoted_flags.append(True)
                        position += 1
                    continue
                if char == "\\":
                    if line[position + 1:].strip() == "":
                        break
                    any_quote = True
                    characters.append(line[position + 1])
                    quoted_flags.append(True)
                    position += 2
                    continue
                characters.append(char)
                quoted_flags.append(False)
                position += 1
            text = "".join(characters)
            flagged = list(enumerate(zip(characters, quoted_flags, strict=True)))
            equals = next((index for index, (c, q) in flagged if c == "=" and not q), -1)
            colons = tuple(index for index, (c, q) in flagged if c == ":" and not q)
            self._add(Token(text, line_number, start + 1, any_quote, equals, colons))
        return False


def tokenize(text: str) -> list[Statement]:
    """The statements of a crm configure text (comments and continuations resolved)."""
    if len(text) > MAX_TEXT_CHARACTERS:
        raise CrmSyntaxError(f"text is longer than {MAX_TEXT_CHARACTERS} characters", 1, 1)
    return _Lexer(text).run()


# ---------------------------------------------------------------- generated ids


def unique_id(base: str, used: set[str]) -> str:
    """crmsh's scheme: `base`, then `base-0`, `base-1`... skipping ids already used."""
    if base not in used:
        return base
    counter = 0
    while f"{base}-{counter}" in used:
        counter += 1
    return f"{base}-{counter}"


def operation_id_base(resource_id: str, operation: Operation) -> str:
    return f"{resource_id}-{operation.name}-{operation.interval}"


def _set_kind_name(kind: str) -> str:
    return {"params": "instance_attributes", "meta": "meta_attributes"}.get(kind, kind)


def _assign_term_ids(rule: Rule) -> Rule:
    """Ids of expressions and nested rules, which the syntax cannot name: generated from the
    rule's id like crmsh does (`r-expression`, `r-expression-0`, nested `r-rule`)."""
    used: set[str] = set()
    terms = []
    for term in rule.terms:
        base = f"{rule.id}-rule" if isinstance(term, Rule) else f"{rule.id}-expression"
        term_id = unique_id(base, used)
        used.add(term_id)
        term = replace(term, id=term_id)
        if isinstance(term, Rule):
            term = _assign_term_ids(term)
        terms.append(term)
    return replace(rule, terms=tuple(terms))


# ---------------------------------------------------------------- statement reader


class _Reader:
    """A cursor over the tokens of one statement, with error helpers."""

    def __init__(self, statement: Statement, what: str) -> None:
        self.tokens = statement.tokens
        self.statement = statement
        self.position = 0
        self.what = what

    def at_end(self) -> bool:
        return self.position >= len(self.tokens)

    def take_leading_id(self, colon_form: bool = True) -> str | None:
        """`$id=ID` (or, with colon_form, `ID:`) at the cursor: the id, consumed; else None."""
        token = self.peek()
        if token is not None and token.is_pair and token.key == "$id":
            self.position += 1
            return token.value
        if colon_form and token is not None and token.ends_with_colon:
            self.position += 1
            return token.head
        return None

    def take_score_head(self) -> str | None:
        """An unquoted `SCORE:` at the cursor: the score, consumed; else None. Another word
        before ':' is an error."""
        token = self.peek()
        if token is None or not token.ends_with_colon or token.quoted:
            return None
        if not _is_score(token.head):
            self.fail(token, f"expected a score before ':' in {self.what}, found "
                             f"{token.head!r}")
        self.position += 1
        return parse_score(token.head)

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            self.fail_at_end(f"expected {expected} in {self.what}")
        self.position += 1
        return token  # type: ignore[return-value]

    def take_word(self, *words: str) -> Token | None:
        token = self.peek()
        if token is not None and token.is_word(*words):
            self.position += 1
            return token
        return None

    def fail(self, token: Token, message: str) -> None:
        raise CrmSyntaxError(message, token.line, token.column)

    def fail_at_end(self, message: str) -> None:
        raise CrmSyntaxError(message, self.statement.end_line, self.statement.end_column)

    def identifier(self, expected: str) -> Token:
        token = self.next(expected)
        structural = token.is_pair or token.text in _BRACKETS or token.text in ")]}"
        if not token.quoted and (structural or token.text == ""):
            self.fail(token, f"expected {expected} in {self.what}, found {token.text!r}")
        return token


def _is_score(text: str) -> bool:
    return _SCORE_PATTERN.fullmatch(text) is not None


def parse_score(text: str) -> str:
    """crmsh's score spelling to the CIB's: `inf` -> INFINITY; anything else as written."""
    match = re.fullmatch(r"([+-]?)(inf|INF)", text)
    if match:
        return f"{match.group(1)}INFINITY"
    return text


def render_score(score: str) -> str:
    match = re.fullmatch(r"([+-]?)INFINITY", score)
    if match:
        return f"{match.group(1)}inf"
    return score


def _truth(value: str) -> bool:
    return value.strip().lower() in ("true", "yes", "on", "y", "1")


def _statement_reader(statement: Statement, keyword: str,
                      id_description: str) -> tuple[_Reader, Token]:
    """A reader past `KEYWORD ID` of a statement, naming it `KEYWORD ID` in errors, and the
    id's token."""
    reader = _Reader(statement, keyword)
    reader.position = 1
    identifier = reader.identifier(id_description)
    reader.what = f"{keyword} {identifier.text}"
    return reader, identifier


def _boolean(reader: _Reader, token: Token) -> bool:
    value = token.value.strip().lower()
    if value in ("true", "yes", "on", "y", "1"):
        return True
    if value in ("false", "no", "off", "n", "0"):
        return False
    reader.fail(token, f"{token.key} must be true or false in {reader.what}, found "
                       f"{token.value!r}")
    return False


# ---------------------------------------------------------------- rules


def _parse_rule(reader: _Reader, rule_id_base: str, used_rule_ids: set[str],
                default_score: str | None, context: str) -> Rule:
    """`rule [$id=ID] [$role=ROLE|role=ROLE] [SCORE:] EXPRESSION` (keyword already read)."""
    rule_id = None
    role = None
    score = None
    score_attribute = None
    while True:
        token = reader.peek()
        if token is None:
            break
        if token.is_pair and token.key == "$id" and rule_id is None:
            rule_id = token.value
        elif token.is_pair and token.key in ("$role", "role") and role is None:
            role = token.value
        else:
            break
        reader.position += 1
    token = reader.peek()
    if token is not None and token.ends_with_colon and not token.quoted:
        reader.position += 1
        head = token.head
        if _is_score(head):
            score = parse_score(head)
        elif head:
            score_attribute = head
        else:
            reader.fail(token, f"expected a score before ':' in {reader.what}")
    elif token is not None and token.ends_with_colon:
        reader.position += 1
        score_attribute = token.head
    if score is None and score_attribute is None:
        score = default_score
    if rule_id is None:
        rule_id = unique_id(rule_id_base, used_rule_ids)
    used_rule_ids.add(rule_id)
    boolean_op, terms = _parse_expression(reader, 0, context)
    rule = Rule(terms=tuple(terms), boolean_op=boolean_op, score=score,
                score_attribute=score_attribute, role=role, id=rule_id)
    return _assign_term_ids(rule)


def _expression_may_start(token: Token | None, context: str) -> bool:
    if token is None:
        return False
    if token.is_word("op") and context == "defaults":
        return True
    if token.is_word("rule", "op", "params", "meta", "utilization", "attributes"):
        return False
    if token.is_pair:
        return False
    if not token.quoted and token.text in (")", "]", "}"):
        return False
    return True


def _parse_expression(reader: _Reader, depth: int, context: str
                      ) -> tuple[str, list]:
    if depth > MAX_NESTING_DEPTH:
        token = reader.peek() or reader.tokens[-1]
        reader.fail(token, f"rule expressions nested deeper than {MAX_NESTING_DEPTH} in "
                           f"{reader.what}")
    terms: list = []
    boolean_op: str | None = None
    if not _expression_may_start(reader.peek(), context):
        return "and", terms
    terms.append(_parse_term(reader, depth, context))
    while True:
        token = reader.peek()
        if token is None or not token.is_word("and", "or"):
            break
        operator = token.text.lower()
        if boolean_op is not None and operator != boolean_op.lower():
            reader.fail(token, f"mixing 'and' and 'or' needs parentheses in {reader.what}")
        if boolean_op is None:
            boolean_op = token.text
        reader.position += 1
        terms.append(_parse_term(reader, depth, context))
    return boolean_op or "and", terms


def _parse_term(reader: _Reader, depth: int, context: str):
    token = reader.next("an expression")
    if not token.quoted and token.text == "(":
        boolean_op, terms = _parse_expression(reader, depth + 1, context)
        closing = reader.next("')' closing the expression")
        if closing.quoted or closing.text != ")":
            reader.fail(closing, f"expected ')' closing the expression in {reader.what}")
        return Rule(terms=tuple(terms), boolean_op=boolean_op)
    if token.is_word("date"):
        return _parse_date(reader)
    if context == "defaults" and token.is_word("resource"):
        return _parse_resource_expression(reader)
    if context == "defaults" and token.is_word("op"):
        name = reader.identifier("an operation name after op")
        interval = None
        following = reader.peek()
        if following is not None and following.is_pair and following.key == "interval":
            interval = following.value
            reader.position += 1
        return OperationExpression(name=name.text, interval=interval)
    if token.is_word(*UNARY_OPERATIONS):
        attribute = reader.identifier(f"an attribute name after {token.text}")
        return Expression(attribute=attribute.text, operation=token.text)
    if token.is_pair or (not token.quoted and token.text in ")]}"):
        reader.fail(token, f"expected an expression in {reader.what}, found {token.text!r}")
    operation_token = reader.next(f"an operation after attribute {token.text}")
    value_type = None
    operation = operation_token.text
    if not operation_token.quoted and operation_token.colons:
        split = operation_token.colons[0]
        value_type, operation = operation[:split], operation[split + 1:]
        if value_type.lower() not in VALUE_TYPES:
            reader.fail(operation_token, f"unknown value type {value_type!r} in "
                                         f"{reader.what} (string, integer, number, version)")
    if operation_token.quoted or operation.lower() not in BINARY_OPERATIONS:
        reader.fail(operation_token, f"expected one of {', '.join(BINARY_OPERATIONS)} after "
                                     f"attribute {token.text} in {reader.what}, found "
                                     f"{operation_token.text!r}")
    value_token = reader.next(f"a value after {operation}")
    value = value_token.text
    value_source = "literal"
    if not value_token.quoted:
        match = _VALUE_SOURCE.fullmatch(value)
        if match:
            value_source, value = match.group(1), match.group(2)
    return Expression(attribute=token.text, operation=operation, value=value,
                      value_type=value_type, value_source=value_source)


def _parse_resource_expression(reader: _Reader) -> ResourceExpression:
    """`resource CLASS:PROVIDER:TYPE` with empty parts for "any" (pcs's rule syntax)."""
    token = reader.identifier("an agent after resource")
    cuts = [-1, *token.colons[:2], len(token.text)]
    parts = [token.text[cuts[index] + 1:cuts[index + 1]] for index in range(len(cuts) - 1)]
    if len(parts) == 1:
        parts = ["", "", parts[0]]
    elif len(parts) == 2:
        parts = [parts[0], "", parts[1]]
    agent_class, provider, agent_type = (part or None for part in parts)
    return ResourceExpression(agent_class=agent_class, provider=provider,
                              agent_type=agent_type)


def _parse_date(reader: _Reader) -> DateExpression:
    operation_token = reader.next("a date operation (gt, lt, in, spec)")
    operation = operation_token.text.lower()
    operation = {"in": "in_range", "spec": "date_spec"}.get(operation, operation)
    if operation_token.quoted or operation not in ("gt", "lt", "in_range", "date_spec"):
        reader.fail(operation_token, f"expected gt, lt, in_range or date_spec after date in "
                                     f"{reader.what}, found {operation_token.text!r}")
    start = end = None
    fields: list[tuple[str, str]] = []
    token = reader.peek()
    if operation in ("gt", "lt") and token is not None and not token.is_pair:
        reader.position += 1
        if operation == "gt":
            start = token.text
        else:
            end = token.text
        return DateExpression(operation=operation, start=start, end=end)
    while True:
        token = reader.peek()
        if token is None or not token.is_pair:
            break
        key = token.key
        if key == "start":
            start = token.value
        elif key == "end":
            end = token.value
        elif key in DATE_SPEC_FIELDS:
            fields.append((key, token.value))
        else:
            break
        reader.position += 1
    if operation == "date_spec":
        return DateExpression(operation=operation, start=start, end=end,
                              date_spec=tuple(fields))
    return DateExpression(operation=operation, start=start, end=end, duration=tuple(fields))


# ---------------------------------------------------------------- attribute lists


_SECTION_WORDS = ("op", "params", "meta", "utilization", "attributes", "operations", "rule",
                  "op_params", "op_meta")


def _parse_pairs(reader: _Reader) -> list[tuple[str, str]]:
    """`name=value` words; a bare name (crmsh prints an nvpair without a value so) has the
    empty value."""
    pairs = []
    while True:
        token = reader.peek()
        if token is None:
            break
        if token.is_pair and not token.key.startswith("$"):
            pairs.append((token.key, token.value))
        elif (not token.quoted and token.equals < 0 and not token.ends_with_colon
              and token.text and not token.text.startswith(("$", "@"))
              and token.text.lower() not in _SECTION_WORDS
              and token.text not in _BRACKETS and token.text not in ")]}"):
            pairs.append((token.text, ""))
        else:
            break
        reader.position += 1
    return pairs


@dataclass
class _AttributeList:
    pairs: list[tuple[str, str]]
    attribute_set: AttributeSet | None  # set when the list has a rule


def _parse_attribute_list(reader: _Reader, set_id_base: str, used_set_ids: set[str],
                          leading_set_id: bool = False) -> _AttributeList:
    """`[$id=ID | ID:] [SCORE:] [rule ...] name=value...`; lists without score and rule are
    plain pairs (the model keeps no id for them, like the CIB importer); a score or a rule
    makes an attribute set of its own."""
    set_id = reader.take_leading_id(colon_form=leading_set_id)
    score = reader.take_score_head()
    rule = None
    if reader.take_word("rule"):
        if set_id is None:
            set_id = unique_id(set_id_base, used_set_ids)
        rule = _parse_rule(reader, f"{set_id}-rule", set(), None, "attributes")
    pairs = _parse_pairs(reader)
    if rule is None and score is None:
        if set_id is not None:
            used_set_ids.add(set_id)
        return _AttributeList(pairs, None)
    if set_id is None:
        set_id = unique_id(set_id_base, used_set_ids)
    used_set_ids.add(set_id)
    return _AttributeList(pairs, AttributeSet(values=tuple(pairs), rule=rule, score=score,
                                              id=set_id))


# ---------------------------------------------------------------- resources


@dataclass
class _Definition:
    """A resource statement before groups and clones are assembled."""

    kind: str  # primitive | group | clone
    resource_id: str
    token: Token
    order: int
    primitive: Primitive | None = None
    children: tuple[Token, ...] = ()
    meta: Pairs = ()
    promotable: bool = False


def _parse_agent(reader: _Reader) -> tuple[str, str | None, str, str | None]:
    """(class, provider, type, template) from `class:provider:type`, `class:type`, a bare
    type (ocf:heartbeat:type, as crmsh infers) or `@template`."""
    token = reader.identifier("an agent (class:provider:type)")
    text = token.text
    if text.startswith("@"):
        return "", None, "", text[1:]
    if not token.colons:
        return "ocf", "heartbeat", text, None
    parts = []
    previous = 0
    for index in token.colons[:2]:
        parts.append(text[previous:index])
        previous = index + 1
    parts.append(text[previous:])
    if len(parts) == 2:
        agent_class, agent_type = parts
        provider = "heartbeat" if agent_class == "ocf" else None
        return agent_class, provider, agent_type, None
    agent_class, provider, agent_type = parts
    return agent_class, provider or None, agent_type, None


def _parse_operation(reader: _Reader, resource_id: str, used: set[str]) -> Operation:
    name = reader.identifier("an operation name after op")
    fields: dict[str, str] = {}
    extra: dict[str, str] = {}
    while True:
        token = reader.peek()
        if token is None:
            break
        if token.is_word("op_params", "op_meta"):
            reader.position += 1
            continue
        if not token.is_pair:
            break
        reader.position += 1
        if token.key in OPERATION_FIELDS:
            fields["id" if token.key == "$id" else token.key] = token.value
        else:
            extra[token.key] = token.value
    enabled = True
    if "enabled" in fields:
        enabled = _truth(fields["enabled"])
    operation = Operation(
        name=name.text, interval=fields.get("interval", "0"), timeout=fields.get("timeout"),
        role=fields.get("role"), on_fail=fields.get("on-fail"), enabled=enabled,
        attributes=tuple(sorted(extra.items())),
    )
    operation_id = fields.get("id")
    if operation_id is None:
        operation_id = unique_id(operation_id_base(resource_id, operation), used)
    used.add(operation_id)
    return replace(operation, id=operation_id)


def _parse_primitive_body(reader: _Reader, resource_id: str) -> dict:
    params: list[tuple[str, str]] = []
    meta: list[tuple[str, str]] = []
    utilization: list[tuple[str, str]] = []
    conditional: list[tuple[str, AttributeSet]] = []
    operations: list[Operation] = []
    used_set_ids: set[str] = set()
    used_operation_ids: set[str] = set()
    references: dict[str, Token] = {}
    first = True
    while not reader.at_end():
        token = reader.peek()
        assert token is not None
        if token.is_pair and token.key == "description":
            reader.position += 1
            continue
        if token.is_word("operations"):
            # crmsh names the operation list (`operations $id=X`) so that another primitive
            # can share it (`operations $id-ref=X`); the model copies shared operations.
            reader.position += 1
            following = reader.peek()
            if following is not None and following.is_pair and following.key in (
                    "$id", "$id-ref"):
                reader.position += 1
                references["id" if following.key == "$id" else "reference"] = following
            continue
        if token.is_word("op"):
            reader.position += 1
            operations.append(_parse_operation(reader, resource_id, used_operation_ids))
        elif token.is_word("params", "meta", "utilization") or (first and token.is_pair):
            kind = "params"
            if token.is_word("params", "meta", "utilization"):
                kind = token.text.lower()
                reader.position += 1
            attribute_list = _parse_attribute_list(
                reader, f"{resource_id}-{_set_kind_name(kind)}", used_set_ids)
            if attribute_list.attribute_set is not None:
                conditional.append((kind, attribute_list.attribute_set))
            else:
                {"params": params, "meta": meta, "utilization": utilization}[kind].extend(
                    attribute_list.pairs)
        else:
            reader.fail(token, f"unexpected {token.text!r} in {reader.what} (expected params, "
                               f"meta, utilization or op)")
        first = False
    return {"params": tuple(params), "meta": tuple(meta), "utilization": tuple(utilization),
            "operation_references": references,
            "operations": tuple(operations), "conditional_sets": tuple(conditional)}


def _parse_meta_only(reader: _Reader) -> Pairs:
    """Meta attributes of a group or clone. `params` lists are read and dropped: the model
    (like Pacemaker's scheduler) gives containers no instance attributes."""
    meta: list[tuple[str, str]] = []
    while not reader.at_end():
        token = reader.peek()
        assert token is not None
        if token.is_word("params"):
            reader.position += 1
            _parse_attribute_list(reader, "", set())
        elif token.is_word("meta"):
            reader.position += 1
            attribute_list = _parse_attribute_list(reader, "", set())
            if attribute_list.attribute_set is not None:
                reader.fail(token, f"scored or rule-guarded meta attributes are not supported in "
                                   f"{reader.what}")
            meta.extend(attribute_list.pairs)
        elif token.is_pair and token.key == "description":
            reader.position += 1
        else:
            reader.fail(token, f"unexpected {token.text!r} in {reader.what} (expected meta "
                               f"or params)")
    return tuple(meta)


# ---------------------------------------------------------------- resource sets


@dataclass
class _SetItems:
    """Constraint members: either exactly a plain pair/single (`simple`) or sets."""

    simple: list[tuple[str, str | None]]
    sets: list[ResourceSet]
    uses_sets: bool


def _trailing_attributes(reader: _Reader, text_keys: tuple[str, ...],
                         boolean_keys: tuple[str, ...]) -> dict[str, str | bool]:
    """The name=value attributes that end a constraint statement (the last of a name
    wins); any other word there is an error."""
    values: dict[str, str | bool] = {}
    while not reader.at_end():
        token = reader.next("an attribute")
        if token.is_pair and token.key in text_keys:
            values[token.key] = token.value
        elif token.is_pair and token.key in boolean_keys:
            values[token.key] = _boolean(reader, token)
        else:
            reader.fail(token, f"unexpected {token.text!r} in {reader.what}")
    return values


def _simple_items(reader: _Reader, items: _SetItems, count: int,
                  token: Token) -> list[tuple[str, str | None]]:
    """The plain members of a constraint without sets, which must be `count` of them."""
    if len(items.simple) != count:
        needs = "two resources" if count == 2 else "one resource"
        reader.fail(token, f"{reader.what} needs {needs} (or resource sets), found "
                           f"{len(items.simple)}")
    return items.simple


def _split_suffix(reader: _Reader, token: Token, suffix_kind: str) -> tuple[str, str | None]:
    if not token.colons:
        return token.text, None
    index = token.colons[0]
    name, suffix = token.text[:index], token.text[index + 1:]
    if not name or not suffix:
        reader.fail(token, f"expected RESOURCE:{suffix_kind.upper()} in {reader.what}, found "
                           f"{token.text!r}")
    if suffix_kind == "role" and normalize_role(suffix) is None:
        reader.fail(token, f"unknown role {suffix!r} in {reader.what} (Started, Stopped, "
                           f"Promoted, Unpromoted, Master, Slave)")
    if suffix_kind == "action" and suffix.lower() not in ACTION_NAMES:
        reader.fail(token, f"unknown action {suffix!r} in {reader.what} (start, stop, "
                           f"promote, demote)")
    return name, suffix


def _parse_set_items(reader: _Reader, suffix_kind: str, stop_keys: tuple[str, ...],
                     constraint_id: str, simple_count: int) -> _SetItems:
    """Members of a colocation/order/ticket: plain runs split where the role/action changes,
    `( )` sequential=false, `[ ]` sequential=false require-all=false, `{ }` explicit."""
    entries: list[tuple[str, object]] = []  # ("plain", (name, suffix)) | ("set", ResourceSet)
    uses_sets = False
    while True:
        token = reader.peek()
        if token is None:
            break
        if token.is_pair and token.key in stop_keys:
            break
        if token.is_word("_rsc_set_"):
            reader.position += 1
            uses_sets = True
            entries.append(("break", None))
            continue
        if not token.quoted and token.text in _BRACKETS:
            reader.position += 1
            uses_sets = True
            entries.append(("set", _parse_bracket_set(reader, token, suffix_kind)))
            continue
        if not token.quoted and token.text in _BRACKETS.values():
            reader.fail(token, f"unmatched {token.text!r} in {reader.what}")
        if token.is_pair:
            reader.fail(token, f"unexpected {token.text!r} in {reader.what}")
        reader.position += 1
        entries.append(("plain", _split_suffix(reader, token, suffix_kind)))
    plain = [entry[1] for entry in entries if entry[0] == "plain"]
    if not uses_sets and plain and len(plain) != simple_count:
        uses_sets = True
    if not uses_sets:
        return _SetItems(simple=plain, sets=[], uses_sets=False)  # type: ignore[arg-type]
    sets: list[ResourceSet] = []
    run: list[str] = []
    run_suffix: str | None = None

    def close_run() -> None:
        nonlocal run
        if run:
            sets.append(ResourceSet(resources=tuple(run), **_suffix_field(suffix_kind,
                                                                          run_suffix)))
            run = []

    for kind, value in entries:
        if kind == "plain":
            name, suffix = value  # type: ignore[misc]
            if run and suffix != run_suffix:
                close_run()
            run_suffix = suffix
            run.append(name)
        elif kind == "break":
            close_run()
        else:
            close_run()
            sets.append(value)  # type: ignore[arg-type]
    close_run()
    sets = [resource_set if resource_set.id else replace(resource_set,
                                                         id=f"{constraint_id}-{index}")
            for index, resource_set in enumerate(sets)]
    return _SetItems(simple=[], sets=sets, uses_sets=True)


def _suffix_field(suffix_kind: str, suffix: str | None) -> dict:
    return {suffix_kind: suffix} if suffix is not None else {}


def _parse_bracket_set(reader: _Reader, opening: Token, suffix_kind: str) -> ResourceSet:
    closing_text = _BRACKETS[opening.text]
    attributes: dict = {}
    if opening.text in "([":
        attributes["sequential"] = False
    if opening.text == "[":
        attributes["require_all"] = False
    members: list[str] = []
    suffix: str | None = None
    have_suffix = False
    while True:
        token = reader.peek()
        if token is None:
            reader.fail(opening, f"unclosed {opening.text!r} in {reader.what}")
        assert token is not None
        reader.position += 1
        if not token.quoted and token.text == closing_text:
            break
        if not token.quoted and (token.text in _BRACKETS or token.text in _BRACKETS.values()):
            reader.fail(token, f"unexpected {token.text!r} inside a resource set in "
                               f"{reader.what}")
        if token.is_pair:
            key = token.key
            if key not in RESOURCE_SET_ATTRIBUTES:
                reader.fail(token, f"unknown resource set attribute {key!r} in {reader.what}")
            if key in ("sequential", "require-all", "ordered"):
                attributes[key.replace("-", "_")] = _boolean(reader, token)
            elif key in ("$id", "id"):
                attributes["id"] = token.value
            else:
                attributes[key] = token.value
            continue
        name, member_suffix = _split_suffix(reader, token, suffix_kind)
        if have_suffix and member_suffix != suffix:
            reader.fail(token, f"one resource set cannot mix {suffix_kind}s ({suffix} and "
                               f"{member_suffix}) in {reader.what}")
        suffix, have_suffix = member_suffix, True
        members.append(name)
    if suffix is not None:
        attributes[suffix_kind] = suffix
    return ResourceSet(resources=tuple(members), **attributes)


# ---------------------------------------------------------------- the parser


class _Parser:
    def __init__(self, base: Configuration | None) -> None:
        self.base = base
        self.definitions: dict[str, _Definition] = {}
        self.definition_order: list[_Definition] = []
        self.nodes: list[Node] = []
        self.templates: list[Template] = []
        self.constraints: list[Constraint] = []
        self.properties: list[tuple[str, str]] = []
        self.conditional_properties: list[AttributeSet] = []
        self.rsc_defaults: list[AttributeSet] = []
        self.op_defaults: list[AttributeSet] = []
        self.fencing_levels: list[tuple[str, object, tuple[str, ...], Token]] = []
        self.fencing_token: Token | None = None
        self.tags: list[Tag] = []
        self._handlers: dict | None = None
        self.operation_lists: dict[str, str] = {}
        self.operation_references: list[tuple[str, Token]] = []

    def parse(self, text: str) -> Configuration:
        for statement in tokenize(text):
            self.statement(statement)
        return self.assemble()

    def statement(self, statement: Statement) -> None:
        keyword = statement.tokens[0]
        word = keyword.text.lower() if not keyword.quoted else ""
        if word not in STATEMENT_KEYWORDS:
            raise CrmSyntaxError(f"unknown statement {keyword.text!r} (expected node, "
                                 f"primitive, group, clone, ms, location, colocation, order, "
                                 f"property, rsc_defaults, op_defaults, fencing_topology, tag "
                                 f"...)", keyword.line, keyword.column)
        handler = self.handlers[word]
        handler(word, statement)

    @property
    def handlers(self) -> dict:
        if self._handlers is None:
            self._handlers = self._handler_table()
        return self._handlers

    def _handler_table(self) -> dict:
        return {
            "node": self.node, "primitive": self.primitive, "rsc_template": self.template,
            "group": self.group, "clone": self.clone, "ms": self.clone, "master": self.clone,
            "promotable": self.clone, "location": self.location,
            "colocation": self.colocation, "collocation": self.colocation,
            "order": self.order, "rsc_ticket": self.ticket, "property": self.property,
            "rsc_defaults": self.defaults, "op_defaults": self.defaults,
            "fencing_topology": self.fencing, "fencing-topology": self.fencing,
            "tag": self.tag,
        }

    # ------------------------------------------------------------ resources

    def _define(self, definition: _Definition) -> None:
        existing = self.definitions.get(definition.resource_id)
        if existing is not None:
            token = definition.token
            raise CrmSyntaxError(f"{definition.kind} {definition.resource_id}: id already "
                                 f"defined by {existing.kind} on line {existing.token.line}",
                                 token.line, token.column)
        self.definitions[definition.resource_id] = definition
        self.definition_order.append(definition)

    def primitive(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "primitive", "a resource id")
        agent_class, provider, agent_type, template = _parse_agent(reader)
        body = _parse_primitive_body(reader, identifier.text)
        references = body.pop("operation_references")
        if "id" in references:
            self.operation_lists[references["id"].value] = identifier.text
        if "reference" in references:
            self.operation_references.append((identifier.text, references["reference"]))
        primitive = Primitive(id=identifier.text, agent_class=agent_class,
                              agent_type=agent_type, provider=provider, template=template,
                              **body)
        self._define(_Definition("primitive", identifier.text, identifier,
                                 len(self.definition_order), primitive=primitive))

    def template(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "rsc_template", "a template id")
        agent_class, provider, agent_type, template = _parse_agent(reader)
        if template is not None:
            reader.fail(identifier, f"{reader.what}: a template cannot use another template")
        body = _parse_primitive_body(reader, identifier.text)
        if body["conditional_sets"]:
            reader.fail(identifier, f"{reader.what}: rules in template attributes are not "
                                    f"supported")
        del body["conditional_sets"]
        del body["operation_references"]
        self.templates.append(Template(id=identifier.text, agent_class=agent_class,
                                       agent_type=agent_type, provider=provider, **body))

    def group(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "group", "a group id")
        members = []
        while not reader.at_end():
            token = reader.peek()
            assert token is not None
            if token.is_word("meta", "params") or token.is_pair:
                break
            members.append(reader.identifier("a member id"))
        if not members:
            reader.fail_at_end(f"expected at least one member in {reader.what}")
        meta = _parse_meta_only(reader)
        self._define(_Definition("group", identifier.text, identifier,
                                 len(self.definition_order), children=tuple(members),
                                 meta=meta))

    def clone(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, word, "a clone id")
        child = reader.identifier("the cloned resource id")
        meta = _parse_meta_only(reader)
        promotable = word in ("ms", "master", "promotable") or _truth(
            pairs_get(meta, "promotable", "false") or "false")
        self._define(_Definition("clone", identifier.text, identifier,
                                 len(self.definition_order), children=(child,), meta=meta,
                                 promotable=promotable))

    # ------------------------------------------------------------ assembly

    def resolve_operation_references(self) -> None:
        for resource_id, token in self.operation_references:
            source_id = self.operation_lists.get(token.value)
            source = self.definitions.get(source_id or "")
            if source is None or source.primitive is None:
                raise CrmSyntaxError(f"primitive {resource_id}: operations {token.value} are "
                                     f"not defined", token.line, token.column)
            definition = self.definitions[resource_id]
            assert definition.primitive is not None
            definition.primitive = replace(definition.primitive,
                                           operations=source.primitive.operations)

    def assemble(self) -> Configuration:
        self.resolve_operation_references()
        owner: dict[str, _Definition] = {}
        for definition in self.definition_order:
            for child in definition.children:
                previous = owner.get(child.text)
                if previous is not None:
                    raise CrmSyntaxError(
                        f"{definition.kind} {definition.resource_id}: {child.text} is already "
                        f"in {previous.kind} {previous.resource_id} (line "
                        f"{previous.token.line})", child.line, child.column)
                owner[child.text] = definition
        built: dict[str, Resource] = {}
        resources: list[Resource] = []
        for definition in self.definition_order:
            if definition.resource_id in owner:
                continue
            resources.append(self.build(definition, built, 0))
        self._check_unplaced_children(owner)
        nodes = tuple(self.nodes)
        return Configuration(
            properties=tuple(self.properties),
            nodes=nodes,
            resources=tuple(resources),
            constraints=tuple(self.constraints),
            rsc_defaults=tuple(self.rsc_defaults),
            op_defaults=tuple(self.op_defaults),
            fencing_topology=self.build_fencing(nodes),
            tags=tuple(self.tags),
            templates=tuple(self.templates),
            conditional_properties=tuple(self.conditional_properties),
        )

    def _check_unplaced_children(self, owner: dict[str, _Definition]) -> None:
        for child_id, definition in owner.items():
            if child_id in self.definitions:
                # A cycle of containers never reaches the top level.
                seen = set()
                current = definition
                while current.resource_id in owner and current.resource_id not in seen:
                    seen.add(current.resource_id)
                    current = owner[current.resource_id]
                if current.resource_id in seen:
                    token = current.token
                    raise CrmSyntaxError(f"{current.kind} {current.resource_id} contains "
                                         f"itself", token.line, token.column)

    def lookup_base(self, resource_id: str) -> Resource | None:
        if self.base is None:
            return None
        return self.base.find_resource(resource_id)

    def build(self, definition: _Definition, built: dict[str, Resource], depth: int
              ) -> Resource:
        if definition.resource_id in built:
            return built[definition.resource_id]
        if depth > 3:
            token = definition.token
            raise CrmSyntaxError(f"{definition.kind} {definition.resource_id} nests too deep",
                                 token.line, token.column)
        if definition.kind == "primitive":
            assert definition.primitive is not None
            result: Resource = definition.primitive
        elif definition.kind == "group":
            members = []
            for child in definition.children:
                member = self.child(definition, child, built, depth)
                if not isinstance(member, Primitive):
                    raise CrmSyntaxError(f"group {definition.resource_id}: member {child.text} "
                                         f"is a {_kind_of(member)}, not a primitive",
                                         child.line, child.column)
                members.append(member)
            result = Group(id=definition.resource_id, members=tuple(members),
                           meta=definition.meta)
        else:
            child_token = definition.children[0]
            child = self.child(definition, child_token, built, depth)
            if isinstance(child, Clone):
                raise CrmSyntaxError(f"clone {definition.resource_id}: {child_token.text} is "
                                     f"already a clone; a clone holds a primitive or a group",
                                     child_token.line, child_token.column)
            result = Clone(id=definition.resource_id, child=child, meta=definition.meta,
                           promotable=definition.promotable)
        built[definition.resource_id] = result
        return result

    def child(self, definition: _Definition, token: Token, built: dict[str, Resource],
              depth: int) -> Resource:
        child_definition = self.definitions.get(token.text)
        if child_definition is not None:
            return self.build(child_definition, built, depth + 1)
        from_base = self.lookup_base(token.text)
        if from_base is not None:
            return from_base
        raise CrmSyntaxError(f"{definition.kind} {definition.resource_id}: resource "
                             f"{token.text} is not defined", token.line, token.column)

    # ------------------------------------------------------------ nodes

    def node(self, word: str, statement: Statement) -> None:
        reader = _Reader(statement, "node")
        reader.position = 1
        node_id = reader.take_leading_id()
        name_token = reader.identifier("a node name")
        name, node_type = name_token.text, "member"
        if name_token.colons:
            index = name_token.colons[0]
            name, node_type = name[:index], name[index + 1:]
        reader.what = f"node {name}"
        score = None
        attributes: list[tuple[str, str]] = []
        utilization: list[tuple[str, str]] = []
        conditional: list[AttributeSet] = []
        used_set_ids: set[str] = set()
        while not reader.at_end():
            token = reader.peek()
            assert token is not None
            if token.is_pair and token.key == "description":
                reader.position += 1
            elif token.is_pair and token.key == "score":
                score = token.value
                reader.position += 1
            elif token.is_word("attributes", "utilization") or token.is_pair:
                kind = "attributes"
                if not token.is_pair:
                    kind = token.text.lower()
                    reader.position += 1
                base = f"{name}-{'instance_attributes' if kind == 'attributes' else kind}"
                attribute_list = _parse_attribute_list(reader, base, used_set_ids)
                if attribute_list.attribute_set is not None:
                    if kind == "utilization":
                        reader.fail(token, f"rules in utilization are not supported in "
                                           f"{reader.what}")
                    conditional.append(attribute_list.attribute_set)
                elif kind == "attributes":
                    attributes.extend(attribute_list.pairs)
                else:
                    utilization.extend(attribute_list.pairs)
            else:
                reader.fail(token, f"unexpected {token.text!r} in {reader.what} (expected "
                                   f"attributes or utilization)")
        self.nodes.append(Node(name=name, id=name if node_id is None else node_id,
                               node_type=node_type, score=score, attributes=tuple(attributes),
                               utilization=tuple(utilization),
                               conditional_attributes=tuple(conditional)))

    # ------------------------------------------------------------ constraints

    def location(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "location", "a constraint id")
        constraint_id = identifier.text
        resource = pattern = None
        resource_sets: list[ResourceSet] = []
        token = reader.next("a resource, /pattern/ or { set }")
        if not token.quoted and token.text == "{":
            reader.position -= 1
            while True:
                token = reader.peek()
                if token is None or token.quoted or token.text != "{":
                    break
                reader.position += 1
                resource_set = _parse_bracket_set(reader, token, "role")
                if not resource_set.id:
                    resource_set = replace(resource_set,
                                           id=f"{constraint_id}-{len(resource_sets)}")
                resource_sets.append(resource_set)
        elif len(token.text) >= 2 and token.text.startswith("/") and token.text.endswith("/"):
            pattern = token.text[1:-1]
        elif token.is_pair or token.ends_with_colon:
            reader.fail(token, f"expected a resource after {reader.what}, found "
                               f"{token.text!r}")
        else:
            resource = token.text
        role = None
        discovery = "always"
        while True:
            token = reader.peek()
            if token is not None and token.is_pair and token.key in ("role", "$role"):
                role = token.value
            elif token is not None and token.is_pair and token.key == "resource-discovery":
                discovery = token.value
            else:
                break
            reader.position += 1
        node = score = None
        rules: list[Rule] = []
        used_rule_ids: set[str] = set()
        token = reader.peek()
        if token is None:
            reader.fail_at_end(f"expected 'SCORE: NODE' or 'rule' in {reader.what}")
        assert token is not None
        if not token.is_word("rule"):
            reader.position += 1
            if not token.ends_with_colon:
                reader.fail(token, f"expected ':' after score in {reader.what}")
            if not _is_score(token.head):
                reader.fail(token, f"expected a score (a number, inf or -inf) in "
                                   f"{reader.what}, found {token.head!r}")
            score = parse_score(token.head)
            node = reader.identifier(f"a node name after the score in {reader.what}").text
        while reader.take_word("rule"):
            rules.append(_parse_rule(reader, f"{constraint_id}-rule", used_rule_ids,
                                     "INFINITY", "location"))
        if not reader.at_end():
            token = reader.peek()
            assert token is not None
            reader.fail(token, f"unexpected {token.text!r} in {reader.what}")
        self.constraints.append(LocationConstraint(
            id=constraint_id, resource=resource, resource_pattern=pattern, node=node,
            score=score, role=role, resource_discovery=discovery, rules=tuple(rules),
            resource_sets=tuple(resource_sets)))

    def _score_head(self, reader: _Reader) -> Token:
        token = reader.next(f"a score in {reader.what}")
        if not token.ends_with_colon:
            reader.fail(token, f"expected ':' after score in {reader.what}")
        return token

    def colocation(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "colocation", "a constraint id")
        score_token = self._score_head(reader)
        if not _is_score(score_token.head):
            reader.fail(score_token, f"expected a score (a number, inf or -inf) in "
                                     f"{reader.what}, found {score_token.head!r}")
        score = parse_score(score_token.head)
        items = _parse_set_items(reader, "role", ("node-attribute", "influence"),
                                 identifier.text, 2)
        attributes = _trailing_attributes(reader, ("node-attribute",), ("influence",))
        node_attribute = attributes.get("node-attribute", "#uname")
        influence = attributes.get("influence")
        if not items.uses_sets:
            (resource, role), (with_resource, with_role) = _simple_items(
                reader, items, 2, score_token)
            self.constraints.append(ColocationConstraint(
                id=identifier.text, score=score, resource=resource, with_resource=with_resource,
                resource_role=role, with_resource_role=with_role,
                node_attribute=node_attribute, influence=influence))
            return
        self.constraints.append(ColocationConstraint(
            id=identifier.text, score=score, node_attribute=node_attribute,
            influence=influence, resource_sets=tuple(items.sets)))

    def order(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "order", "a constraint id")
        kind = score = None
        token = reader.peek()
        if token is not None and token.ends_with_colon and not token.quoted:
            reader.position += 1
            head = token.head
            if head.lower() in (name.lower() for name in ORDER_KINDS):
                kind = head
            elif _is_score(head):
                score = parse_score(head)
            else:
                reader.fail(token, f"expected Mandatory, Optional, Serialize or a score "
                                   f"before ':' in {reader.what}, found {head!r}")
        items = _parse_set_items(reader, "action", ("symmetrical", "require-all"),
                                 identifier.text, 2)
        attributes = _trailing_attributes(reader, (), ("symmetrical", "require-all"))
        symmetrical = attributes.get("symmetrical")
        require_all = attributes.get("require-all")
        if not items.uses_sets:
            (first, first_action), (then, then_action) = _simple_items(
                reader, items, 2, identifier)
            self.constraints.append(OrderConstraint(
                id=identifier.text, first=first, then=then, kind=kind, score=score,
                first_action=first_action, then_action=then_action, symmetrical=symmetrical,
                require_all=require_all))
            return
        self.constraints.append(OrderConstraint(
            id=identifier.text, kind=kind, score=score, symmetrical=symmetrical,
            resource_sets=tuple(items.sets), require_all=require_all))

    def ticket(self, word: str, statement: Statement) -> None:
        reader, identifier = _statement_reader(statement, "rsc_ticket", "a constraint id")
        ticket_token = reader.next("a ticket name")
        if not ticket_token.ends_with_colon:
            reader.fail(ticket_token, f"expected ':' after the ticket name in {reader.what}")
        items = _parse_set_items(reader, "role", ("loss-policy",), identifier.text, 1)
        loss_policy = _trailing_attributes(reader, ("loss-policy",), ()).get("loss-policy")
        if not items.uses_sets:
            ((resource, role),) = _simple_items(reader, items, 1, ticket_token)
            self.constraints.append(TicketConstraint(
                id=identifier.text, ticket=ticket_token.head, resource=resource, role=role,
                loss_policy=loss_policy))
            return
        self.constraints.append(TicketConstraint(
            id=identifier.text, ticket=ticket_token.head, loss_policy=loss_policy,
            resource_sets=tuple(items.sets)))

    # ------------------------------------------------------------ options and the rest

    def property(self, word: str, statement: Statement) -> None:
        reader = _Reader(statement, "property")
        reader.position = 1
        used = {item.id for item in self.conditional_properties}
        attribute_list = _parse_attribute_list(reader, "cib-bootstrap-options", used,
                                               leading_set_id=True)
        if not reader.at_end():
            token = reader.peek()
            assert token is not None
            reader.fail(token, f"expected name=value in property, found {token.text!r}")
        if attribute_list.attribute_set is not None:
            self.conditional_properties.append(attribute_list.attribute_set)
        else:
            self.properties.extend(attribute_list.pairs)

    def defaults(self, word: str, statement: Statement) -> None:
        reader = _Reader(statement, word)
        reader.position = 1
        target = self.rsc_defaults if word == "rsc_defaults" else self.op_defaults
        base = "rsc-options" if word == "rsc_defaults" else "op-options"
        set_id = reader.take_leading_id()
        used = {item.id for item in target}
        if set_id is None:
            set_id = unique_id(base, used)
        score = reader.take_score_head()
        rule = None
        if reader.take_word("rule"):
            rule = _parse_rule(reader, f"{set_id}-rule", set(), None, "defaults")
        pairs = _parse_pairs(reader)
        if not reader.at_end():
            token = reader.peek()
            assert token is not None
            reader.fail(token, f"expected name=value in {word}, found {token.text!r}")
        target.append(AttributeSet(values=tuple(pairs), rule=rule, score=score, id=set_id))

    def fencing(self, word: str, statement: Statement) -> None:
        reader = _Reader(statement, "fencing_topology")
        reader.position = 1
        self.fencing_token = statement.tokens[0]
        target: object = None
        while not reader.at_end():
            token = reader.next("a target or devices")
            if token.text.startswith("attr:") and token.is_pair:
                target = ("attribute", token.key[len("attr:"):], token.value)
            elif token.text.startswith("pattern:"):
                target = ("pattern", token.text[len("pattern:"):])
            elif token.ends_with_colon:
                target = ("node", token.head)
            else:
                devices = tuple(device for device in token.text.split(",") if device)
                if not devices:
                    reader.fail(token, "expected device names in fencing_topology")
                self.fencing_levels.append(("level", target, devices, token))

    def build_fencing(self, nodes: tuple[Node, ...]) -> tuple[FencingLevel, ...]:
        levels: list[FencingLevel] = []
        used: set[str] = set()
        counters: dict[object, int] = {}
        entries: list[tuple[object, tuple[str, ...]]] = []
        untargeted = [entry for entry in self.fencing_levels if entry[1] is None]
        if untargeted and len(untargeted) != len(self.fencing_levels):
            token = untargeted[0][3]
            raise CrmSyntaxError("fencing_topology mixes levels with and without targets",
                                 token.line, token.column)  # type: ignore[attr-defined]
        if untargeted:
            if not nodes:
                token = untargeted[0][3]
                raise CrmSyntaxError("fencing_topology without targets needs node statements",
                                     token.line, token.column)  # type: ignore[attr-defined]
            for node in nodes:
                for _, _, devices, _ in untargeted:
                    entries.append((("node", node.name), devices))
        else:
            entries = [(target, devices) for _, target, devices, _ in self.fencing_levels]
        for target, devices in entries:
            counters[target] = counters.get(target, 0) + 1
            level_id = unique_id("fencing", used)
            used.add(level_id)
            kind = target[0]  # type: ignore[index]
            level = FencingLevel(index=counters[target], devices=devices, id=level_id)
            if kind == "node":
                level = replace(level, target=target[1])  # type: ignore[index]
            elif kind == "pattern":
                level = replace(level, target_pattern=target[1])  # type: ignore[index]
            else:
                level = replace(level, target_attribute=target[1],  # type: ignore[index]
                                target_value=target[2])  # type: ignore[index]
            levels.append(level)
        return tuple(levels)

    def tag(self, word: str, statement: Statement) -> None:
        reader = _Reader(statement, "tag")
        reader.position = 1
        token = reader.identifier("a tag id")
        tag_id = token.head
        reader.what = f"tag {tag_id}"
        references = []
        while not reader.at_end():
            references.append(reader.identifier("a resource id").text)
        if not references:
            reader.fail_at_end(f"expected at least one resource in {reader.what}")
        self.tags.append(Tag(id=tag_id, references=tuple(references)))


def _kind_of(resource: object) -> str:
    if isinstance(resource, Clone):
        return "promotable clone" if resource.promotable else "clone"
    if isinstance(resource, Group):
        return "group"
    return "primitive"


def parse_configuration(text: str, base: Configuration | None = None) -> Configuration:
    """The configuration described by crm configure `text`. Groups and clones may name
    resources defined in `base` (for `load update` fragments). Raises CrmSyntaxError."""
    if not isinstance(text, str):
        raise CrmSyntaxError("configuration text must be a string", 1, 1)
    return _Parser(base).parse(text)


# ---------------------------------------------------------------- renderer

INDENT = "\t"


def _quote(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def render_word(text: str) -> str:
    """A standalone word (id, node name, expression value), quoted when it would otherwise
    read as something else."""
    if (_SAFE_WORD.fullmatch(text) and not text.startswith(("@", "$"))
            and text.lower() not in RESERVED_WORDS):
        return text
    return _quote(text)


def render_value(text: str) -> str:
    if _SAFE_WORD.fullmatch(text):
        return text
    return _quote(text)


def render_pair(name: str, value: str) -> str:
    key = name if _SAFE_WORD.fullmatch(name) and not name.startswith("$") else _quote(name)
    return f"{key}={render_value(value)}"


def _pairs_text(pairs: Pairs) -> str:
    return " ".join(render_pair(name, value) for name, value in pairs)


def _statement(head: str, lines: list[str]) -> str:
    parts = [head] + [f"{INDENT}{line}" for line in lines]
    return " \\\n".join(parts)


def _render_term(term) -> str:
    if isinstance(term, Rule):
        inner = _render_terms(term)
        return f"( {inner} )" if inner else "( )"
    if isinstance(term, DateExpression):
        return _render_date(term)
    if isinstance(term, Expression):
        attribute = render_word(term.attribute)
        if term.operation.lower() in UNARY_OPERATIONS and term.value is None:
            return f"{term.operation} {attribute}"
        operation = term.operation
        if term.value_type:
            operation = f"{term.value_type}:{operation}"
        value = term.value if term.value is not None else ""
        if term.value_source not in ("literal", "", None):
            rendered_value = f"{term.value_source}{{{value}}}"
        elif _VALUE_SOURCE.fullmatch(value) or not _SAFE_WORD.fullmatch(value):
            rendered_value = _quote(value)
        else:
            rendered_value = render_word(value)
        return f"{attribute} {operation} {rendered_value}"
    if isinstance(term, ResourceExpression):
        parts = (term.agent_class, term.provider, term.agent_type)
        return "resource " + ":".join(
            "" if part is None else part if _SAFE_WORD.fullmatch(part) else _quote(part)
            for part in parts)
    name = render_word(term.name)
    if term.interval is None:
        return f"op {name}"
    return f"op {name} {render_pair('interval', term.interval)}"


def _render_date(term: DateExpression) -> str:
    operation = term.operation
    if operation == "gt" and term.start is not None and term.end is None and not (
            term.duration or term.date_spec):
        return f"date gt {render_word(term.start)}"
    if operation == "lt" and term.end is not None and term.start is None and not (
            term.duration or term.date_spec):
        return f"date lt {render_word(term.end)}"
    words = {"in_range": "in", "date_spec": "spec"}.get(operation, operation)
    parts = [f"date {words}"]
    if term.start is not None:
        parts.append(render_pair("start", term.start))
    if term.end is not None:
        parts.append(render_pair("end", term.end))
    fields = term.date_spec if operation == "date_spec" else term.duration
    parts.extend(render_pair(name, value) for name, value in fields)
    return " ".join(parts)


def _render_terms(rule: Rule) -> str:
    joiner = f" {rule.boolean_op} "
    return joiner.join(_render_term(term) for term in rule.terms)


def _render_rule(rule: Rule, expected_id: str, location: bool) -> str:
    parts = ["rule"]
    if rule.id != expected_id:
        parts.append(f"$id={render_value(rule.id)}")
    if rule.role is not None:
        parts.append(f"$role={render_value(rule.role)}")
    if rule.score_attribute is not None:
        attribute = rule.score_attribute
        quoted = _is_score(attribute) or not _SAFE_WORD.fullmatch(attribute)
        parts.append(f"{_quote(attribute) if quoted else attribute}:")
    elif rule.score is not None:
        parts.append(f"{render_score(rule.score)}:")
    elif location:
        parts.append("0:")
    terms = _render_terms(rule)
    if terms:
        parts.append(terms)
    return " ".join(parts)


def _render_attribute_set(keyword: str, attribute_set: AttributeSet, expected_id: str) -> str:
    parts = [keyword] if keyword else []
    if attribute_set.id != expected_id:
        parts.append(f"$id={render_value(attribute_set.id)}")
    if attribute_set.score is not None:
        parts.append(f"{render_score(attribute_set.score)}:")
    if attribute_set.rule is not None:
        parts.append(_render_rule(attribute_set.rule, f"{attribute_set.id}-rule", False))
    if attribute_set.values:
        parts.append(_pairs_text(attribute_set.values))
    return " ".join(parts)


def _render_operation(operation: Operation, expected_id: str) -> str:
    parts = [f"op {render_word(operation.name)}", render_pair("interval", operation.interval)]
    if operation.timeout is not None:
        parts.append(render_pair("timeout", operation.timeout))
    if operation.role is not None:
        parts.append(render_pair("role", operation.role))
    if operation.on_fail is not None:
        parts.append(render_pair("on-fail", operation.on_fail))
    if not operation.enabled:
        parts.append("enabled=false")
    if operation.id != expected_id:
        parts.append(render_pair("id", operation.id))
    if operation.attributes:
        parts.append(_pairs_text(operation.attributes))
    return " ".join(parts)


def _render_agent(agent_class: str, provider: str | None, agent_type: str,
                  template: str | None) -> str:
    if template is not None and not agent_class and not agent_type:
        return f"@{template}" if _SAFE_WORD.fullmatch(template) else _quote(f"@{template}")
    parts = [agent_class, agent_type]
    if provider is not None or agent_class == "ocf":
        parts.insert(1, provider or "")
    return ":".join(part if _SAFE_WORD.fullmatch(part) or part == "" else _quote(part)
                    for part in parts)


def _primitive_lines(resource_id: str, params: Pairs, meta: Pairs, utilization: Pairs,
                     conditional: tuple[tuple[str, AttributeSet], ...],
                     operations: tuple[Operation, ...]) -> list[str]:
    lines = []
    if params:
        lines.append(f"params {_pairs_text(params)}")
    if meta:
        lines.append(f"meta {_pairs_text(meta)}")
    if utilization:
        lines.append(f"utilization {_pairs_text(utilization)}")
    used_set_ids: set[str] = set()
    for kind, attribute_set in conditional:
        expected = unique_id(f"{resource_id}-{_set_kind_name(kind)}", used_set_ids)
        lines.append(_render_attribute_set(kind, attribute_set, expected))
        used_set_ids.add(attribute_set.id)
    used_operation_ids: set[str] = set()
    for operation in operations:
        expected = unique_id(operation_id_base(resource_id, operation), used_operation_ids)
        lines.append(_render_operation(operation, expected))
        used_operation_ids.add(operation.id)
    return lines


def _render_primitive(primitive: Primitive) -> str:
    head = (f"primitive {render_word(primitive.id)} "
            f"{_render_agent(primitive.agent_class, primitive.provider, primitive.agent_type, primitive.template)}")  # noqa: E501
    return _statement(head, _primitive_lines(
        primitive.id, primitive.params, primitive.meta, primitive.utilization,
        primitive.conditional_sets, primitive.operations))


def _render_template(template: Template) -> str:
    head = (f"rsc_template {render_word(template.id)} "
            f"{_render_agent(template.agent_class, template.provider, template.agent_type, None)}")  # noqa: E501
    return _statement(head, _primitive_lines(template.id, template.params, template.meta,
                                             template.utilization, (), template.operations))


def _render_resource(resource: Resource, out: list[tuple[str, str]]) -> None:
    """Children first (crmsh reads groups and clones as references), then the container;
    the container statement fixes the resource's place in document order."""
    if isinstance(resource, Primitive):
        out.append((resource.id, _render_primitive(resource)))
        return
    if isinstance(resource, Group):
        for member in resource.members:
            _render_resource(member, out)
        members = " ".join(render_word(member.id) for member in resource.members)
        lines = [f"meta {_pairs_text(resource.meta)}"] if resource.meta else []
        out.append((resource.id,
                    _statement(f"group {render_word(resource.id)} {members}", lines)))
        return
    _render_resource(resource.child, out)
    keyword = "clone"
    if resource.promotable and not _truth(pairs_get(resource.meta, "promotable", "") or ""):
        keyword = "ms"
    lines = [f"meta {_pairs_text(resource.meta)}"] if resource.meta else []
    out.append((resource.id, _statement(f"{keyword} {render_word(resource.id)} "
                                        f"{render_word(resource.child.id)}", lines)))


def _render_node(node: Node) -> str:
    head = "node "
    if node.id != node.name:
        head += f"{node.id}: " if _SAFE_WORD.fullmatch(node.id) else f"$id={_quote(node.id)} "
    head += render_word(node.name)
    if node.node_type != "member":
        head += f":{render_value(node.node_type)}"
    if node.score is not None:
        head += f" {render_pair('score', node.score)}"
    lines = []
    if node.attributes:
        lines.append(f"attributes {_pairs_text(node.attributes)}")
    if node.utilization:
        lines.append(f"utilization {_pairs_text(node.utilization)}")
    used: set[str] = set()
    for attribute_set in node.conditional_attributes:
        expected = unique_id(f"{node.name}-instance_attributes", used)
        lines.append(_render_attribute_set("attributes", attribute_set, expected))
        used.add(attribute_set.id)
    return _statement(head, lines)


def _render_member(name: str, suffix: str | None) -> str:
    word = render_word(name)
    return f"{word}:{suffix}" if suffix else word


def _set_is_plain(resource_set: ResourceSet, expected_id: str) -> bool:
    return (resource_set.sequential is None and resource_set.require_all
            and resource_set.ordered is None and resource_set.score is None
            and resource_set.kind is None and resource_set.id == expected_id
            and bool(resource_set.resources))


def _render_sets(sets: tuple[ResourceSet, ...], constraint_id: str, suffix_kind: str,
                 simple_count: int) -> str:
    """Plain runs where the plain form reads back exactly, brackets otherwise; `_rsc_set_`
    where plain runs would merge or would read as the two-resource form."""
    other_kind = "action" if suffix_kind == "role" else "role"
    words: list[str] = []
    previous_plain_suffix: object = None
    plain_members = 0
    any_bracket = False
    for index, resource_set in enumerate(sets):
        expected = f"{constraint_id}-{index}"
        suffix = getattr(resource_set, suffix_kind)
        other = getattr(resource_set, other_kind)
        if _set_is_plain(resource_set, expected) and other is None:
            if previous_plain_suffix is not None and previous_plain_suffix == (suffix,):
                words.append("_rsc_set_")
            words.extend(_render_member(name, suffix) for name in resource_set.resources)
            previous_plain_suffix = (suffix,)
            plain_members += len(resource_set.resources)
            continue
        previous_plain_suffix = None
        any_bracket = True
        words.append(_render_bracket_set(resource_set, expected, suffix_kind, other_kind))
    if not any_bracket and plain_members == simple_count and (not words or
                                                              words[0] != "_rsc_set_"):
        words.insert(0, "_rsc_set_")
    if not sets:
        words.append("_rsc_set_")
    return " ".join(words)


def _render_bracket_set(resource_set: ResourceSet, expected_id: str, suffix_kind: str,
                        other_kind: str) -> str:
    if resource_set.sequential is False and resource_set.require_all:
        opening, closing = "(", ")"
        implied = {"sequential": False, "require_all": True}
    elif resource_set.sequential is False and not resource_set.require_all:
        opening, closing = "[", "]"
        implied = {"sequential": False, "require_all": False}
    else:
        opening, closing = "{", "}"
        implied = {"sequential": None, "require_all": True}
    suffix = getattr(resource_set, suffix_kind)
    parts = [opening]
    if resource_set.resources:
        parts.extend(_render_member(name, suffix) for name in resource_set.resources)
    elif suffix is not None:
        parts.append(render_pair(suffix_kind, suffix))
    if resource_set.sequential != implied["sequential"]:
        parts.append(_flag("sequential", resource_set.sequential))
    if resource_set.require_all != implied["require_all"]:
        parts.append(_flag("require-all", resource_set.require_all))
    if resource_set.ordered is not None:
        parts.append(_flag("ordered", resource_set.ordered))
    other = getattr(resource_set, other_kind)
    if other is not None:
        parts.append(render_pair(other_kind, other))
    if resource_set.score is not None:
        parts.append(render_pair("score", resource_set.score))
    if resource_set.kind is not None:
        parts.append(render_pair("kind", resource_set.kind))
    if resource_set.id != expected_id:
        parts.append(render_pair("$id", resource_set.id))
    parts.append(closing)
    return " ".join(parts)


def _render_location(constraint: LocationConstraint) -> str:
    head = f"location {render_word(constraint.id)} "
    if constraint.resource_sets:
        head += " ".join(_render_location_set(resource_set, f"{constraint.id}-{index}")
                         for index, resource_set in enumerate(constraint.resource_sets))
    elif constraint.resource_pattern is not None:
        pattern = f"/{constraint.resource_pattern}/"
        head += pattern if _SAFE_WORD.fullmatch(pattern.replace("/", "")) else _quote(pattern)
    elif constraint.resource is not None:
        head += render_word(constraint.resource)
    else:
        raise ValueError(f"location {constraint.id} names no resource")
    if constraint.role is not None:
        head += f" {render_pair('role', constraint.role)}"
    if constraint.resource_discovery != "always":
        head += f" {render_pair('resource-discovery', constraint.resource_discovery)}"
    if constraint.node is not None:
        score = render_score(constraint.score) if constraint.score is not None else "0"
        head += f" {score}: {render_word(constraint.node)}"
    lines = []
    used: set[str] = set()
    for rule in constraint.rules:
        expected = unique_id(f"{constraint.id}-rule", used)
        lines.append(_render_rule(rule, expected, True))
        used.add(rule.id)
    return _statement(head, lines)


def _render_location_set(resource_set: ResourceSet, expected_id: str) -> str:
    parts = ["{"]
    parts.extend(_render_member(name, resource_set.role) for name in resource_set.resources)
    if not resource_set.resources and resource_set.role is not None:
        parts.append(render_pair("role", resource_set.role))
    if resource_set.sequential is not None:
        parts.append(_flag("sequential", resource_set.sequential))
    if not resource_set.require_all:
        parts.append("require-all=false")
    if resource_set.ordered is not None:
        parts.append(_flag("ordered", resource_set.ordered))
    for name in ("action", "score", "kind"):
        value = getattr(resource_set, name)
        if value is not None:
            parts.append(render_pair(name, value))
    if resource_set.id != expected_id:
        parts.append(render_pair("$id", resource_set.id))
    parts.append("}")
    return " ".join(parts)


def _render_colocation(constraint: ColocationConstraint) -> str:
    head = f"colocation {render_word(constraint.id)} {render_score(constraint.score)}:"
    if constraint.resource_sets or constraint.resource is None:
        head += " " + _render_sets(constraint.resource_sets, constraint.id, "role", 2)
    else:
        head += (f" {_render_member(constraint.resource, constraint.resource_role)}"
                 f" {_render_member(constraint.with_resource or '', constraint.with_resource_role)}")  # noqa: E501
    if constraint.node_attribute != "#uname":
        head += f" {render_pair('node-attribute', constraint.node_attribute)}"
    head += _render_flag("influence", constraint.influence)
    return head


def _flag(name: str, value: bool) -> str:
    return f"{name}={'true' if value else 'false'}"


def _render_flag(name: str, value: bool | None) -> str:
    """` NAME=true|false`, or nothing for an unset flag."""
    return "" if value is None else f" {_flag(name, value)}"


def _render_order(constraint: OrderConstraint) -> str:
    head = f"order {render_word(constraint.id)}"
    if constraint.kind is not None:
        head += f" {constraint.kind}:"
    elif constraint.score is not None:
        head += f" {render_score(constraint.score)}:"
    if constraint.resource_sets or constraint.first is None:
        head += " " + _render_sets(constraint.resource_sets, constraint.id, "action", 2)
    else:
        head += (f" {_render_member(constraint.first, constraint.first_action)}"
                 f" {_render_member(constraint.then or '', constraint.then_action)}")
    head += _render_flag("symmetrical", constraint.symmetrical)
    head += _render_flag("require-all", constraint.require_all)
    return head


def _render_ticket(constraint: TicketConstraint) -> str:
    head = f"rsc_ticket {render_word(constraint.id)} {render_word(constraint.ticket)}:"
    if constraint.resource_sets or constraint.resource is None:
        head += " " + _render_sets(constraint.resource_sets, constraint.id, "role", 1)
    else:
        head += f" {_render_member(constraint.resource, constraint.role)}"
    if constraint.loss_policy is not None:
        head += f" {render_pair('loss-policy', constraint.loss_policy)}"
    return head


def _render_constraint(constraint: Constraint) -> str:
    if isinstance(constraint, LocationConstraint):
        return _render_location(constraint)
    if isinstance(constraint, ColocationConstraint):
        return _render_colocation(constraint)
    if isinstance(constraint, OrderConstraint):
        return _render_order(constraint)
    return _render_ticket(constraint)


def _render_fencing(levels: tuple[FencingLevel, ...]) -> str:
    """Targeted form; a target repeats when its levels are interleaved with others'. The
    syntax numbers levels 1, 2... per target and generates their ids (as crmsh does)."""
    lines = []
    previous_target: tuple | None = None
    current: list[str] = []
    for level in levels:
        if level.target_pattern is not None:
            target_key: tuple = ("pattern", level.target_pattern)
            target_text = render_value(f"pattern:{level.target_pattern}")
        elif level.target_attribute is not None:
            target_key = ("attribute", level.target_attribute, level.target_value)
            target_text = render_pair(f"attr:{level.target_attribute}",
                                      level.target_value or "")
        else:
            target_key = ("node", level.target)
            target_text = f"{render_word(level.target or '')}:"
        devices = ",".join(level.devices)
        if target_key != previous_target:
            if current:
                lines.append(" ".join(current))
            current = [target_text]
            previous_target = target_key
        current.append(render_word(devices) if _SAFE_WORD.fullmatch(devices) else
                       _quote(devices))
    if current:
        lines.append(" ".join(current))
    return _statement("fencing_topology", lines)


def _render_options(keyword: str, attribute_set: AttributeSet) -> str:
    head = f"{keyword} {render_word(attribute_set.id)}:"
    if attribute_set.score is not None:
        head += f" {render_score(attribute_set.score)}:"
    if attribute_set.rule is not None:
        head += " " + _render_rule(attribute_set.rule, f"{attribute_set.id}-rule", False)
    lines = [render_pair(name, value) for name, value in attribute_set.values]
    return _statement(head, lines)


def render_statements(configuration: Configuration) -> list[tuple[str, str]]:
    """(object id, crm statement) pairs in document order. Ids: node names, resource,
    template, tag and constraint ids, "fencing_topology", and attribute set ids for
    properties ("cib-bootstrap-options"), rsc_defaults and op_defaults."""
    out: list[tuple[str, str]] = [(node.name, _render_node(node))
                                  for node in configuration.nodes]
    out.extend((template.id, _render_template(template))
               for template in configuration.templates)
    for resource in configuration.resources:
        _render_resource(resource, out)
    for tag in configuration.tags:
        out.append((tag.id, f"tag {render_word(tag.id)}: "
                    + " ".join(render_word(reference) for reference in tag.references)))
    out.extend((constraint.id, _render_constraint(constraint))
               for constraint in configuration.constraints)
    if configuration.fencing_topology:
        out.append(("fencing_topology", _render_fencing(configuration.fencing_topology)))
    if configuration.properties:
        out.append(("cib-bootstrap-options", _statement(
            "property cib-bootstrap-options:",
            [render_pair(name, value) for name, value in configuration.properties])))
    for keyword, sets in (("property", configuration.conditional_properties),
                          ("rsc_defaults", configuration.rsc_defaults),
                          ("op_defaults", configuration.op_defaults)):
        out.extend((item.id, _render_options(keyword, item)) for item in sets)
    return out


def render_configuration(configuration: Configuration,
                         only: frozenset[str] | set[str] | None = None) -> str:
    """crm configure text for `configuration`, one statement per object in crmsh's
    `configure show` layout (continuation lines indented by a tab); with `only`, just the
    statements of those object ids (`crm configure show ID...`)."""
    return "".join(f"{statement}\n" for object_id, statement in render_statements(configuration)
                   if only is None or object_id in only)


def delete_objects(configuration: Configuration, object_ids: set[str] | frozenset[str]
                   ) -> Configuration:
    """`configure delete`: the configuration without the named resources, constraints,
    tags, templates and nodes. Constraints and tags lose references to deleted resources
    and disappear when nothing is left (crmsh does the same); a group left empty goes too."""
    resources = resources_without(configuration.resources, set(object_ids))
    kept_ids = {item.id for resource in resources for item in walk_resource(resource)}
    removed = {item.id for resource in configuration.resources
               for item in walk_resource(resource)} - kept_ids
    constraints = []
    for constraint in configuration.constraints:
        if constraint.id in object_ids:
            continue
        trimmed = _without_resources(constraint, removed)
        if trimmed is not None:
            constraints.append(trimmed)
    tags = []
    for tag in configuration.tags:
        references = tuple(item for item in tag.references if item not in removed)
        if tag.id not in object_ids and references:
            tags.append(replace(tag, references=references))
    return replace(
        configuration,
        nodes=tuple(node for node in configuration.nodes if node.name not in object_ids),
        resources=resources, constraints=tuple(constraints), tags=tuple(tags),
        templates=tuple(item for item in configuration.templates if item.id not in object_ids),
    )


def _without_resources(constraint: Constraint, removed: set[str]) -> Constraint | None:
    """The constraint without references to `removed` resources, or None when it no longer
    constrains anything."""
    simple = [name for name in constraint_simple_resources(constraint) if name]
    if any(name in removed for name in simple):
        return None
    if not constraint.resource_sets:
        return constraint
    sets = []
    for resource_set in constraint.resource_sets:
        members = tuple(name for name in resource_set.resources if name not in removed)
        if members:
            sets.append(replace(resource_set, resources=members))
    if not sets:
        return None
    return replace(constraint, resource_sets=tuple(sets))


# ---------------------------------------------------------------- verify


def _is_valid_score(text: str | None) -> bool:
    return text is not None and _is_score(text.strip())


def _is_mandatory(constraint: OrderConstraint) -> bool:
    if constraint.kind is not None:
        return constraint.kind.lower() == "mandatory"
    if constraint.score is None:
        return True
    return constraint.score.strip() not in ("0", "+0", "-0")


def _constraint_kind(constraint: Constraint) -> str:
    return {LocationConstraint: "location", ColocationConstraint: "colocation",
            OrderConstraint: "order", TicketConstraint: "rsc_ticket"}[type(constraint)]


def _roles_of(constraint: Constraint) -> list[str]:
    roles: list[str | None] = [resource_set.role for resource_set in constraint.resource_sets]
    if isinstance(constraint, LocationConstraint):
        roles.append(constraint.role)
        roles.extend(rule.role for rule in constraint.rules)
    elif isinstance(constraint, ColocationConstraint):
        roles.extend((constraint.resource_role, constraint.with_resource_role))
    elif isinstance(constraint, TicketConstraint):
        roles.append(constraint.role)
    return [role for role in roles if role is not None]


def _order_edges(constraint: OrderConstraint) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Edges "must happen before" between (resource, action) of a mandatory order."""
    edges = []
    if constraint.first and constraint.then:
        edges.append(((constraint.first, (constraint.first_action or "start").lower()),
                      (constraint.then, (constraint.then_action or "start").lower())))
    previous: list[tuple[str, str]] = []
    for resource_set in constraint.resource_sets:
        action = (resource_set.action or "start").lower()
        members = [(name, action) for name in resource_set.resources]
        if resource_set.sequential is not False:
            edges.extend(zip(members, members[1:], strict=False))
        if previous and members:
            if resource_set.sequential is not False:
                targets = members[:1]
            else:
                targets = members
            edges.extend((before, after) for before in previous for after in targets)
        if members:
            previous = members[-1:] if resource_set.sequential is not False else members
    return edges


def _order_cycles(configuration: Configuration) -> list[str]:
    graph: dict[tuple[str, str], list[tuple[tuple[str, str], str]]] = {}
    for constraint in configuration.constraints:
        if isinstance(constraint, OrderConstraint) and _is_mandatory(constraint):
            for before, after in _order_edges(constraint):
                graph.setdefault(before, []).append((after, constraint.id))
                graph.setdefault(after, [])
    problems = []
    reported: set[frozenset] = set()
    for component in _strongly_connected(graph):
        members = set(component)
        start = min(component)
        if len(component) == 1 and not any(target == start for target, _ in graph[start]):
            continue
        path, constraints = _cycle_through(graph, start, members)
        key = frozenset(members)
        if key in reported:
            continue
        reported.add(key)
        steps = " -> ".join(f"{name}:{action}" for name, action in path)
        problems.append(f"mandatory order cycle: {steps} (order constraints "
                        f"{', '.join(sorted(set(constraints)))})")
    return problems


def _strongly_connected(graph: dict) -> list[list]:
    """Tarjan's algorithm, iterative (no recursion limit on big configurations)."""
    index_of: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    components: list[list] = []
    counter = 0
    for root in sorted(graph):
        if root in index_of:
            continue
        work = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = [target for target, _ in graph[node]]
            if child_index < len(successors):
                work.append((node, child_index + 1))
                target = successors[child_index]
                if target not in index_of:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index_of[target])
                continue
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_through(graph: dict, start, members: set) -> tuple[list, list[str]]:
    """A shortest cycle from `start` back to itself inside one strongly connected part."""
    previous: dict = {}
    frontier = [start]
    seen = {start}
    while frontier:
        following = []
        for node in frontier:
            for target, constraint_id in graph[node]:
                if target not in members:
                    continue
                if target == start:
                    path = [node]
                    constraints = [constraint_id]
                    while path[-1] != start:
                        parent, via = previous[path[-1]]
                        constraints.append(via)
                        path.append(parent)
                    path.reverse()
                    return [*path, start], constraints
                if target not in seen:
                    seen.add(target)
                    previous[target] = (node, constraint_id)
                    following.append(target)
        frontier = following
    return [start, start], []


def _verify_resources(configuration: Configuration, problems: list[str]) -> None:
    places: dict[str, list[str]] = {}
    template_ids = {template.id for template in configuration.templates}

    def visit(resource: object, container: str) -> None:
        resource_id = getattr(resource, "id", "")
        places.setdefault(resource_id, []).append(container)
        if isinstance(resource, Clone):
            if isinstance(resource.child, Clone):
                problems.append(f"clone {resource.id} contains clone {resource.child.id}; a "
                                f"clone holds a primitive or a group")
            if resource.promotable is False and _truth(pairs_get(resource.meta, "promotable",
                                                                 "") or ""):
                problems.append(f"clone {resource.id} has meta promotable=true but is not "
                                f"marked promotable")
            visit(resource.child, f"clone {resource.id}")
        elif isinstance(resource, Group):
            if not resource.members:
                problems.append(f"group {resource.id} has no members")
            for member in resource.members:
                if not isinstance(member, Primitive):
                    problems.append(f"group {resource.id} contains {_kind_of(member)} "
                                    f"{getattr(member, 'id', '?')}; a group holds primitives")
                visit(member, f"group {resource.id}")
        elif isinstance(resource, Primitive):
            if resource.template is not None and resource.template not in template_ids:
                problems.append(f"primitive {resource.id} uses unknown template "
                                f"{resource.template}")
            if resource.template is None and not (resource.agent_class and
                                                  resource.agent_type):
                problems.append(f"primitive {resource.id} has no agent class and type")
            for operation in resource.operations:
                if operation.role is not None and normalize_role(operation.role) is None:
                    problems.append(f"primitive {resource.id}: operation {operation.name} has "
                                    f"unknown role {operation.role}")

    for resource in configuration.resources:
        visit(resource, "top level")
    for resource_id, containers in places.items():
        if len(containers) < 2:
            continue
        inside = [item for item in containers if item != "top level"]
        if len(inside) >= 2:
            problems.append(f"resource {resource_id} is in both {inside[0]} and {inside[1]}")
        else:
            problems.append(f"duplicate resource id {resource_id} ({len(containers)} "
                            f"definitions)")


def verify(configuration: Configuration) -> list[str]:
    """Semantic problems of a configuration, one line each (empty when it is sound):
    unknown resources in constraints and tags, duplicate ids, resources in two containers,
    clones of clones, mandatory ordering cycles, invalid roles, scores and kinds, fencing
    levels naming unknown devices."""
    problems: list[str] = []
    _verify_resources(configuration, problems)
    resource_ids = {item.id for resource in configuration.resources
                    for item in walk_resource(resource)}
    tag_ids = {tag.id for tag in configuration.tags}
    known = resource_ids | tag_ids
    owners: dict[str, str] = {}
    for resource_id in sorted(resource_ids):
        owners[resource_id] = "resource"
    for kind, items in (("template", configuration.templates), ("tag", configuration.tags),
                        ("constraint", configuration.constraints)):
        for item in items:
            if item.id in owners:
                problems.append(f"duplicate id {item.id}: used by a {owners[item.id]} and a "
                                f"{kind}")
            else:
                owners[item.id] = kind
    node_names: set[str] = set()
    for node in configuration.nodes:
        if node.name in node_names:
            problems.append(f"node {node.name} is defined twice")
        node_names.add(node.name)
    for tag in configuration.tags:
        for reference in tag.references:
            if reference not in resource_ids:
                problems.append(f"tag {tag.id} references unknown resource {reference}")
    for constraint in configuration.constraints:
        kind = _constraint_kind(constraint)
        for reference in constraint_resources(constraint):
            if reference not in known:
                problems.append(f"{kind} {constraint.id} references unknown resource "
                                f"{reference}")
        for role in _roles_of(constraint):
            if normalize_role(role) is None:
                problems.append(f"{kind} {constraint.id} uses unknown role {role}")
        if isinstance(constraint, ColocationConstraint):
            if not _is_valid_score(constraint.score):
                problems.append(f"colocation {constraint.id} has invalid score "
                                f"{constraint.score!r}")
            if constraint.resource and constraint.resource == constraint.with_resource:
                problems.append(f"colocation {constraint.id} colocates {constraint.resource} "
                                f"with itself")
        if isinstance(constraint, OrderConstraint):
            if constraint.kind is not None and constraint.kind.lower() not in (
                    name.lower() for name in ORDER_KINDS):
                problems.append(f"order {constraint.id} has unknown kind {constraint.kind}")
            if constraint.first and constraint.first == constraint.then and (
                    constraint.first_action or "start") == (constraint.then_action or "start"):
                problems.append(f"order {constraint.id} orders {constraint.first} after "
                                f"itself")
        if isinstance(constraint, LocationConstraint):
            if constraint.node is not None and not _is_valid_score(constraint.score):
                problems.append(f"location {constraint.id} has invalid score "
                                f"{constraint.score!r}")
            if not (constraint.resource or constraint.resource_pattern is not None
                    or constraint.resource_sets):
                problems.append(f"location {constraint.id} names no resource")
            if (constraint.node is None and not constraint.rules):
                problems.append(f"location {constraint.id} has neither a node nor a rule")
    problems.extend(_order_cycles(configuration))
    primitives = {primitive.id: primitive for primitive in configuration.all_primitives()}
    for level in configuration.fencing_topology:
        target = level.target or level.target_pattern or level.target_attribute or "?"
        if not 1 <= level.index <= 9:
            problems.append(f"fencing level {level.index} for {target} is outside 1-9")
        for device in level.devices:
            primitive = primitives.get(device)
            if primitive is None:
                problems.append(f"fencing level {level.index} for {target} names unknown "
                                f"device {device}")
            elif primitive.agent_class != "stonith":
                problems.append(f"fencing level {level.index} for {target} names {device}, "
                                f"which is not a stonith resource")
    return problems


# ---------------------------------------------------------------- load update / replace


def resources_without(resources: tuple[Resource, ...], removed: set[str]
                      ) -> tuple[Resource, ...]:
    """The resources without those in `removed`, nested ones included; a group or clone
    left empty goes too."""
    kept = []
    for resource in resources:
        if resource.id in removed:
            continue
        inner = _replace_inside(resource, {}, removed)
        if inner is not None:
            kept.append(inner)
    return tuple(kept)


def _replace_inside(resource: Resource, replacements: dict[str, Resource],
                    removed: set[str]) -> Resource | None:
    """`resource` with nested members replaced or removed; None when it empties out."""
    if isinstance(resource, Group):
        members = []
        for member in resource.members:
            if member.id in removed:
                continue
            replacement = replacements.get(member.id)
            if isinstance(replacement, Primitive):
                members.append(replacement)
            elif replacement is None:
                members.append(member)
        if not members:
            return None
        return replace(resource, members=tuple(members))
    if isinstance(resource, Clone):
        child = resource.child
        if child.id in removed:
            return None
        replacement = replacements.get(child.id)
        if isinstance(replacement, (Primitive, Group)):
            return replace(resource, child=replacement)
        inner = _replace_inside(child, replacements, removed)
        if inner is None:
            return None
        return replace(resource, child=inner)  # type: ignore[arg-type]
    return resource


def _merge_pairs(base: Pairs, update: Pairs) -> Pairs:
    names = {name for name, _ in update}
    return tuple(pair for pair in base if pair[0] not in names) + tuple(update)


def _merge_sets(base: tuple[AttributeSet, ...], update: tuple[AttributeSet, ...]
                ) -> tuple[AttributeSet, ...]:
    result = list(base)
    for item in update:
        for index, existing in enumerate(result):
            if existing.id == item.id:
                result[index] = replace(item, values=_merge_pairs(existing.values, item.values))
                break
        else:
            result.append(item)
    return tuple(result)


def _merge_by_key(base: tuple, update: tuple, key) -> tuple:
    replacements = {key(item): item for item in update}
    result = [replacements.pop(key(item), item) for item in base]
    result.extend(item for item in update if key(item) in replacements)
    return tuple(result)


def merge_update(base: Configuration, update: Configuration) -> Configuration:
    """`configure load update`: objects of `update` replace those of `base` with the same
    id in place (a primitive inside a group stays in its group); new objects are appended;
    properties and defaults sets merge name by name; a fencing topology in `update`
    replaces the whole topology."""
    top_update = {resource.id: resource for resource in update.resources}
    nested_update = {item.id for resource in update.resources
                     for item in walk_resource(resource)} - set(top_update)
    resources: list[Resource] = []
    placed: set[str] = set()
    for resource in base.resources:
        if resource.id in nested_update:
            continue
        if resource.id in top_update:
            resources.append(top_update[resource.id])
            placed.add(resource.id)
            continue
        updated = _replace_inside(resource, top_update, nested_update)
        if updated is None:
            continue
        nested_now = {item.id for item in walk_resource(updated)} - {updated.id}
        placed.update(nested_now & set(top_update))
        resources.append(updated)
    resources.extend(resource for resource in update.resources if resource.id not in placed)
    return replace(
        base,
        properties=_merge_pairs(base.properties, update.properties),
        nodes=_merge_by_key(base.nodes, update.nodes, lambda node: node.name),
        resources=tuple(resources),
        constraints=_merge_by_key(base.constraints, update.constraints, lambda item: item.id),
        rsc_defaults=_merge_sets(base.rsc_defaults, update.rsc_defaults),
        op_defaults=_merge_sets(base.op_defaults, update.op_defaults),
        fencing_topology=update.fencing_topology or base.fencing_topology,
        tags=_merge_by_key(base.tags, update.tags, lambda item: item.id),
        templates=_merge_by_key(base.templates, update.templates, lambda item: item.id),
        conditional_properties=_merge_sets(base.conditional_properties,
                                           update.conditional_properties),
    )


def merge_replace(base: Configuration, replacement: Configuration) -> Configuration:
    """`configure load replace`: the replacement is the whole configuration, except that
    the node list of `base` stays when the replacement lists no nodes (nodes are members,
    not configuration an operator edits away by omission)."""
    if replacement.nodes:
        return replacement
    return replace(replacement, nodes=base.nodes)


def load_configuration(base: Configuration, text: str, mode: str) -> Configuration:
    """Parse `text` and apply it to `base` with `mode` "update" or "replace"; raises
    CrmSyntaxError (nothing is applied) or ValueError for an unknown mode."""
    if mode not in ("update", "replace"):
        raise ValueError(f"unknown load mode {mode!r} (expected update or replace)")
    if mode == "replace":
        return merge_replace(base, parse_configuration(text))
    return merge_update(base, parse_configuration(text, base=base))
