"""Outlines per language (units, names, line spans), and the incremental derivation: an
outline derived from the previous version must equal a full parse of the new one."""

from __future__ import annotations

import pytest

from gitlm.chunk.diff import diff_texts
from gitlm.chunk.ini import ini_outline
from gitlm.chunk.languages import ANALYZERS, c_module, go_module, java_module, js_module, python_module, rust_module
from gitlm.chunk.outline import Entry, Extractor, LineIndex

SAMPLES = {
    "rust": """\
use std::fmt;

/// A dispute.
#[derive(Debug)]
pub struct Dispute { id: u32 }

pub trait Resolve { fn resolve(&self) -> bool; }

impl fmt::Display for Dispute {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { write!(f, "{}", self.id) }
}

impl<T> Wrapper<T> {
    pub fn new() -> Self { Wrapper }
}

pub fn open(id: u32) -> Dispute { Dispute { id } }

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn opens() { assert_eq!(open(1).id, 1); }
}
""",
    "python": """\
\"\"\"Module doc.\"\"\"
import os

X = 1


@decorator
def top(a):
    return a


class Foo(Base):
    \"\"\"Doc.\"\"\"

    y = 2

    def method(self):
        pass

    @property
    def prop(self):
        return 1

# trailing comment

def test_top():
    assert top(1) == 1


class TestFoo:
    def test_method(self):
        pass
""",
    "typescript": """\
import { x } from "./x";

export interface Shape { area(): number; }

export class Circle implements Shape {
  constructor(private r: number) {}
  area(): number { return Math.PI * this.r ** 2; }
}

export function make(r: number): Circle {
  return new Circle(r);
}

const helper = (a: number) => a + 1;

describe("Circle", () => {
  it("has an area", () => {
    expect(make(1).area()).toBeCloseTo(3.14);
  });
});
""",
    "javascript": """\
define([
    'base/js/namespace',
], function(IPython) {
    "use strict";

    var Cell = function (options) {
        this.x = 1;
    };

    Cell.prototype.render = function () {
        return 1;
    };

    var CellView = Backbone.View.extend({
        tagName: 'div',

        // Draws the cell.
        render: function () {
            return this;
        },

        update() {
            return 2;
        },
    });

    Cell.prototype = {
        'to-json': function () {},
    };

    return {'Cell': Cell};
});
""",
    "go": """\
package market

import "fmt"

// Server serves.
type Server struct {
	addr string
}

type Handler interface {
	Handle() error
}

func (s *Server) Start() error {
	return nil
}

func TestNew(t *testing.T) {
	fmt.Println(New())
}
""",
    "java": """\
package com.example;

/** Doc. */
public class Account extends Base {
    private int balance;

    public Account(int b) { balance = b; }

    @Test
    void deposits() { assertEquals(1, 1); }
}

interface Shape { double area(); }
""",
    "c": """\
#include <stdio.h>

typedef struct point { int x; } point_t;

static int *make(int n) {
    return 0;
}

#ifdef DEBUG
void debug(void) { }
#endif
""",
    "cpp": """\
namespace geo {

class Shape {
 public:
  int id() const { return id_; }
 private:
  int id_;
};

double Shape::perimeter() const {
  return 0;
}

}  // namespace geo

TEST(ShapeTest, HasArea) {
  EXPECT_EQ(1, 1);
}
""",
    "toml": """\
title = "x"

[package]
name = "market"
version = "0.1.0"

[dependencies]
serde = "1.0"
""",
    "yaml": """\
name: CI
jobs:
  build:
    runs-on: ubuntu
  test:
    runs-on: ubuntu
""",
    "json": """\
{
  "name": "pkg",
  "dependencies": {
    "a": "1.0"
  }
}
""",
    "markdown": """\
# Title

Intro.

## Install

Run it.

## Usage

Use it.
""",
}

