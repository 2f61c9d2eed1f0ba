"""Well-formedness checks for the Junos configuration jcnrc generates (a test utility).

* :func:`parse_set_lines` checks ``set``/``delete`` command files, tokenized like the Junos CLI.
* :func:`parse_curly` checks curly-brace configuration text, including Platter's
  ``crpd-config.tmpl``, where Go text/template actions (``{{.NodeIP}}``,
  ``{{if .IsMasterNode}}``) are opaque tokens or lines.
* :func:`render_go_branches` evaluates only the ``if``/``else``/``end`` structure of a
  Go template for given booleans, so that each branch can be parsed on its own.
* :func:`flatten_to_set` turns a parsed tree into ``set`` paths for assertions.

This checks syntax, not semantics: it does not know the Junos schema beyond the
top-level hierarchy names. It is deliberately stricter than the Junos loader in
one respect: a statement must end with ``;`` or ``{`` on the line it starts on,
which catches a forgotten semicolon that the loader might join with the next line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "SET_VERBS",
    "TOP_LEVEL_STATEMENTS",
    "JunosSyntaxError",
    "Node",
    "TemplateError",
    "Tree",
    "flatten_to_set",
    "parse_curly",
    "parse_set_lines",
    "render_go_branches",
]

TOP_LEVEL_STATEMENTS = frozenset(
    {
        "groups",
        "apply-groups",
        "interfaces",
        "routing-instances",
        "routing-options",
        "protocols",
        "policy-options",
        "system",
        "services",
        "chassis",
        "forwarding-options",
        "snmp",
        "firewall",
    }
)
# activate/deactivate are accepted too: `load set` takes them, and flatten_to_set
# writes `deactivate` for statements marked `inactive:`.
SET_VERBS = ("set", "delete", "activate", "deactivate")
INACTIVE = "inactive:"


class JunosSyntaxError(ValueError):
    """Malformed configuration text; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class TemplateError(JunosSyntaxError):
    """A Go template construct that render_go_branches cannot evaluate."""


class Node(NamedTuple):
    tokens: tuple[str, ...]  # string values are unquoted; "inactive:" is kept as the first token
    children: list[Node] | None  # None for a leaf statement ending in ";"


Tree = list[Node]


# ---------------------------------------------------------------- tokenizer

WORD, STRING, PUNCT = "word", "string", "punct"
_PUNCTUATION = "{};[]"


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD, STRING (value unescaped) or PUNCT
    value: str
    line: int


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n")


def _is_control(char: str) -> bool:
    return (ord(char) < 0x20 and char not in "\t\n") or 0x7F <= ord(char) < 0xA0


class _Lexer:
    """Tokens of Junos text; Go actions ``{{...}}`` stay inside the word or string they occur in."""

    def __init__(self, text: str, *, first_line: int = 1, template_actions: bool, block_comments: bool) -> None:
        self.text = text
        self.position = 0
        self.line = first_line
        self.template_actions = template_actions
        self.block_comments = block_comments

    def tokens(self) -> list[_Token]:
        tokens = []
        while (token := self._next()) is not None:
            tokens.append(token)
        return tokens

    def _peek(self, length: int = 1) -> str:
        return self.text[self.position : self.position + length]

    def _advance(self, count: int = 1) -> None:
        self.line += self.text.count("\n", self.position, self.position + count)
        self.position += count

    def _next(self) -> _Token | None:
        self._skip_blanks_and_comments()
        if self.position >= len(self.text):
            return None
        char = self._peek()
        if char == '"':
            return self._string()
        if char in _PUNCTUATION and not self._at_action():
            self._advance()
            return _Token(PUNCT, char, self.line)
        return self._word()

    def _skip_blanks_and_comments(self) -> None:
        while self.position < len(self.text):
            char = self._peek()
            if char in " \t\n":
                self._advance()
            elif char == "#":
                end = self.text.find("\n", self.position)
                self._advance((len(self.text) if end < 0 else end) - self.position)
            elif self.block_comments and self._peek(2) == "/*":
                self._skip_block_comment()
            elif _is_control(char):
                raise JunosSyntaxError(self.line, f"control character {char!r}")
            else:
                return

    def _skip_block_comment(self) -> None:
        start_line = self.line
        end = self.text.find("*/", self.position + 2)
        if end < 0:
            raise JunosSyntaxError(start_line, "unterminated /* comment")
        self._advance(end + 2 - self.position)

    def _at_action(self) -> bool:
        return self.template_actions and self._peek(2) == "{{"

    def _skip_action(self) -> None:
        start_line = self.line
        end = self.text.find("}}", self.position + 2)
        if end < 0:
            raise JunosSyntaxError(start_line, "unterminated template action '{{'")
        self._advance(end + 2 - self.position)

    def _string(self) -> _Token:
        start_line = self.line
        self._advance()  # opening quote
        value = []
        while True:
            if self.position >= len(self.text) or self._peek() == "\n":
                raise JunosSyntaxError(start_line, "unterminated quoted string")
            char = self._peek()
            if char == '"':
                self._advance()
                return _Token(STRING, "".join(value), start_line)
            if _is_control(char):
                raise JunosSyntaxError(self.line, f"control character {char!r} in quoted string")
            if self._at_action():
                start = self.position
                self._skip_action()
                value.append(self.text[start : self.position])
            elif char == "\\" and self.position + 1 < len(self.text) and self._peek(2)[1] != "\n":
                value.append(self._peek(2)[1])
                self._advance(2)
            else:
                value.append(char)
                self._advance()

    def _word(self) -> _Token:
        start, start_line = self.position, self.line
        while self.position < len(self.text):
            char = self._peek()
            if self._at_action():
                self._skip_action()
            elif char in ' \t\n' or char in _PUNCTUATION:
                break
            elif char == '"':
                raise JunosSyntaxError(self.line, "quote inside a word; quote the whole value")
            elif _is_control(char):
                raise JunosSyntaxError(self.line, f"control character {char!r}")
            else:
                self._advance()
        return _Token(WORD, self.text[start : self.position], start_line)


