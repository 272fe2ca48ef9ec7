"""Load one spec file into its model, turning every problem into a located :class:`SpecIssue`.

Order matters: credentials are checked on the raw text (before interpolation could hide a
literal behind ``${VAR}``), then variables are interpolated, then the model validates.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from floe.errors import SpecError, SpecIssue
from floe.spec.interpolation import interpolate
from floe.spec.secrets import is_credential_key, url_has_password
from floe.spec.yaml_source import PathKey, YamlSource, load_yaml_file

ModelT = TypeVar("ModelT", bound=BaseModel)

# Connection details are the platform's business; floe.yaml must stay portable.
PLATFORM_ONLY_KEYS = frozenset(
    {"host", "hostname", "port", "user", "username", "account", "endpoint", "uri", "url"}
)


@dataclass(frozen=True)
class LoadedSpec(typing.Generic[ModelT]):
    """A validated spec, its source (for locating later cross-file problems) and variables used."""

    model: ModelT
    source: YamlSource
    variables: frozenset[str]


def scan_credentials(source: YamlSource, *, pipeline_file: bool) -> list[SpecIssue]:
    """Find literal credentials (and, in floe.yaml, connection keys) in raw spec data."""
    issues: list[SpecIssue] = []

    def walk(value: Any, path: PathKey) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                child = (*path, key)
                if is_credential_key(str(key)) and not _is_secret_ref(item) and item is not None:
                    issues.append(source.issue(
                        child,
                        "a credential must not be written in a spec file",
                        f"write {key}: {{secret_ref: NAME}} and provide NAME as an environment "
                        "variable or a mounted secret file",
                    ))
                    continue
                if pipeline_file and str(key).lower() in PLATFORM_ONLY_KEYS | {"password"}:
                    issues.append(source.issue(
                        child, f"'{key}' does not belong in floe.yaml",
                        "hosts, ports and credentials are declared per environment in platform.yaml",
                        prefer_key=True,
                    ))
                    continue
                walk(item, child)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index))
        elif isinstance(value, str) and url_has_password(value):
            issues.append(source.issue(
                path, "this URL contains a password",
                "remove user:password@ from the URL and use a secret reference field instead",
            ))

    walk(source.data, ())
    return issues


def _is_secret_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret_ref"}


def load_spec(
    path: Path,
    model: type[ModelT],
    environ: Mapping[str, str],
    *,
    display_name: str,
    pipeline_file: bool,
    missing_hint: str | None = None,
) -> LoadedSpec[ModelT]:
    """Load, check, interpolate and validate one spec file. Raises SpecError with every issue."""
    source = load_yaml_file(path, display_name, missing_hint=missing_hint)
    issues = scan_credentials(source, pipeline_file=pipeline_file)
    data, interpolation_issues, used = interpolate(source, environ)
    issues.extend(interpolation_issues)
    if used:
        # A password can also arrive through ${VAR} (uri: ${CATALOG_URI}); it would then be
        # written into the compiled artifacts, so the interpolated values are scanned too.
        reported = {issue.path for issue in issues}
        interpolated = dataclasses.replace(source, data=data)
        issues.extend(
            dataclasses.replace(issue, message=issue.message + " (after ${VAR} interpolation)")
            for issue in scan_credentials(interpolated, pipeline_file=pipeline_file)
            if issue.path not in reported
        )
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        issues.extend(_convert_errors(exc, model, source, data, skip=issues))
        raise SpecError(issues) from None
    if issues:
        raise SpecError(issues)
    return LoadedSpec(validated, source, frozenset(used))


def _convert_errors(
    exc: ValidationError,
    model: type[BaseModel],
    source: YamlSource,
    data: Any,
    skip: list[SpecIssue],
) -> list[SpecIssue]:
    already = {issue.path for issue in skip}
    issues: list[SpecIssue] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if loc and loc[-1] == "[key]":  # pydantic's marker for an invalid mapping key
            data_path, owner = _walk(model, data, loc[:-1])
            issue = _describe_key(error, data_path, owner, source)
        else:
            data_path, owner = _walk(model, data, loc)
            issue = _describe(error, data_path, owner, source)
        if issue.path in already:
            continue  # the credential or interpolation issue already explains this field
        already.add(issue.path)
        issues.append(issue)
    return issues


def _describe_key(
    error: Mapping[str, Any], path: PathKey, owner: type[BaseModel] | None, source: YamlSource
) -> SpecIssue:
    """An invalid mapping key, e.g. an environment name; the hint describes the mapping."""
    hint = _field_doc(owner, str(path[-2])) if len(path) > 1 else None
    return source.issue(path, f"invalid name '{path[-1]}': {error['msg']}", hint, prefer_key=True)


def _describe(
    error: Mapping[str, Any], path: PathKey, owner: type[BaseModel] | None, source: YamlSource
) -> SpecIssue:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _field_names(owner)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else (
            f"allowed fields: {', '.join(sorted(allowed))}" if allowed else None
        )
        return source.issue(path, f"unknown field '{key}'", hint, prefer_key=True)
    if kind == "missing":
        name = str(path[-1])
        return source.issue(path[:-1], f"missing required field '{name}'",
                            _field_doc(owner, name), prefer_key=True)
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return source.issue((*path, "type"), f"unknown type {ctx.get('tag')!r}",
                            f"expected one of {ctx.get('expected_tags')}")
    if kind == "union_tag_not_found":
        return source.issue(path, "missing required field 'type'",
                            "add 'type:' with one of the supported kinds", prefer_key=True)
    name = str(path[-1]) if path else ""
    message = error["msg"]
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        # pydantic names Python classes here ("instance of EnvironmentSpec"); say it in YAML terms.
        got = "an empty value" if error.get("input") is None else _show(error.get("input"))
        return source.issue(path, f"expected a mapping of fields, got {got}", _field_doc(owner, name))
    if kind in {"string_type", "int_type", "bool_type", "int_parsing", "bool_parsing",
                "list_type", "float_parsing", "string_pattern_mismatch"}:
        message = f"{message} (got {_show(error.get('input'))})"
    hint = _field_doc(owner, name)
    if kind == "string_type" and isinstance(error.get("input"), int | float):
        hint = f"quote the value so YAML keeps it as text: {name}: \"{error.get('input')}\""
    return source.issue(path, message, hint)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field_names(owner: type[BaseModel] | None) -> list[str]:
    if owner is None:
        return []
    return [info.alias or name for name, info in owner.model_fields.items()]


def _field_doc(owner: type[BaseModel] | None, name: str) -> str | None:
    if owner is None:
        return None
    for field_name, info in owner.model_fields.items():
        if name in (field_name, info.alias):
            return info.description
    return None


def _walk(
    model: type[BaseModel], data: Any, loc: tuple[int | str, ...]
) -> tuple[PathKey, type[BaseModel] | None]:
    """Follow a pydantic error location through the data and the model types together.

    Pydantic puts discriminator tags ('duckdb') into locations; they are not in the data, so
    they select the union member instead of adding to the path. Returns the data path and
    the model that owns the last path element.
    """
    path: list[str | int] = []
    current_type: Any = model
    owner: type[BaseModel] | None = model
    value = data
    for part in loc:
        current_type = _unwrap(current_type)
        if isinstance(current_type, tuple):  # a union: the part may be a discriminator tag
            member = _union_member(current_type, part)
            if member is not None and not (isinstance(value, dict) and part in value):
                current_type = member
                continue
            current_type = next((m for m in current_type if _is_model(m)), Any)
        if _is_model(current_type):
            owner = current_type
            field = _find_field(current_type, str(part))
            current_type = field.annotation if field is not None else Any
        elif typing.get_origin(current_type) in (dict, Mapping):
            current_type = typing.get_args(current_type)[1]
        elif typing.get_origin(current_type) is list:
            current_type = typing.get_args(current_type)[0]
        else:
            current_type = Any
        path.append(part)
        value = value.get(part) if isinstance(value, dict) else (
            value[part] if isinstance(value, list) and isinstance(part, int) and part < len(value) else None
        )
    return tuple(path), owner


def _find_field(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info
    return None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional; return a tuple of members for a real union."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [_unwrap(arg) for arg in typing.get_args(tp) if arg is not type(None)]
        return members[0] if len(members) == 1 else tuple(members)
    return tp


def _union_member(members: tuple[Any, ...], tag: int | str) -> Any:
    for member in members:
        if _is_model(member):
            field = member.model_fields.get("type")
            if field is not None and tag in typing.get_args(field.annotation):
                return member
    return None