EXPECTED = {
    "rust": [("statement", None, 0, 1), ("type", "Dispute", 2, 5), ("interface", "Resolve", 6, 7, [("statement", None, 0, 1)]),
             ("impl", "Display for Dispute", 8, 11, [("method", "fmt", 1, 2)]),
             ("impl", "Wrapper", 12, 15, [("method", "new", 1, 2)]), ("function", "open", 16, 17),
             ("module", "tests", 18, 24, [("statement", None, 2, 3), ("test", "opens", 3, 5)])],
    "python": [("statement", None, 0, 1), ("statement", None, 1, 2), ("statement", None, 3, 4), ("function", "top", 6, 9),
               ("type", "Foo", 11, 22, [("statement", None, 1, 2), ("statement", None, 3, 4), ("method", "method", 5, 7),
                                         ("method", "prop", 8, 11)]),
               ("comment", None, 23, 24), ("test", "test_top", 25, 27), ("type", "TestFoo", 29, 32, [("test", "test_method", 1, 3)])],
    "typescript": [("statement", None, 0, 1), ("interface", "Shape", 2, 3),
                   ("type", "Circle", 4, 8, [("method", "constructor", 1, 2), ("method", "area", 2, 3)]),
                   ("function", "make", 9, 12), ("function", "helper", 13, 14),
                   ("test", "Circle", 15, 20, [("test", "has an area", 1, 4)])],
    "javascript": [("block", None, 0, 32, [("statement", None, 3, 4), ("function", "Cell", 5, 8),
                                           ("function", "Cell.prototype.render", 9, 12),
                                           ("type", "CellView", 13, 25, [("statement", None, 1, 2), ("method", "render", 3, 7),
                                                                         ("method", "update", 8, 11)]),
                                           ("type", "Cell.prototype", 26, 29, [("method", "to-json", 1, 2)]),
                                           ("statement", None, 30, 31)])],
    "go": [("statement", None, 0, 1), ("statement", None, 2, 3), ("type", "Server", 4, 8), ("interface", "Handler", 9, 12),
           ("method", "Server.Start", 13, 16), ("test", "TestNew", 17, 20)],
    "java": [("statement", None, 0, 1),
             ("type", "Account", 2, 11, [("statement", None, 2, 3), ("method", "Account", 4, 5), ("test", "deposits", 6, 8)]),
             ("interface", "Shape", 12, 13, [("method", "area", 0, 1)])],
    "c": [("statement", None, 0, 1), ("type", "point_t", 2, 3), ("function", "make", 4, 7),
          ("block", None, 8, 11, [("function", "debug", 1, 2)])],
    "cpp": [("module", "geo", 0, 14, [("type", "Shape", 2, 8, [("statement", None, 1, 2), ("method", "id", 2, 3),
                                                                  ("statement", None, 3, 4), ("statement", None, 4, 5)]),
                                      ("method", "Shape::perimeter", 9, 12)]),
            ("comment", None, 13, 14), ("test", "ShapeTest.HasArea", 15, 18)],
    "toml": [("key", "title", 0, 1), ("section", "package", 2, 5, [("key", "name", 1, 2), ("key", "version", 2, 3)]),
             ("section", "dependencies", 6, 8, [("key", "serde", 1, 2)])],
    "yaml": [("key", "name", 0, 1), ("section", "jobs", 1, 6, [("section", "build", 1, 3, [("key", "runs-on", 1, 2)]),
                                                              ("section", "test", 3, 5, [("key", "runs-on", 1, 2)])])],
    "json": [("key", "name", 1, 2), ("section", "dependencies", 2, 5, [("key", "a", 1, 2)])],
    "markdown": [("section", "Title", 0, 11, [("statement", None, 2, 3), ("section", "Install", 4, 7, [("statement", None, 2, 3)]),
                                             ("section", "Usage", 8, 11, [("statement", None, 2, 3)])])],
}


def _shape(entries: tuple[Entry, ...] | None) -> list[tuple]:
    out = []
    for e in entries or ():
        item = (e.kind, e.name, e.start, e.end)
        out.append(item + (_shape(e.members),) if e.members else item)
    return out


def _outline(language: str, text: str):
    data = text.encode()
    return Extractor(ANALYZERS[language], 1792).parse(data, LineIndex(data))


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_outline_per_language(language):
    outline = _outline(language, SAMPLES[language])
    assert not outline.has_error
    assert _shape(outline.entries) == EXPECTED[language]


def test_tests_are_marked():
    rust = _outline("rust", SAMPLES["rust"]).entries
    assert [e.test for e in rust[-1].members] == [True, True]  # everything in `mod tests`
    python = _outline("python", SAMPLES["python"]).entries
    assert [(e.name, e.test) for e in python if e.is_unit] == [("top", False), ("Foo", False), ("test_top", True), ("TestFoo", True)]


def test_ini_outline():
    data = b"top = 1\n\n[metadata]\nname = x\n# note\nversion = 1\n\n[options]\ninstall_requires =\n    a\n    b\n"
    assert _shape(ini_outline(data, LineIndex(data)).entries) == [
        ("key", "top", 0, 1),
        ("section", "metadata", 2, 6, [("key", "name", 1, 2), ("statement", None, 2, 3), ("key", "version", 3, 4)]),
        ("section", "options", 7, 11, [("key", "install_requires", 1, 4)]),
    ]