# ---------------------------------------------------------------- set lines


def parse_set_lines(text: str, *, template_actions: bool = False) -> list[tuple[str, ...]]:
    """Token tuples of a ``set``-style configuration; blank lines and ``#`` comments are skipped.

    ``template_actions=True`` accepts Go actions inside words and strings
    (``set routing-options router-id {{.NodeIP}}``).
    """
    commands = []
    for number, line in enumerate(_normalize_newlines(text).split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lexer = _Lexer(line, first_line=number, template_actions=template_actions, block_comments=False)
        tokens = lexer.tokens()
        if not tokens:  # only a trailing "# comment" after blanks
            continue
        _check_set_command(tokens, number)
        commands.append(tuple(token.value for token in tokens))
    return commands


def _check_set_command(tokens: list[_Token], line: int) -> None:
    for token in tokens:
        if token.kind == PUNCT and token.value in "{};":
            raise JunosSyntaxError(line, f"{token.value!r} outside quotes in a set command")
    _check_brackets(tokens, line)
    words = [token.value for token in tokens]
    if tokens[0].kind != WORD or words[0] not in SET_VERBS:
        raise JunosSyntaxError(line, f"expected one of {', '.join(SET_VERBS)}, got {words[0]!r}")
    if len(words) < 2:
        raise JunosSyntaxError(line, f"{words[0]!r} without a configuration path")
    _check_top_level(words[1], line)
    # Inside a group the hierarchy starts again at the top level.
    if words[1] == "groups" and len(words) > 3 and (words[3] == "groups" or words[3] not in TOP_LEVEL_STATEMENTS):
        raise JunosSyntaxError(line, f"unknown hierarchy {words[3]!r} in group {words[2]!r}")


def _check_top_level(word: str, line: int) -> None:
    if word not in TOP_LEVEL_STATEMENTS:
        raise JunosSyntaxError(line, f"unknown top-level hierarchy {word!r}")


def _check_brackets(tokens: list[_Token], line: int) -> None:
    """``[ a b ]`` value lists: balanced, not nested, not empty."""
    opened_at = None
    for index, token in enumerate(tokens):
        if token.kind != PUNCT or token.value not in "[]":
            continue
        if token.value == "[":
            if opened_at is not None:
                raise JunosSyntaxError(token.line, "nested '['")
            opened_at = index
        else:
            if opened_at is None:
                raise JunosSyntaxError(token.line, "']' without '['")
            if index == opened_at + 1:
                raise JunosSyntaxError(token.line, "empty '[ ]' list")
            opened_at = None
    if opened_at is not None:
        raise JunosSyntaxError(line, "'[' without ']'")


# ------------------------------------------------------------ curly braces

_GO_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def parse_curly(text: str, *, template_actions: bool = True) -> Tree:
    """The statement tree of curly-brace configuration.

    With ``template_actions`` (the default) Go actions are opaque: inside a
    statement they are part of a token (``router-id {{.NodeIP}};``), and a line
    holding only Go actions (``{{if .IsMasterNode}}``, ``{{end}}``) is template
    control flow, left out of the tree; use render_go_branches to check what
    each branch produces. Pass False for plain configuration, where a quoted
    "{{" is just text.
    """
    lexer = _Lexer(_normalize_newlines(text), template_actions=template_actions, block_comments=True)
    tokens = _without_template_control_lines(lexer.tokens())
    return _CurlyParser(tokens).parse()


def _is_whole_action(token: _Token) -> bool:
    return token.kind == WORD and _GO_ACTION.sub("", token.value) == "" and "{{" in token.value


def _without_template_control_lines(tokens: list[_Token]) -> list[_Token]:
    by_line: dict[int, list[_Token]] = {}
    for token in tokens:
        by_line.setdefault(token.line, []).append(token)
    control_lines = {line for line, group in by_line.items() if all(_is_whole_action(t) for t in group)}
    return [token for token in tokens if token.line not in control_lines]


class _CurlyParser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.root: Tree = []
        self.blocks: list[tuple[Tree, int]] = [(self.root, 0)]  # (children, line of its "{")
        self.statement: list[_Token] = []

    def parse(self) -> Tree:
        for token in self.tokens:
            if token.kind != PUNCT or token.value in "[]":
                self._add_to_statement(token)
            elif token.value == ";":
                self._end_leaf(token)
            elif token.value == "{":
                self._open_block(token)
            else:
                self._close_block(token)
        if self.statement:
            raise self._missing_semicolon()
        if len(self.blocks) > 1:
            raise JunosSyntaxError(self.blocks[-1][1], "'{' is never closed")
        return self.root

    def _add_to_statement(self, token: _Token) -> None:
        if self.statement and token.line != self.statement[-1].line:
            raise self._missing_semicolon()
        self.statement.append(token)

    def _missing_semicolon(self) -> JunosSyntaxError:
        last = self.statement[-1]
        return JunosSyntaxError(last.line, f"statement '{_joined(self.statement)}' does not end with ';' or '{{'")

    def _take_statement(self, terminator: _Token) -> tuple[str, ...]:
        statement, self.statement = self.statement, []
        if not statement:
            raise JunosSyntaxError(terminator.line, f"{terminator.value!r} without a statement")
        if statement[-1].line != terminator.line:
            self.statement = statement
            raise self._missing_semicolon()
        _check_brackets(statement, terminator.line)
        values = tuple(token.value for token in statement)
        if INACTIVE in values[1:] or values == (INACTIVE,):
            raise JunosSyntaxError(terminator.line, f"'{INACTIVE}' must prefix a statement")
        return values

    def _end_leaf(self, token: _Token) -> None:
        self.blocks[-1][0].append(Node(self._take_statement(token), None))

    def _open_block(self, token: _Token) -> None:
        tokens = self._take_statement(token)
        if "[" in tokens:
            raise JunosSyntaxError(token.line, "a '[ ]' list cannot open a block")
        children: Tree = []
        self.blocks[-1][0].append(Node(tokens, children))
        self.blocks.append((children, token.line))

    def _close_block(self, token: _Token) -> None:
        if self.statement:
            raise self._missing_semicolon()
        if len(self.blocks) == 1:
            raise JunosSyntaxError(token.line, "'}' without a matching '{'")
        self.blocks.pop()


def _joined(tokens: list[_Token]) -> str:
    return " ".join(token.value for token in tokens)


# ---------------------------------------------------------------- flatten

_NEEDS_QUOTES = re.compile(r'[\s;{}\[\]"#\\]')


def _quoted(token: str) -> str:
    if token in ("[", "]"):
        return token
    # Go actions stay bare: they are replaced before Junos reads the text.
    if token and not _NEEDS_QUOTES.search(_GO_ACTION.sub("", token)):
        return token
    return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'


def flatten_to_set(tree: Tree, prefix: tuple[str, ...] = ()) -> list[str]:
    """``set`` commands for every leaf (and empty block), as ``show | display set`` prints them.

    A statement marked ``inactive:`` is followed by a ``deactivate`` command.
    """
    commands = []
    for tokens, children in tree:
        inactive = tokens[:1] == (INACTIVE,)
        path = prefix + (tokens[1:] if inactive else tokens)
        if children:
            commands.extend(flatten_to_set(children, path))
        else:
            commands.append("set " + " ".join(_quoted(word) for word in path))
        if inactive:
            commands.append("deactivate " + " ".join(_quoted(word) for word in path))
    return commands


# ------------------------------------------------------- Go template branches

_ACTION = re.compile(r"\{\{(?P<trim_left>-[ \t\n])?(?P<body>.*?)(?P<trim_right>[ \t\n]-)?\}\}", re.DOTALL)
_CONDITION = re.compile(r"^(?P<negated>not\s+)?\.(?P<name>[A-Za-z_]\w*)$")
_VALUE = re.compile(r"^\.(?P<name>[A-Za-z_][\w.]*)")
_UNSUPPORTED = re.compile(r"^(range|with|define|template|block|break|continue)\b")


@dataclass
class _Branch:
    """One open {{if}} while rendering (mutable)."""

    line: int
    parent_taken: bool  # the enclosing branch is being rendered
    taken: bool  # this arm is being rendered
    any_taken: bool  # some arm of this if/else chain was already taken
    seen_else: bool = False


def render_go_branches(text: str, /, *, placeholder: str = "__{name}__", **conditions: bool) -> str:
    """The text one branch of a Go template produces.

    Evaluates ``{{if .X}}``, ``{{if not .X}}``, ``{{else}}``, ``{{else if .X}}``
    and ``{{end}}`` (nested) with the booleans given as keyword arguments,
    honours ``{{-`` / ``-}}`` trim markers and drops ``{{/* comments */}}``.
    Every other action, e.g. ``{{.NodeIP}}``, becomes ``placeholder`` with
    ``{name}`` replaced by the field name. Skipped text is replaced by its
    newlines, so line numbers in the result match the template.
    """
    text = _normalize_newlines(text)
    pieces: list[str] = []
    stack: list[_Branch] = []
    position, trim_next = 0, False
    for action in _ACTION.finditer(text):
        literal = text[position : action.start()]
        if trim_next:
            literal = literal.lstrip(" \t\n")
        if action["trim_left"]:
            literal = literal.rstrip(" \t\n")
        rendering = not stack or stack[-1].taken
        pieces.append(literal if rendering else "\n" * literal.count("\n"))
        line = text.count("\n", 0, action.start()) + 1
        output = _apply_action(action["body"].strip(), line, stack, conditions, placeholder)
        pieces.append(output if rendering else "")
        pieces.append("\n" * action.group(0).count("\n"))  # keep multi-line actions' line count
        position, trim_next = action.end(), bool(action["trim_right"])
    if "{{" in text[position:]:
        raise TemplateError(text.count("\n", 0, text.index("{{", position)) + 1, "unterminated template action '{{'")
    if stack:
        raise TemplateError(stack[-1].line, "{{if}} without {{end}}")
    tail = text[position:]
    pieces.append(tail.lstrip(" \t\n") if trim_next else tail)
    return "".join(pieces)


def _apply_action(body: str, line: int, stack: list[_Branch], conditions: dict[str, bool], placeholder: str) -> str:
    """Update the branch stack for a control action; return what a value action renders to."""
    enclosing_taken = not stack or stack[-1].taken
    if body.startswith("/*") and body.endswith("*/"):
        return ""
    if body.startswith("if ") or body == "if":
        taken = enclosing_taken and _condition(body[2:].strip(), line, conditions)
        stack.append(_Branch(line, enclosing_taken, taken, taken))
    elif body == "else" or body.startswith("else if "):
        _else(body, line, stack, conditions)
    elif body == "end":
        if not stack:
            raise TemplateError(line, "{{end}} without {{if}}")
        stack.pop()
    elif _UNSUPPORTED.match(body):
        raise TemplateError(line, f"unsupported template action {{{{{body}}}}}")
    else:
        value = _VALUE.match(body)
        return placeholder.format(name=value["name"] if value else "value")
    return ""


def _else(body: str, line: int, stack: list[_Branch], conditions: dict[str, bool]) -> None:
    if not stack:
        raise TemplateError(line, "{{else}} without {{if}}")
    branch = stack[-1]
    if branch.seen_else:
        raise TemplateError(line, "{{else}} after {{else}}")
    if body == "else":
        branch.seen_else = True
        branch.taken = branch.parent_taken and not branch.any_taken
    else:
        branch.taken = branch.parent_taken and not branch.any_taken and _condition(body[7:].strip(), line, conditions)
    branch.any_taken = branch.any_taken or branch.taken


def _condition(expression: str, line: int, conditions: dict[str, bool]) -> bool:
    match = _CONDITION.match(expression)
    if not match:
        raise TemplateError(line, f"unsupported condition {expression!r}: use .X or not .X")
    name = match["name"]
    if name not in conditions:
        raise TemplateError(line, f"no value given for .{name}")
    return bool(conditions[name]) != bool(match["negated"])
