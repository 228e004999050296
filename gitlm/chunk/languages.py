"""The language table: how each tree-sitter grammar's nodes become outline entries.

One `Analyzer` per language, built from the compiled grammar its PyPI wheel ships
(tree-sitter-rust, tree-sitter-python, ...: offline, no download at run time). Adding a
language is one entry in `ANALYZERS`: its grammar, the rules that turn node types into units
(function, method, test, type, interface, impl, module, section, key), which siblings attach
to the unit that follows them (doc comments, attributes), and how a path becomes a module
path.

A rule sees a node (and the comments/attributes just before it) and returns a `Found`, or
None for a plain statement. `Found.body` is the node whose named children are the unit's
members: classes, impl blocks, traits, modules, `describe(...)` callbacks, config sections
and Markdown sections hold other entries; a function's body is only read as members when the
function is too large for one chunk and must be split.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import tree_sitter

Node = tree_sitter.Node

# Entry kinds. Units are what a chunk can stand for; the rest are plain statements (imports,
# assignments, comments, fields) and blocks (#ifdef ... #endif), chunked with their neighbours.
CALLABLE_KINDS = frozenset({"function", "method", "test"})
UNIT_KINDS = CALLABLE_KINDS | {"type", "interface", "impl", "module", "section", "key"}


@dataclass(slots=True)
class Found:
    """What a rule recognised: the unit's kind and name, and where its members are."""

    kind: str
    name: str | None
    body: Node | None = None  # node whose named children are the members
    nested: bool = False  # members may be units (class, impl, module, section): always read them
    test: bool = False  # a test (or a test container: class TestX, mod tests, describe)
    scope: str | None = None  # how members qualify their names (default: name)
    # members are separated (by commas: a JavaScript object's properties), so one does not
    # parse on its own: a change inside re-parses the whole container (outline.derive)
    separated: bool = False


Rule = Callable[[Node, Sequence[Node]], "Found | None"]


@dataclass(frozen=True)
class Analyzer:
    """A language: grammar, unit rules, attachments, module paths."""

    name: str
    grammar: Callable[[], Any]
    rules: Mapping[str, Rule]
    family: str = "code"  # code | config | docs (change_type rules read this)
    attach: frozenset[str] = frozenset()  # leading siblings that belong to the next unit
    transparent: frozenset[str] = frozenset()  # wrappers whose named children are the level's entries
    skip: frozenset[str] = frozenset()  # named children that are never entries (keys, headings)
    separator: str = "."
    module_path: Callable[[str], str | None] = field(default=lambda path: None)
    # Whether a changed region may be re-parsed on its own (see outline.derive). Off where a
    # change can re-nest text outside the region (Markdown heading levels), where the region
    # is not valid on its own (JSON pairs without their object's braces), or where extras
    # land differently in a region parse (YAML comments); those files are small.
    incremental: bool = True
    # Indentation-sensitive grammars accept indented text at the start of a region without an
    # error, so re-parsed entries must sit at their level's indentation (this comment prefix
    # marks lines that may sit anywhere).
    indented: bytes | None = None
    # Whether text after a blank line can never continue the entry above it, except where a
    # region parse fails or the indentation check (`indented`) rejects it: then a change
    # re-parses only the entries it overlaps or borders directly (and its own new text), not
    # its neighbours across blank lines; a wider region is re-parsed when that fails. Not
    # TOML: keys after a blank line still belong to the table above.
    blank_separates: bool = False

    @property
    def language(self) -> tree_sitter.Language:
        return _language(self.grammar)


@cache
def _language(grammar: Callable[[], Any]) -> tree_sitter.Language:
    return tree_sitter.Language(grammar())


# -- helpers ---------------------------------------------------------------------------


def text(node: Node | None) -> str | None:
    text = node.text if node is not None else None
    return text.decode("utf-8", "replace") if text is not None else None


def field_text(node: Node, name: str) -> str | None:
    return text(node.child_by_field_name(name))