def test_module_paths():
    assert rust_module("src/energy_market/disputes.rs") == "energy_market::disputes"
    assert rust_module("crates/market/src/lib.rs") == "crate"
    assert rust_module("src/energy_market/mod.rs") == "energy_market"
    assert python_module("pkg/module.py") == "pkg.module"
    assert python_module("src/pkg/__init__.py") == "pkg"
    assert js_module("web/src/components/index.ts") == "web/src/components"
    assert go_module("pkg/server/http.go") == "pkg/server"
    assert java_module("src/main/java/com/example/Account.java") == "com.example.Account"
    assert c_module("src/util/strings.c") == "util/strings"


def test_syntax_error_is_reported():
    outline = _outline("python", "def f(:\n    pass\n")
    assert outline.has_error and outline.error_line == 1


def _edits(lines: list[str]):
    """Every single-line deletion, duplication and blank-line insertion."""
    for i in range(len(lines)):
        yield lines[:i] + lines[i + 1:]
        yield lines[:i + 1] + lines[i:]
        yield lines[:i] + [""] + lines[i:]


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_derived_outline_equals_a_full_parse(language):
    """Re-parsing only the touched entries gives exactly what parsing the new file gives,
    for every small edit of the sample that still parses."""
    extractor = Extractor(ANALYZERS[language], 1792)
    old_lines = SAMPLES[language].splitlines()
    old_data = SAMPLES[language].encode()
    old = extractor.parse(old_data, LineIndex(old_data))
    derived = 0
    for new_lines in _edits(old_lines):
        new_data = ("\n".join(new_lines) + "\n").encode()
        lines = LineIndex(new_data)
        full = extractor.parse(new_data, lines)
        diff = diff_texts(old_lines, new_lines)
        outline = extractor.derive(old, diff.blocks, new_data, lines)
        if full.has_error:  # the edit broke the file: a region parse must notice, not derive
            assert outline is None or outline.has_error, (language, new_lines)
            continue
        if outline is None:
            continue
        derived += 1
        assert _shape(outline.entries) == _shape(full.entries), (language, new_lines)
    incremental = ANALYZERS[language].incremental
    assert derived > (len(old_lines) if incremental else -1)


class _RangeRecorder:
    """Stands in for an Extractor's parser and records the lines of each region parse."""

    def __init__(self, parser):
        self._parser = parser
        self.regions: list[list[tuple[int, int]]] = []

    @property
    def included_ranges(self):
        return self._parser.included_ranges

    @included_ranges.setter
    def included_ranges(self, ranges):
        if ranges:
            self.regions.append([(r.start_point.row, r.end_point.row) for r in ranges])
        self._parser.included_ranges = ranges

    def parse(self, *args):
        return self._parser.parse(*args)


INSERTIONS = [
    # (language, old text, line to insert at, inserted lines, whether only the new text is re-parsed)
    ("python", "def a():\n    return 1\n\n\ndef b():\n    return 2\n", 3,
     ["def new(x):", "    return x", "", ""], True),
    ("python", "class A:\n    def a(self):\n        return 1\n\n\nclass B:\n    pass\n", 4,
     ["    # a method after blank lines: the class's, not the module's", "    def later(self):", "        pass", "", ""], True),
    ("python", "class A:\n    def a(self):\n        return 1\n\n\nclass B:\n    pass\n", 4,
     ["    def later(self):", "        pass", "", "", "def top():", "    pass", "", ""], False),  # it leaves the class again
    ("python", "def main():\n    x = 1\n\n\ndef other():\n    pass\n", 3,
     ["    # indented comments after a blank line stay in main's body", "    # (tree-sitter keeps them there)", ""], False),
    ("python", "def main():\n    x = 1\n\n\ndef other():\n    pass\n", 3,
     ["# a comment at column 0 after a blank line is the module's", ""], True),
    ("javascript", "function a() {\n  return 1;\n}\n\nfunction b() {\n  return 2;\n}\n", 4,
     ["function inserted(x) {", "  return x;", "}  // inserted", ""], True),
    ("rust", "fn a() -> u8 {\n    1\n}\n\nfn b() -> u8 {\n    2\n}\n", 4,
     ["/// documented", "fn inserted() {}", ""], True),
    ("toml", "[a]\nx = 1\n\n[b]\ny = 2\n", 3, ["z = 3", ""], False),  # still the table [a]'s key
    ("typescript", "export function a(): number {\n  return 1;\n}\n\nexport function b(): number {\n  return 2;\n}\n", 4,
     ["export class Inserted {", "  run(): void {}", "}  // inserted", ""], True),
    ("go", "package main\n\nfunc a() int {\n\treturn 1\n}\n\nfunc b() int {\n\treturn 2\n}\n", 6,
     ["// Inserted does nothing.", "func Inserted() {}", ""], True),
    ("java", "class A {\n    int a() {\n        return 1;\n    }\n\n    int b() {\n        return 2;\n    }\n}\n", 5,
     ["    void inserted() {", "    }  // inserted", ""], True),
    ("c", "int a(void) {\n    return 1;\n}\n\nint b(void) {\n    return 2;\n}\n", 4,
     ["#define TWICE(x) \\", "    ((x) * 2)", ""], True),
    ("cpp", "namespace n {\nint a() {\n    return 1;\n}\n\nint b() {\n    return 2;\n}\n}\n", 5,
     ["struct Inserted {", "    int x;", "};  // inserted", ""], True),
]


