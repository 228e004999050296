"""A small multi-language project whose commits do exactly one kind of change each, for the
chunker's tests: add, modify, delete a function; add tests; rename a struct; change TOML keys;
edit a Markdown section; fix a bug. Built with real git (tests/gitrepo.py)."""

from __future__ import annotations

from tests.gitrepo import GitRepo

RUST_V1 = """\
pub struct Dispute {
    pub id: u32,
}

pub fn open(id: u32) -> Dispute {
    Dispute { id }
}
"""

RUST_V2 = RUST_V1 + """
pub fn close(dispute: Dispute) -> u32 {
    dispute.id
}
"""

RUST_V3 = """\
pub struct Dispute {
    pub id: u32,
}

pub fn open(id: u32) -> Dispute {
    Dispute { id: id + 1 }
}

pub fn close(dispute: Dispute) -> u32 {
    dispute.id
}
"""

RUST_V4 = """\
pub struct Dispute {
    pub id: u32,
}

pub fn open(id: u32) -> Dispute {
    Dispute { id: id + 1 }
}
"""

RUST_V5 = RUST_V4 + """
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens() {
        assert_eq!(open(1).id, 2);
    }
}
"""

RUST_V5B = RUST_V5.replace("""        assert_eq!(open(1).id, 2);
    }
}
""", """        assert_eq!(open(1).id, 2);
    }

    #[test]
    fn opens_twice() {
        assert_eq!(open(open(1).id).id, 3);
    }
}
""")

RUST_V6 = RUST_V5B.replace("pub struct Dispute {", "pub struct Claim {")

PYTHON_V1 = """\
def total(items):
    return sum(items)
"""

PYTHON_V2 = PYTHON_V1 + """

def refund(items, share):
    return total(items) * share
"""

PYTHON_V3 = """\
def total(items):
    return sum(item for item in items)


def refund(items, share):
    return total(items) * share
"""

PYTHON_V4 = """\
def total(items):
    return sum(item for item in items)
"""

PYTHON_V5 = """\
def total(items):
    return sum(item for item in items if item is not None)
"""

PYTHON_TESTS = """\
from pkg.billing import total


def test_total():
    assert total([1, 2]) == 3
"""

TS_V1 = """\
export function count(items: number[]): number {
  return items.length;
}
"""

TS_V2 = TS_V1 + """
export function sum(items: number[]): number {
  return items.reduce((a, b) => a + b, 0);
}
"""

TS_V3 = """\
export function count(items: number[]): number {
  return items.filter((item) => item > 0).length;
}

export function sum(items: number[]): number {
  return items.reduce((a, b) => a + b, 0);
}
"""

TS_V4 = """\
export function count(items: number[]): number {
  return items.filter((item) => item > 0).length;
}
"""

TS_TESTS = """\
import { count } from "./cart";

describe("count", () => {
  it("counts items", () => {
    expect(count([1, 2])).toBe(2);
  });
});
"""

TS_TESTS_V2 = """\
import { count } from "./cart";

describe("count", () => {
  it("counts items", () => {
    expect(count([1, 2])).toBe(2);
  });

  it("skips negatives", () => {
    expect(count([-1, 2])).toBe(1);
  });
});
"""

CARGO_V1 = """\
[package]
name = "market"
version = "0.1.0"

[dependencies]
serde = "1.0"
"""

CARGO_V2 = CARGO_V1.replace('version = "0.1.0"', 'version = "0.2.0"').replace('serde = "1.0"', 'serde = "1.0.200"')

README_V1 = """\
# Market

A market.

## Usage

Run it.

## License

MIT
"""

README_V2 = README_V1.replace("Run it.\n", "Run `market open`.\n")

RUST = "src/energy_market/disputes.rs"
PYTHON = "pkg/billing.py"
TS = "web/src/cart.ts"


def build_project(make_repo) -> tuple[GitRepo, dict[str, str]]:
    """The project and its commits by name."""
    repo = make_repo("project")
    commits: dict[str, str] = {}
    repo.write(RUST, RUST_V1)
    repo.write(PYTHON, PYTHON_V1)
    repo.write(TS, TS_V1)
    repo.write("Cargo.toml", CARGO_V1)
    repo.write("README.md", README_V1)
    commits["initial"] = repo.commit("Initial import")

    repo.write(RUST, RUST_V2)
    repo.write(PYTHON, PYTHON_V2)
    repo.write(TS, TS_V2)
    commits["add"] = repo.commit("Add close, refund and sum")

    repo.write(RUST, RUST_V3)
    repo.write(PYTHON, PYTHON_V3)
    repo.write(TS, TS_V3)
    commits["modify"] = repo.commit("Count only positive items")

    repo.write(RUST, RUST_V4)
    repo.write(PYTHON, PYTHON_V4)
    repo.write(TS, TS_V4)
    commits["delete"] = repo.commit("Drop close, refund and sum")

    repo.write(RUST, RUST_V5)
    repo.write("tests/test_billing.py", PYTHON_TESTS)
    repo.write("web/src/cart.test.ts", TS_TESTS)
    commits["tests"] = repo.commit("Add tests")

    repo.write("web/src/cart.test.ts", TS_TESTS_V2)
    repo.write(RUST, RUST_V5B)
    commits["more_tests"] = repo.commit("Test negative items and reopening")

    repo.write(RUST, RUST_V6)
    commits["rename"] = repo.commit("Rename Dispute to Claim")

    repo.write("Cargo.toml", CARGO_V2)
    commits["toml"] = repo.commit("Release 0.2.0 with a newer serde")

    repo.write("README.md", README_V2)
    commits["markdown"] = repo.commit("Explain usage")

    repo.write(PYTHON, PYTHON_V5)
    commits["fix"] = repo.commit("fix: total ignores missing items")
    return repo, commits