def _named(kind: str, *, body: str | None = None, nested: bool = False, name_field: str = "name",
           test: Callable[[Node, str | None, Sequence[Node]], bool] | None = None) -> Rule:
    """A rule for a node with a `name` field and (optionally) a `body` field."""

    def rule(node: Node, leading: Sequence[Node]) -> Found:
        name = field_text(node, name_field)
        found = Found(kind, name, node.child_by_field_name(body) if body else None, nested)
        if test is not None and test(node, name, leading):
            found.test = True
            if kind in CALLABLE_KINDS:
                found.kind = "test"
        return found

    return rule


def _first_string(arguments: Node | None) -> str | None:
    if arguments is None:
        return None
    for child in arguments.named_children:
        if child.type in ("string", "template_string"):
            value = text(child) or ""
            return value[1:-1] if len(value) >= 2 else value
    return None


# -- Python ----------------------------------------------------------------------------


def _python_test(node: Node, name: str | None, leading: Sequence[Node]) -> bool:
    return name is not None and name.startswith("test")


def _python_class(node: Node, leading: Sequence[Node]) -> Found:
    name = field_text(node, "name")
    return Found("type", name, node.child_by_field_name("body"), nested=True, test=name is not None and name.startswith("Test"))


_python_function = _named("function", body="body", test=_python_test)
_PYTHON_DEFINITIONS: dict[str, Rule] = {"function_definition": _python_function, "class_definition": _python_class}


def _python_decorated(node: Node, leading: Sequence[Node]) -> Found | None:
    inner = node.child_by_field_name("definition")
    rule = _PYTHON_DEFINITIONS.get(inner.type) if inner is not None else None
    return rule(inner, leading) if rule is not None and inner is not None else None


def python_module(path: str) -> str | None:
    """`pkg/module.py` -> `pkg.module`; `src/` layouts drop `src`; `__init__` names the package."""
    stem = path.rsplit(".", 1)[0]
    parts = [p for p in stem.split("/") if p]
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or None


PYTHON = Analyzer(
    "python", lambda: _grammar("tree_sitter_python"),
    {**_PYTHON_DEFINITIONS, "decorated_definition": _python_decorated},
    attach=frozenset({"comment"}), module_path=python_module, indented=b"#", blank_separates=True,
)


# -- Rust ------------------------------------------------------------------------------

_RUST_TEST_ATTRIBUTE = re.compile(r"#\[\s*(?:[\w:]*::)?(?:test|rstest|test_case|quickcheck|proptest)\b")


def _rust_test(node: Node, name: str | None, leading: Sequence[Node]) -> bool:
    return any(n.type == "attribute_item" and _RUST_TEST_ATTRIBUTE.match(text(n) or "") for n in leading)


def _rust_type_name(node: Node | None) -> str | None:
    """`Wrapper<T>` -> `Wrapper`, `fmt::Display` -> `Display`, `&'a Foo` -> `Foo`."""
    while node is not None and node.type not in ("type_identifier", "primitive_type", "identifier"):
        inner = node.child_by_field_name("type") or node.child_by_field_name("name")
        if inner is None:
            named = [c for c in node.named_children if c.type not in ("type_arguments", "lifetime")]
            inner = named[-1] if named else None
        node = inner
    return text(node)


def _rust_impl(node: Node, leading: Sequence[Node]) -> Found:
    target = _rust_type_name(node.child_by_field_name("type"))
    trait = _rust_type_name(node.child_by_field_name("trait"))
    name = f"{trait} for {target}" if trait else target
    return Found("impl", name, node.child_by_field_name("body"), nested=True, scope=target)


def _rust_mod(node: Node, leading: Sequence[Node]) -> Found:
    name = field_text(node, "name")
    is_test = name in ("test", "tests") or any("cfg(test)" in (text(n) or "").replace(" ", "") for n in leading)
    return Found("module", name, node.child_by_field_name("body"), nested=True, test=is_test)


