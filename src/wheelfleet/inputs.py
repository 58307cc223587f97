"""Command-line inputs checked before anything runs: extra variables and inventories.

Every error here names the value the user typed, so a bad ``-e`` or ``-i`` stops
wheelfleet before ansible-playbook starts, with a message that says what to fix.

The values read here serve wheelfleet's own checks only. An ``@FILE`` reaches
ansible-playbook as the file itself (see :func:`extra_var_layers`), so what only
Ansible can read, a ``!vault`` value, arrives intact; here it reads as
:data:`VAULTED`, a value that is set but not known.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import yaml


class InputError(ValueError):
    """A command-line value that cannot be used; the message names it."""


class Vaulted:
    """A ``!vault`` value: set, but only ansible-playbook (with the vault's password) reads it."""

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "<vaulted>"


VAULTED = Vaulted()


class _TolerantLoader(yaml.SafeLoader):
    """A safe YAML loader that accepts Ansible's tags: ``!vault`` reads as VAULTED,
    ``!unsafe`` (and any other tag) as the plain value under it."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == "vault":
        return VAULTED
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return None


_TolerantLoader.add_multi_constructor("!", _any_tag)


def _load_yaml(source: str | IO[str]) -> Any:
    return yaml.load(source, Loader=_TolerantLoader)  # a SafeLoader subclass


def _load_yaml_file(path: Path) -> Any:
    """Load a YAML file; a syntax error names the file, line and column."""
    with path.open(encoding="utf-8") as stream:
        return _load_yaml(stream)


def _check_names(mapping: Mapping[Any, Any], origin: str) -> dict[str, Any]:
    for key in mapping:
        if not isinstance(key, str) or not key.isidentifier():
            raise InputError(
                f"{origin}: {key!r} is not a valid variable name"
                " (letters, digits and underscores, not starting with a digit)"
            )
    return dict(mapping)


def _parse_file(value: str, spec: str) -> dict[str, Any]:
    path = Path(spec).expanduser()
    origin = f"-e {value!r}"
    if not spec:
        raise InputError(f"{origin}: expected a file name after '@'")
    try:
        data = _load_yaml_file(path)
    except FileNotFoundError:
        raise InputError(f"{origin}: file {str(path.absolute())!r} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{origin}: cannot read {str(path.absolute())!r}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: not valid YAML or JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError(
            f"{origin}: {path} holds a {type(data).__name__}, expected a mapping of variables"
        )
    return _check_names(data, origin)


def _parse_document(value: str) -> dict[str, Any]:
    origin = f"-e {value!r}"
    try:
        data = json.loads(value)
    except json.JSONDecodeError as json_error:
        try:
            data = _load_yaml(value)  # Ansible also accepts YAML flow mappings: {a: 1}
        except yaml.YAMLError:
            raise InputError(f"{origin}: not a valid JSON object: {json_error}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{origin}: expected a JSON object, got a {type(data).__name__}")
    return _check_names(data, origin)


def _parse_pairs(value: str) -> dict[str, Any]:
    origin = f"-e {value!r}"
    try:
        tokens = shlex.split(value)
    except ValueError as exc:
        raise InputError(f"{origin}: {exc}") from None
    result: dict[str, Any] = {}
    for token in tokens:
        key, sep, val = token.partition("=")
        if not sep:
            raise InputError(
                f"{origin}: expected KEY=VALUE, @FILE or a JSON object; {token!r} has no '='"
            )
        result.update(_check_names({key: val}, origin))
    return result


def parse_extra_var(value: str) -> dict[str, Any]:
    """Parse one ``-e`` value the way ansible-playbook reads it.

    ``@FILE`` loads a YAML or JSON file, a value starting with ``{`` is a JSON (or
    YAML flow) object, anything else is one or more ``KEY=VALUE`` pairs whose
    values stay strings.
    """
    text = value.strip()
    if not text:
        raise InputError("-e '': empty value; expected KEY=VALUE, @FILE or a JSON object")
    if text.startswith("@"):
        return _parse_file(value, text[1:])
    if text[0] in "{[":
        return _parse_document(text)
    return _parse_pairs(text)


def parse_extra_vars(values: Iterable[str]) -> dict[str, Any]:
    """Merge several ``-e`` values in order; a later value replaces a top-level key."""
    merged: dict[str, Any] = {}
    for value in values:
        merged.update(parse_extra_var(value))
    return merged


def extra_var_layers(values: Iterable[str]) -> list[Path | dict[str, Any]]:
    """The ``-e`` values as ansible-playbook is to get them, in order: an ``@FILE`` as its
    absolute path (its vaulted values stay for Ansible to decrypt), anything else as the
    mapping it holds (to be passed in a private file, never on the command line).
    Each value is checked as :func:`parse_extra_var` does."""
    layers: list[Path | dict[str, Any]] = []
    for value in values:
        parsed = parse_extra_var(value)
        text = value.strip()
        if text.startswith("@"):
            layers.append(Path(text[1:]).expanduser().absolute())
        elif _holds_vaulted(parsed):
            raise InputError(f"-e {value!r}: a !vault value can only be given in a file (-e @FILE)")
        else:
            layers.append(parsed)
    return layers


def _holds_vaulted(value: Any) -> bool:
    if isinstance(value, Vaulted):
        return True
    if isinstance(value, Mapping):
        return any(_holds_vaulted(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_vaulted(item) for item in value)
    return False


_STRUCTURED_SUFFIXES = frozenset({".yml", ".yaml", ".json"})


def check_inventory(value: str) -> Path:
    """Return an inventory path made absolute, or raise naming what is wrong with it.

    A YAML or JSON inventory file is also parsed here: Ansible only warns about an
    inventory it cannot parse, and would then run against no host at all.
    """
    path = Path(value).expanduser()
    absolute = path.absolute()
    if not path.exists():
        raise InputError(f"inventory {value!r} not found (looked for {str(absolute)!r})")
    if path.is_file() and path.suffix in _STRUCTURED_SUFFIXES:
        try:
            _load_yaml_file(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"inventory {value!r}: cannot read it: {exc}") from None
        except yaml.YAMLError as exc:
            raise InputError(f"inventory {value!r} is not valid YAML: {exc}") from None
    return absolute
