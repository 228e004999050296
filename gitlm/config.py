"""Configuration: one pydantic model per stage, grouped in GitlmConfig.

Sources, later wins: built-in defaults < gitlm.yaml (--config PATH, else ./gitlm.yaml when
present) < CLI flags. Every key is optional; unknown keys and bad values are rejected with
one line naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gitlm.errors import BadInputError

DEFAULT_CONFIG_FILE = "gitlm.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ScrapeConfig(_Section):
    """`gitlm scrape`: which history to read and how much of each diff to keep."""

    branches: list[str] = Field(
        default_factory=list,
        description="Glob patterns of branch names to walk (e.g. main, release/*); empty = every ref.",
    )
    since: datetime | None = Field(None, description="Only commits committed at or after this ISO date/time (UTC if no offset).")
    until: datetime | None = Field(None, description="Only commits committed at or before this ISO date/time (UTC if no offset).")
    patches: bool = Field(True, description="Keep each file's unified diff in the record.")
    max_patch_bytes: int = Field(65536, gt=0, description="Cut a file's patch at this many bytes (patch_truncated=true).")
    history_json: bool = Field(False, description="Also write git_history.json ({metadata, commits}, pretty).")

    @field_validator("since", "until")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class GitlmConfig(_Section):
    """Everything gitlm can be told; `gitlm config show` prints the effective values."""

    out: Path | None = Field(None, description="Workspace directory; default ./gitlm-out/<repo-name>/.")
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict):
            base_value = merged.get(key)
            merged[key] = _merge(base_value if isinstance(base_value, dict) else {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "<root>"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    got = first.get("input")
    shown = f" (got {got!r})" if isinstance(got, (str, int, float)) and not isinstance(got, bool) else ""
    return f"{source}: {key}: {first['msg']}{shown}"


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a gitlm.yaml, or a one-line BadInputError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise BadInputError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: expected a mapping of sections at the top level")
    return data


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> GitlmConfig:
    """Defaults < YAML file < overrides (None values in overrides mean 'not given')."""
    source = "defaults"
    data: dict[str, Any] = {}
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = Path(DEFAULT_CONFIG_FILE)
    if path is not None:
        data = read_yaml(path)
        source = str(path)
    try:
        GitlmConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(_describe(exc, source)) from None
    try:
        return GitlmConfig.model_validate(_merge(data, overrides or {}))
    except ValidationError as exc:
        raise BadInputError(_describe(exc, "command-line option")) from None


def dump_config(config: GitlmConfig) -> str:
    """The effective configuration as YAML, in the layout gitlm.yaml uses."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