def rust_module(path: str) -> str | None:
    """`src/energy_market/disputes.rs` -> `energy_market::disputes` (crate-relative: the part
    after the last `src/`; `mod.rs` names its directory, `lib.rs`/`main.rs` the crate)."""
    parts = [p for p in path.rsplit(".", 1)[0].split("/") if p]
    if "src" in parts:
        parts = parts[len(parts) - parts[::-1].index("src"):]
    elif parts and parts[0] in ("tests", "examples", "benches"):
        parts = parts[1:]
    if parts and parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return "crate"
    return "::".join(parts) or None


RUST = Analyzer(
    "rust", lambda: _grammar("tree_sitter_rust"),
    {
        "function_item": _named("function", body="body", test=_rust_test),
        "struct_item": _named("type", body="body"),
        "enum_item": _named("type", body="body"),
        "union_item": _named("type", body="body"),
        "type_item": _named("type"),
        "trait_item": _named("interface", body="body", nested=True),
        "impl_item": _rust_impl,
        "mod_item": _rust_mod,
        "macro_definition": _named("function"),
    },
    attach=frozenset({"line_comment", "block_comment", "attribute_item"}),
    separator="::", module_path=rust_module, blank_separates=True,
)


# -- JavaScript / TypeScript -----------------------------------------------------------

_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_TEST_CALLS = frozenset({"it", "test", "specify", "xit", "fit", "xtest"})
_SUITE_CALLS = frozenset({"describe", "context", "suite", "xdescribe", "fdescribe"})


def _callee_name(node: Node | None) -> str | None:
    """`it` for it(...), it.only(...), it.each([...])(...)."""
    while node is not None:
        if node.type == "identifier":
            return text(node)
        if node.type == "member_expression":
            node = node.child_by_field_name("object")
        elif node.type == "call_expression":
            node = node.child_by_field_name("function")
        else:
            return None
    return None


def _js_call(node: Node, leading: Sequence[Node]) -> Found | None:
    """An expression statement that holds code worth its own entries:
    `it("does x", () => {...})` is a test, `describe("X", () => {...})` a test suite;
    `Foo.prototype.bar = function () {...}` a function named `Foo.prototype.bar`; a module
    wrapper (`define([...], function (...) {...})`, `(function () {...})()`, any call whose
    last argument is a callback) is a block whose statements are read as entries of the
    level, so the functions inside it are units."""
    call = node.named_children[0] if node.named_child_count else None
    while call is not None and call.type in ("parenthesized_expression", "unary_expression") and call.named_child_count:
        call = call.named_children[-1]
    if call is None:
        return None
    if call.type == "internal_module":  # TypeScript `namespace X {}` parses as an expression
        return Found("module", field_text(call, "name"), call.child_by_field_name("body"), nested=True)
    if call.type == "assignment_expression":
        value = call.child_by_field_name("right")
        if value is not None and value.type in _FUNCTION_VALUES:
            return Found("function", field_text(call, "left"), value.child_by_field_name("body"))
        return _js_object_value(field_text(call, "left"), value)
    if call.type != "call_expression":
        return None
    callee = _callee_name(call.child_by_field_name("function"))
    arguments = call.child_by_field_name("arguments")
    if callee not in _TEST_CALLS and callee not in _SUITE_CALLS:
        function = call.child_by_field_name("function")
        while function is not None and function.type == "parenthesized_expression" and function.named_child_count:
            function = function.named_children[-1]
        if function is not None and function.type in _FUNCTION_VALUES:  # (function () {...})()
            body = function.child_by_field_name("body")
        else:
            body = _callback_body(arguments)
        return Found("block", None, body, nested=True) if body is not None else None
    name = _first_string(arguments)
    if callee in _TEST_CALLS:
        return Found("test", name, _callback_body(arguments), test=True)
    return Found("test", name, _callback_body(arguments), nested=True, test=True)


