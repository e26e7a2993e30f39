"""Terraform, read offline with python-hcl2 (there is no terraform binary to ask)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULES = TERRAFORM / "modules"
ENVIRONMENTS = ("dev", "prod")
OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def tf_files() -> list[Path]:
    return sorted(p for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts)


def load(path: Path) -> dict:
    with path.open() as f:
        return hcl2.load(f, serialization_options=OPTIONS)


class Module:
    """Every top-level block of one Terraform folder, merged across its files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.blocks: dict[str, list] = defaultdict(list)
        for path in sorted(folder.glob("*.tf")):
            for kind, items in load(path).items():
                self.blocks[kind].extend(items)

    def _named(self, kind: str, type_: str | None = None) -> dict[str, dict]:
        out = {}
        for item in self.blocks.get(kind, []):
            if type_ is None:
                out.update(item)
            elif type_ in item:
                out.update(item[type_])
        return out

    def resources(self, type_: str) -> dict[str, dict]:
        return self._named("resource", type_)

    def data(self, type_: str) -> dict[str, dict]:
        return self._named("data", type_)

    @property
    def variables(self) -> dict[str, dict]:
        return self._named("variable")

    @property
    def outputs(self) -> dict[str, dict]:
        return self._named("output")

    @property
    def modules(self) -> dict[str, dict]:
        return self._named("module")

    @property
    def terraform(self) -> dict:
        merged: dict = {}
        for item in self.blocks.get("terraform", []):
            merged.update(item)
        return merged

    def policy_statements(self, document: str) -> list[dict]:
        """Statements of an aws_iam_policy_document, dynamic ones included."""
        doc = self.data("aws_iam_policy_document")[document]
        statements = list(doc.get("statement", []))
        for dynamic in doc.get("dynamic", []):
            for block in dynamic.get("statement", {}).get("content", []) if dynamic else []:
                statements.append(block)
        return statements


def module(name: str) -> Module:
    return Module(MODULES / name)


def environment(name: str) -> Module:
    return Module(TERRAFORM / "environments" / name)


def unwrap(expression: str) -> str:
    """`${var.x}` -> `var.x` (a whole-expression interpolation)."""
    if isinstance(expression, str) and expression.startswith("${") and expression.endswith("}"):
        return expression[2:-1]
    return expression


@pytest.fixture(scope="session")
def platform() -> Module:
    return module("medallion_platform")
