"""The README's gitlm.yaml reference lists every key with its real default."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gitlm.config import GitlmConfig

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_documents_every_config_key_and_default():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration: `gitlm.yaml`"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    documented = yaml.safe_load(block)
    defaults = GitlmConfig().model_dump(mode="json")
    assert documented.keys() == defaults.keys()
    for name, values in defaults.items():
        if isinstance(values, dict):
            assert documented[name].keys() == values.keys(), name
            for key, default in values.items():
                assert documented[name][key] == default, f"{name}.{key}: README says {documented[name][key]!r}, default is {default!r}"
        else:
            assert documented[name] == values, name