def _callback_body(arguments: Node | None) -> Node | None:
    if arguments is None:
        return None
    for child in reversed(arguments.named_children):
        if child.type in _FUNCTION_VALUES:
            body = child.child_by_field_name("body")
            return body if body is not None and body.type == "statement_block" else None
    return None


def _js_variable(node: Node, leading: Sequence[Node]) -> Found | None:
    """`const f = () => ...` / `let g = function () {}` is a function named f / g;
    `var IPython = (function (IPython) {...}(IPython));` a module wrapper (see _js_call)."""
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    if len(declarators) != 1:
        return None
    value = declarators[0].child_by_field_name("value")
    while value is not None and value.type == "parenthesized_expression" and value.named_child_count:
        value = value.named_children[-1]
    if value is None:
        return None
    name = field_text(declarators[0], "name")
    if value.type == "call_expression":
        function = value.child_by_field_name("function")
        while function is not None and function.type == "parenthesized_expression" and function.named_child_count:
            function = function.named_children[-1]
        if function is not None and function.type in _FUNCTION_VALUES:
            body = function.child_by_field_name("body")
        else:
            body = _callback_body(value.child_by_field_name("arguments"))
        return Found("block", None, body, nested=True) if body is not None else _js_object_value(name, value)
    if value.type not in _FUNCTION_VALUES:
        return _js_object_value(name, value)
    return Found("function", name, value.child_by_field_name("body"))


_CLASS_MAKERS = frozenset({"extend", "createClass"})  # Backbone/Ember/Vue `X.extend({...})`, React.createClass


def _js_object_value(name: str | None, value: Node | None) -> Found | None:
    """Objects whose properties are functions, assigned to a name, are read as containers of
    those functions: `var View = Backbone.View.extend({render: function () {...}})` (a class
    made by a library call, see _CLASS_MAKERS) and `Foo.prototype = {...}` are types whose
    members are methods; `module.exports = {...}` and `var utils = {...}` are modules of
    functions. Other values are plain statements."""
    if value is None or name is None:
        return None
    if value.type == "call_expression":
        function = value.child_by_field_name("function")
        made = function is not None and function.type == "member_expression" and field_text(function, "property") in _CLASS_MAKERS
        body = _methods_argument(value.child_by_field_name("arguments")) if made else None
        return Found("type", name, body, nested=True, separated=True) if body is not None else None
    body = _methods_object(value)
    if body is None:
        return None
    return Found("type" if name.endswith(".prototype") else "module", name, body, nested=True, separated=True)


def _methods_argument(arguments: Node | None) -> Node | None:
    """A call's last argument when it is an object holding functions."""
    if arguments is None or not arguments.named_child_count:
        return None
    return _methods_object(arguments.named_children[-1])


def _methods_object(node: Node | None, depth: int = 2) -> Node | None:
    """The node if it is an object literal with a function-valued property, directly or in
    an object one level down (a data literal's deeper objects are not searched)."""
    if node is None or node.type != "object":
        return None
    for child in node.named_children:
        if child.type == "method_definition":
            return node
        if child.type == "pair":
            value = child.child_by_field_name("value")
            if value is not None and (value.type in _FUNCTION_VALUES or (depth > 1 and _methods_object(value, depth - 1) is not None)):
                return node
    return None


def _js_pair(node: Node, leading: Sequence[Node]) -> Found | None:
    """A property of an object read as a container (see _js_object_value): a function
    (`render: function () {...}`), or an object of functions (`helpers: {...}`)."""
    key = node.child_by_field_name("key")
    value = node.child_by_field_name("value")
    if key is None or value is None:
        return None
    name = text(key) or ""
    if key.type == "string" and len(name) >= 2:
        name = name[1:-1]
    if value.type in _FUNCTION_VALUES:
        return Found("function", name, value.child_by_field_name("body"))
    body = _methods_object(value)
    return Found("module", name, body, nested=True, separated=True) if body is not None else None