@pytest.mark.parametrize("language,text,at,inserted,alone", INSERTIONS)
def test_derived_outline_after_an_insertion_between_entries(language, text, at, inserted, alone):
    """Text inserted in the blank lines between two entries: the derived outline equals a
    full parse; where the grammar lets a blank line separate entries (Python, JavaScript,
    Rust, ...) and the text does not continue a leaf entry above, only the new text is
    re-parsed, not its neighbours (text that continues a class is parsed with the class's
    header line)."""
    extractor = Extractor(ANALYZERS[language], 1792)
    old_lines = text.splitlines()
    old_data = text.encode()
    old = extractor.parse(old_data, LineIndex(old_data))
    new_lines = old_lines[:at] + inserted + old_lines[at:]
    new_data = ("\n".join(new_lines) + "\n").encode()
    lines = LineIndex(new_data)
    (block,) = diff_texts(old_lines, new_lines).blocks
    recorder = extractor.parser = _RangeRecorder(extractor.parser)
    derived = extractor.derive(old, [block], new_data, lines)
    extractor.parser = recorder._parser
    full = extractor.parse(new_data, lines)
    assert derived is not None and not full.has_error
    assert _shape(derived.entries) == _shape(full.entries)
    # the parse that was kept: the new lines alone (besides the enclosing containers' header
    # and closing lines), or a wider run
    assert (tuple(block[2:]) in recorder.regions[-1]) == alone, recorder.regions


def _methods(count: int, indent: str = "    ") -> str:
    return "".join(f"{indent}def m{i}(self):\n{indent}    return {i}\n\n" for i in range(count))


JS_MODULE = ("define(['jquery'], function ($) {\n    \"use strict\";\n\n"
             + "".join(f"    var f{i} = function () {{\n        return {i};\n    }};\n\n" for i in range(40))
             + "    return f0;\n});\n")

HEADER_CHANGES = [
    # (language, old text, (line, replacement lines) edits, name of the container afterwards)
    ("python", "class Shell(object):\n" + _methods(30), [(0, ["class Shell(Base):"])], "Shell"),
    ("python", "class Shell(object):\n" + _methods(30), [(0, ["class InteractiveShell(Base,", "                       Mixin):"])],
     "InteractiveShell"),
    ("python", "class Shell(object):\n" + _methods(30), [(0, ["class Shell(Base):"]), (40, ["        return 'changed'"])], "Shell"),
    ("javascript", JS_MODULE, [(0, ["define(['jquery', 'base/js/utils'], function ($, utils) {"])], None),
    ("javascript", JS_MODULE, [(0, ["define([", "    'jquery',", "], function ($) {"]), (10, ["        return 'changed';"])], None),
]


@pytest.mark.parametrize("language,text,edits,name", HEADER_CHANGES)
def test_a_changed_container_header_reparses_the_header_not_the_container(language, text, edits, name):
    """A class's bases or a JavaScript module's dependencies change: the derived outline
    equals a full parse, and the header is parsed around the container's first member, not
    with every member."""
    extractor = Extractor(ANALYZERS[language], 1792)
    old_lines = text.splitlines()
    old = extractor.parse(text.encode(), LineIndex(text.encode()))
    new_lines = list(old_lines)
    for at, replacement in sorted(edits, reverse=True):
        new_lines[at:at + 1] = replacement
    new_data = ("\n".join(new_lines) + "\n").encode()
    lines = LineIndex(new_data)
    recorder = extractor.parser = _RangeRecorder(extractor.parser)
    derived = extractor.derive(old, diff_texts(old_lines, new_lines).blocks, new_data, lines)
    extractor.parser = recorder._parser
    full = extractor.parse(new_data, lines)
    assert derived is not None and not full.has_error
    assert _shape(derived.entries) == _shape(full.entries)
    (container,) = [e for e in derived.entries if e.members]
    assert container.name == name
    parsed = max(sum(b - a for a, b in region) for region in recorder.regions)
    assert parsed < len(new_lines) // 4, recorder.regions