def _js_class(node: Node, leading: Sequence[Node]) -> Found:
    return Found("type", field_text(node, "name"), node.child_by_field_name("body"), nested=True)


def _js_export(node: Node, leading: Sequence[Node]) -> Found | None:
    inner = node.child_by_field_name("declaration") or node.child_by_field_name("value")
    if inner is None:
        return None
    rule = _JS_RULES.get(inner.type) or _TS_RULES.get(inner.type)
    if rule is None:
        if inner.type in _FUNCTION_VALUES:  # export default function () {}
            return Found("function", "default", inner.child_by_field_name("body"))
        return None
    found = rule(inner, leading)
    if found is not None and found.name is None:
        found.name = "default"
    return found


_JS_RULES: dict[str, Rule] = {
    "function_declaration": _named("function", body="body"),
    "generator_function_declaration": _named("function", body="body"),
    "class_declaration": _js_class,
    "class": _js_class,
    "method_definition": _named("function", body="body"),
    "lexical_declaration": _js_variable,
    "variable_declaration": _js_variable,
    "expression_statement": _js_call,
    "export_statement": _js_export,
    "pair": _js_pair,  # only met as a member of an object read as a container
}

_TS_RULES: dict[str, Rule] = {
    "abstract_class_declaration": _js_class,
    "interface_declaration": _named("interface", body="body"),
    "type_alias_declaration": _named("type"),
    "enum_declaration": _named("type", body="body"),
    "internal_module": _named("module", body="body", nested=True),
    "module": _named("module", body="body", nested=True),
    "function_signature": _named("function"),
    "abstract_method_signature": _named("function"),
}


def js_module(path: str) -> str | None:
    """`src/components/Button.tsx` -> `src/components/Button`; `dir/index.js` -> `dir` (the
    specifier an import would use, relative to the repository root)."""
    stem = path.rsplit(".", 1)[0] if "." in posixpath.basename(path) else path
    if stem.endswith("/index"):
        stem = stem[: -len("/index")]
    return stem or None


JAVASCRIPT = Analyzer(
    "javascript", lambda: _grammar("tree_sitter_javascript"), _JS_RULES,
    attach=frozenset({"comment"}), module_path=js_module, blank_separates=True,
)
TYPESCRIPT = Analyzer(
    "typescript", lambda: _grammar("tree_sitter_typescript", "language_typescript"), {**_JS_RULES, **_TS_RULES},
    attach=frozenset({"comment"}), module_path=js_module, blank_separates=True,
)
TSX = Analyzer(
    "tsx", lambda: _grammar("tree_sitter_typescript", "language_tsx"), {**_JS_RULES, **_TS_RULES},
    attach=frozenset({"comment"}), module_path=js_module, blank_separates=True,
)


# -- Go --------------------------------------------------------------------------------

_GO_TEST = re.compile(r"^(Test|Benchmark|Fuzz|Example)([A-Z0-9_]|$)")


def _go_test(node: Node, name: str | None, leading: Sequence[Node]) -> bool:
    params = field_text(node, "parameters") or ""
    if not name or not _GO_TEST.match(name):
        return False
    return "testing." in params or name.startswith("Example")


def _go_method(node: Node, leading: Sequence[Node]) -> Found:
    receiver = node.child_by_field_name("receiver")
    owner = None
    if receiver is not None:
        for decl in receiver.named_children:
            owner = _rust_type_name(decl.child_by_field_name("type"))
            break
    name = field_text(node, "name")
    found = Found("method", f"{owner}.{name}" if owner else name, node.child_by_field_name("body"))
    if _go_test(node, name, leading):
        found.kind, found.test = "test", True
    return found


def _go_type(node: Node, leading: Sequence[Node]) -> Found:
    specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
    names = [field_text(s, "name") or "?" for s in specs]
    kinds = {spec_type.type for s in specs if (spec_type := s.child_by_field_name("type")) is not None}
    kind = "interface" if kinds == {"interface_type"} else "type"
    body = specs[0].child_by_field_name("type") if len(specs) == 1 else None
    if body is not None and body.type in ("struct_type", "interface_type"):
        body = next((c for c in body.named_children if c.type.endswith("_list")), body)
    else:
        body = None
    return Found(kind, ", ".join(names) or None, body)


def go_module(path: str) -> str | None:
    """A Go package is its directory: `pkg/server/http.go` -> `pkg/server` (None at the root)."""
    return posixpath.dirname(path) or None


GO = Analyzer(
    "go", lambda: _grammar("tree_sitter_go"),
    {
        "function_declaration": _named("function", body="body", test=_go_test),
        "method_declaration": _go_method,
        "type_declaration": _go_type,
    },
    attach=frozenset({"comment"}), module_path=go_module, blank_separates=True,
)


# -- Java ------------------------------------------------------------------------------

_JAVA_TEST = re.compile(r"@(?:\w+\.)*(?:Test|ParameterizedTest|RepeatedTest|TestFactory|TestTemplate)\b")


def _java_test(node: Node, name: str | None, leading: Sequence[Node]) -> bool:
    for child in node.children:
        if child.type == "modifiers":
            return bool(_JAVA_TEST.search(text(child) or ""))
    return False


def java_module(path: str) -> str | None:
    """`src/main/java/com/example/Account.java` -> `com.example.Account` (the class's fully
    qualified name: the path after `java/`, else after a leading `src/`)."""
    parts = [p for p in path.rsplit(".", 1)[0].split("/") if p]
    if "java" in parts[:-1]:
        parts = parts[len(parts) - 1 - parts[-2::-1].index("java"):]
    elif parts and parts[0] == "src":
        parts = parts[1:]
    return ".".join(parts) or None


JAVA = Analyzer(
    "java", lambda: _grammar("tree_sitter_java"),
    {
        "class_declaration": _named("type", body="body", nested=True),
        "record_declaration": _named("type", body="body", nested=True),
        "enum_declaration": _named("type", body="body", nested=True),
        "interface_declaration": _named("interface", body="body", nested=True),
        "annotation_type_declaration": _named("interface", body="body", nested=True),
        "method_declaration": _named("function", body="body", test=_java_test),
        "constructor_declaration": _named("function", body="body"),
    },
    attach=frozenset({"line_comment", "block_comment"}), module_path=java_module, blank_separates=True,
)


# -- C / C++ ---------------------------------------------------------------------------

_GTEST = frozenset({"TEST", "TEST_F", "TEST_P", "TYPED_TEST", "TYPED_TEST_P", "TEST_CASE", "SCENARIO", "BENCHMARK"})


def _declarator_name(node: Node | None) -> str | None:
    """The declared name under a C/C++ declarator chain (pointer, function, reference, ...)."""
    while node is not None:
        if node.type in ("identifier", "field_identifier", "qualified_identifier", "operator_name",
                         "destructor_name", "type_identifier", "template_function"):
            return text(node)
        inner = node.child_by_field_name("declarator")
        if inner is None:
            named = [c for c in node.named_children if c.type != "parameter_list"]
            inner = named[0] if named else None
        node = inner
    return None


def _c_function(node: Node, leading: Sequence[Node]) -> Found:
    declarator = node.child_by_field_name("declarator")
    name = _declarator_name(declarator)
    body = node.child_by_field_name("body")
    if name in _GTEST:
        function = declarator
        while function is not None and function.type != "function_declarator":
            function = function.child_by_field_name("declarator")
        params = function.child_by_field_name("parameters") if function is not None else None
        args = [text(p) or "" for p in params.named_children] if params is not None else []
        label = ".".join(a.strip().strip('"') for a in args) or name
        return Found("test", label, body, test=True)
    kind = "method" if name and "::" in name else "function"
    return Found(kind, name, body)