def test_statements_added_before_a_closing_brace_are_members_not_closing_lines():
    """The closing lines of a large function include the blank lines before its `}`:
    statements inserted there are new members (the header re-parse must not take them for
    closing lines)."""
    body = "".join(f"    step{i}({i}, 'padding padding padding padding padding padding');\n" for i in range(40))
    text = "function big() {\n" + body + "\n\n}\n"
    extractor = Extractor(ANALYZERS["javascript"], 1792)
    old_lines = text.splitlines()
    old = extractor.parse(text.encode(), LineIndex(text.encode()))
    assert old.entries[0].members and old.entries[0].tail == 3
    new_lines = old_lines[:42] + ["    added(1);", "    added(2);"] + old_lines[42:]
    new_data = ("\n".join(new_lines) + "\n").encode()
    lines = LineIndex(new_data)
    derived = extractor.derive(old, diff_texts(old_lines, new_lines).blocks, new_data, lines)
    full = extractor.parse(new_data, lines)
    assert derived is not None and _shape(derived.entries) == _shape(full.entries)
    assert len(derived.entries[0].members) == 42


def test_a_second_callback_inserted_before_a_closing_line_re_reads_the_block():
    """`}, function (error) {` inserted between a callback's last statement and its `});`
    starts another body: the block's members are then the new callback's statements (what a
    full parse reads), not the first callback's with the new ones appended."""
    body = "".join(f"        step{i}({i}, 'padding padding padding padding padding padding');\n" for i in range(40))
    text = "var made = load(name).then(function (Model) {\n" + body + "        return made;\n    });\n"
    extractor = Extractor(ANALYZERS["javascript"], 1792)
    old_lines = text.splitlines()
    old = extractor.parse(text.encode(), LineIndex(text.encode()))
    assert old.entries[0].kind == "block" and len(old.entries[0].members) == 41
    new_lines = old_lines[:42] + ["    }, function (error) {", "        report(error);", "        return Promise.reject(error);"] + old_lines[42:]
    new_data = ("\n".join(new_lines) + "\n").encode()
    lines = LineIndex(new_data)
    derived = extractor.derive(old, diff_texts(old_lines, new_lines).blocks, new_data, lines)
    full = extractor.parse(new_data, lines)
    assert derived is not None and _shape(derived.entries) == _shape(full.entries)
    assert derived.entries[0].head == 43 and len(derived.entries[0].members) == 2


def test_a_property_added_without_its_comma_breaks_the_object():
    """An object's properties are separated by commas, so a property does not parse on its
    own: one inserted without its comma before another makes the file unparsable, which only
    a parse of the whole object notices (the derived outline must not hide it)."""
    text = ("var View = Backbone.View.extend({\n    render: function () {\n        return this;\n    },\n\n"
            "    update: function () {\n        return 2;\n    },\n});\n")
    extractor = Extractor(ANALYZERS["javascript"], 1792)
    old_lines = text.splitlines()
    old = extractor.parse(text.encode(), LineIndex(text.encode()))
    assert [(e.kind, e.name) for e in old.entries[0].members] == [("method", "render"), ("method", "update")]
    for added, breaks in ((["    draw: function () {", "        return 1;", "    }", ""], True),
                          (["    draw: function () {", "        return 1;", "    },", ""], False)):
        new_lines = old_lines[:5] + added + old_lines[5:]
        new_data = ("\n".join(new_lines) + "\n").encode()
        lines = LineIndex(new_data)
        derived = extractor.derive(old, diff_texts(old_lines, new_lines).blocks, new_data, lines)
        full = extractor.parse(new_data, lines)
        assert full.has_error is breaks
        if breaks:
            assert derived is None or derived.has_error
        else:
            assert derived is not None and _shape(derived.entries) == _shape(full.entries)
            assert [e.name for e in derived.entries[0].members] == ["render", "draw", "update"]