def _c_type(node: Node, leading: Sequence[Node]) -> Found | None:
    body = node.child_by_field_name("body")
    if body is None:
        return None  # a forward declaration or a use of the type
    return Found("type", field_text(node, "name"), body)


def _c_typedef(node: Node, leading: Sequence[Node]) -> Found | None:
    inner = node.child_by_field_name("type")
    if inner is None or inner.child_by_field_name("body") is None:
        return None
    return Found("type", _declarator_name(node.child_by_field_name("declarator")) or field_text(inner, "name"),
                 inner.child_by_field_name("body"))


def _wrapped_type(rules: Callable[[], Mapping[str, Rule]]) -> Rule:
    """`struct X {...};` can parse as a declaration holding the specifier: read the specifier."""

    def rule(node: Node, leading: Sequence[Node]) -> Found | None:
        inner = node.child_by_field_name("type")
        if inner is None or node.child_by_field_name("declarator") is not None:
            return None
        inner_rule = rules().get(inner.type)
        return inner_rule(inner, leading) if inner_rule is not None and inner.type != "declaration" else None

    return rule


def _cpp_template(node: Node, leading: Sequence[Node]) -> Found | None:
    for inner in reversed(node.named_children):
        rule = CPP.rules.get(inner.type)
        if rule is not None and inner.type != "template_declaration":
            return rule(inner, leading)
    return None


def _cpp_namespace(node: Node, leading: Sequence[Node]) -> Found:
    return Found("module", field_text(node, "name") or "(anonymous)", node.child_by_field_name("body"), nested=True)


def _preproc_block(node: Node, leading: Sequence[Node]) -> Found:
    return Found("block", None, node, nested=True)


def c_module(path: str) -> str | None:
    """`src/util/strings.c` -> `util/strings` (the path without extension and a leading
    `src/` or `include/`; headers and sources of one module share it)."""
    parts = [p for p in path.rsplit(".", 1)[0].split("/") if p]
    if len(parts) > 1 and parts[0] in ("src", "include", "lib"):
        parts = parts[1:]
    return "/".join(parts) or None


_C_RULES: dict[str, Rule] = {
    "function_definition": _c_function,
    "struct_specifier": _c_type,
    "union_specifier": _c_type,
    "enum_specifier": _c_type,
    "type_definition": _c_typedef,
    "declaration": _wrapped_type(lambda: C.rules),
    "preproc_if": _preproc_block,
    "preproc_ifdef": _preproc_block,
    "preproc_else": _preproc_block,
    "preproc_elif": _preproc_block,
    "preproc_elifdef": _preproc_block,
}

C: Analyzer = Analyzer(
    "c", lambda: _grammar("tree_sitter_c"), _C_RULES,
    attach=frozenset({"comment"}), skip=frozenset({"identifier", "preproc_defined", "binary_expression", "parenthesized_expression",
                                                   "unary_expression", "call_expression", "number_literal"}),
    module_path=c_module, blank_separates=True,
)


def _cpp_class(node: Node, leading: Sequence[Node]) -> Found | None:
    body = node.child_by_field_name("body")
    if body is None:
        return None
    return Found("type", field_text(node, "name"), body, nested=True)


CPP: Analyzer = Analyzer(
    "cpp", lambda: _grammar("tree_sitter_cpp"),
    {
        **_C_RULES,
        "class_specifier": _cpp_class,
        "struct_specifier": _cpp_class,
        "union_specifier": _cpp_class,
        "namespace_definition": _cpp_namespace,
        "template_declaration": _cpp_template,
        "linkage_specification": lambda node, leading: Found("block", None, node.child_by_field_name("body"), nested=True),
        "declaration": _wrapped_type(lambda: CPP.rules),
    },
    attach=frozenset({"comment"}), skip=C.skip, separator="::", module_path=c_module, blank_separates=True,
)


# -- config and documents ----------------------------------------------------------------

_TOML_KEYS = frozenset({"bare_key", "dotted_key", "quoted_key"})


def _toml_table(node: Node, leading: Sequence[Node]) -> Found:
    key = next((c for c in node.named_children if c.type in _TOML_KEYS), None)
    return Found("section", _unquote(text(key)), node, nested=True)


def _toml_pair(node: Node, leading: Sequence[Node]) -> Found:
    key = next((c for c in node.named_children if c.type in _TOML_KEYS), None)
    return Found("key", _unquote(text(key)))


def _unquote(value: str | None) -> str | None:
    if value is None:
        return None
    return ".".join(part.strip().strip("\"'") for part in value.split("."))


TOML = Analyzer(
    "toml", lambda: _grammar("tree_sitter_toml"),
    {"table": _toml_table, "table_array_element": _toml_table, "pair": _toml_pair},
    family="config", attach=frozenset({"comment"}), skip=_TOML_KEYS,
)


def _yaml_pair(node: Node, leading: Sequence[Node]) -> Found:
    name = field_text(node, "key")
    value = node.child_by_field_name("value")
    body = None
    if value is not None and value.type == "block_node":
        inner = value.named_children[0] if value.named_child_count else None
        if inner is not None and inner.type in ("block_mapping", "block_sequence"):
            body = inner
    return Found("section" if body is not None else "key", name, body, nested=body is not None)


YAML = Analyzer(
    "yaml", lambda: _grammar("tree_sitter_yaml"),
    {"block_mapping_pair": _yaml_pair},
    family="config", attach=frozenset({"comment"}),
    transparent=frozenset({"stream", "document", "block_node", "block_mapping"}), indented=b"#",
    incremental=False,  # comments and sequence items sit differently in a region parse; YAML files are small
)


def _json_pair(node: Node, leading: Sequence[Node]) -> Found:
    key = node.child_by_field_name("key")
    name = text(key.named_children[0]) if key is not None and key.named_child_count else _unquote(text(key))
    value = node.child_by_field_name("value")
    body = value if value is not None and value.type in ("object", "array") else None
    return Found("section" if body is not None else "key", name, body, nested=body is not None)


JSON = Analyzer(
    "json", lambda: _grammar("tree_sitter_json"),
    {"pair": _json_pair},
    family="config", transparent=frozenset({"document", "object"}), incremental=False,
)


def _markdown_section(node: Node, leading: Sequence[Node]) -> Found:
    heading = node.named_children[0] if node.named_child_count else None
    name = None
    if heading is not None and heading.type in ("atx_heading", "setext_heading"):
        content = heading.child_by_field_name("heading_content")
        if content is None:
            content = next((c for c in heading.named_children if c.type in ("inline", "paragraph")), None)
        name = (text(content) or "").strip() or None
    return Found("section", name, node, nested=True)


MARKDOWN = Analyzer(
    "markdown", lambda: _grammar("tree_sitter_markdown"),
    {"section": _markdown_section},
    family="docs", skip=frozenset({"atx_heading", "setext_heading"}), separator=" > ", incremental=False,
)


# -- the table -------------------------------------------------------------------------


def _grammar(module: str, function: str = "language") -> Any:
    import importlib

    return getattr(importlib.import_module(module), function)()


ANALYZERS: dict[str, Analyzer] = {
    a.name: a for a in (PYTHON, RUST, JAVASCRIPT, TYPESCRIPT, TSX, GO, JAVA, C, CPP, TOML, YAML, JSON, MARKDOWN)
}

# Languages chunked without tree-sitter, by their own small readers (gitlm/chunk/ini.py).
CONFIG_LANGUAGES = frozenset({"toml", "yaml", "json", "ini", "xml"})
DOC_LANGUAGES = frozenset({"markdown", "restructuredtext", "text", "latex"})


def analyzer_for(language: str | None) -> Analyzer | None:
    return ANALYZERS.get(language) if language else None
