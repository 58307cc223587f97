"""A project's build settings, read from pyproject.toml the way cibuildwheel reads them.

Projects describe their wheel builds in ``[tool.cibuildwheel]``; wheelfleet
honours that table unchanged, and reads its own ``[tool.wheelfleet]`` (the same
keys, plus ``image``) for settings that only apply on a fleet. The result is one
job per build identifier, each with its effective settings and a hash of them
that incremental releases compare.

Precedence, highest first, for every option:

1. explicit overrides passed to :func:`load` (CLI flags, Ansible extra vars);
2. ``[[tool.wheelfleet.overrides]]`` matching the identifier, then ``[tool.wheelfleet]``;
3. the cibuildwheel layers, highest first: ``CIBW_<OPTION>_LINUX``, then
   ``CIBW_<OPTION>`` (when an ``environ`` is passed: cibuildwheel gives its
   variables precedence over its pyproject tables), then
   ``[[tool.cibuildwheel.overrides]]`` matching the identifier, then
   ``[tool.cibuildwheel.linux]``, then ``[tool.cibuildwheel]``;
4. defaults (cibuildwheel 4.3's, for Linux).

The ``CIBW_*`` layer is one layer per variable, so a value's origin is the
variable's name (``CIBW_ARCHS``). Commands pass their process environment
through :func:`cibw_environ`, which keeps those names only.

``policy-floor`` is wheelfleet's own key: read from ``[tool.wheelfleet]`` and the
explicit overrides only (wheelfleet.manylinux says what it means). So is ``accelerate``
(true or false; unset means true): false builds the project's emulated jobs without the
host-native compiler (wheelfleet.accelerator).

An override table's ``inherit.<option> = "append" | "prepend"`` extends the value
from the layers below it instead of replacing it, as in cibuildwheel.

Recognized but not applied, each reported as an :class:`OptionWarning`:
other platforms' sections (``macos``, ``windows``, ``ios``, ``android``,
``pyodide``), a ``repair-wheel-command`` other than auditwheel's default
(wheelfleet repairs with its own auditwheel module), ``container-engine``,
``build-verbosity``, ``audit-*``, musllinux and PyPy images, and ``enable``
groups for interpreters wheelfleet does not build. Unknown keys are warnings
too; invalid values raise :class:`OptionsError`, naming the key, the file and
the accepted values.
"""

from __future__ import annotations

import configparser
import difflib
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from wheelfleet import manylinux
from wheelfleet.architectures import ARCHITECTURES, UnknownArchitectureError
from wheelfleet.architectures import resolve as resolve_arch
from wheelfleet.environment import (
    Assignment,
    EnvironmentSyntaxError,
    parse_environment,
    parse_environment_table,
)
from wheelfleet.identifiers import (
    KNOWN_PYTHON_TAGS,
    Identifier,
    check_python_tag,
    python_sort_key,
)
from wheelfleet.selectors import (
    CIBUILDWHEEL_ENABLE_GROUPS,
    ENABLE_GROUPS,
    LEGACY_ENABLE_GROUPS,
    BuildSelection,
    Selector,
)

PYPROJECT = "pyproject.toml"

DEFAULT_REPAIR_COMMAND = "auditwheel repair -w {dest_dir} {wheel}"
"""cibuildwheel's Linux repair command, which wheelfleet's auditwheel module stands for."""

ARCH_KEYWORDS = ("auto", "auto64", "auto32", "native", "all")
"""``archs`` values that expand against the fleet's build hosts."""

FRONTENDS = ("build", "build[uv]", "pip", "uv")
"""Build frontends cibuildwheel accepts (``default`` means ``build``)."""

INHERIT_RULES = ("none", "append", "prepend")

OTHER_PLATFORMS = ("macos", "windows", "ios", "android", "pyodide")
"""cibuildwheel's sections for platforms wheelfleet does not build."""

_THIRTY_TWO_BIT = frozenset({"i686", "armv7l"})
_AUTO32 = {"x86_64": "i686", "i686": "i686", "aarch64": "armv7l", "armv7l": "armv7l"}

# Policies with official images per architecture, and the default, as in cibuildwheel 4.3.
_POLICIES = manylinux.OFFICIAL_POLICIES
_DEFAULT_POLICY = manylinux.DEFAULT_POLICIES
_POLICY_REGISTRY = manylinux.OFFICIAL_REGISTRY


# --------------------------------------------------------------------------- errors and warnings


class OptionsError(ValueError):
    """An option whose value wheelfleet cannot use: names the key, where it was set, what fits."""

    def __init__(
        self,
        message: str,
        *,
        key: str,
        origin: str,
        value: Any = None,
        accepted: Sequence[str] = (),
    ) -> None:
        self.key = key
        self.origin = origin
        self.value = value
        self.accepted = tuple(accepted)
        shown = f" = {value!r}" if value is not None else ""
        text = f"{origin}: {key}{shown}: {message}"
        if self.accepted:
            text += f" (accepted: {', '.join(self.accepted)})"
        super().__init__(text)


WarningCode = Literal[
    "unknown-key", "not-applied", "other-platform", "not-overridable", "deprecated", "eol-python"
]


@dataclass(frozen=True)
class OptionWarning:
    """Something in the configuration wheelfleet reads but does not act on, and why."""

    code: WarningCode
    key: str
    origin: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.key}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "key": self.key, "origin": self.origin, "message": self.message}


# --------------------------------------------------------------------------- option table

Kind = Literal[
    "command",
    "list",
    "csv",
    "selector",
    "archs",
    "enable",
    "environment",
    "config",
    "frontend",
    "image",
    "policy",
    "flag",
    "ignored",
]
_MERGEABLE: frozenset[str] = frozenset({"command", "list", "csv", "environment", "config"})


@dataclass(frozen=True)
class _Option:
    key: str
    kind: Kind
    whole_run: bool = False
    """Read once for the whole run (build/skip/archs...): overrides cannot change it."""
    linux_variable: bool = True
    """A ``CIBW_<OPTION>_LINUX`` variable exists besides ``CIBW_<OPTION>``."""
    not_applied: str | None = None
    """Why wheelfleet does not apply it (warned about when set); None if applied or moot."""
    wheelfleet_only: bool = False
    """Read from ``[tool.wheelfleet]`` and explicit overrides only, not cibuildwheel's places."""

    @property
    def variable(self) -> str:
        return "CIBW_" + self.key.upper().replace("-", "_")


def _options() -> dict[str, _Option]:
    table = [
        _Option("build", "selector", whole_run=True, linux_variable=False),
        _Option("skip", "selector", whole_run=True, linux_variable=False),
        _Option("test-skip", "selector", whole_run=True, linux_variable=False),
        _Option("archs", "archs", whole_run=True),
        _Option("enable", "enable", whole_run=True, linux_variable=False),
        _Option("before-all", "command"),
        _Option("before-build", "command"),
        _Option("before-test", "command"),
        _Option("environment", "environment"),
        _Option("environment-pass", "list"),
        _Option("test-command", "command"),
        _Option("test-requires", "list"),
        _Option("test-extras", "csv"),
        _Option("test-groups", "list"),
        _Option("test-sources", "list"),
        _Option("test-environment", "environment"),
        _Option("build-frontend", "frontend", linux_variable=False),
        _Option("config-settings", "config"),
        _Option("repair-wheel-command", "command"),
        *(_Option(f"manylinux-{arch}-image", "image") for arch in ARCHITECTURES),
        _Option(
            "policy-floor", "policy", whole_run=True, linux_variable=False, wheelfleet_only=True
        ),
        _Option("accelerate", "flag", linux_variable=False, wheelfleet_only=True),
        _Option(
            "container-engine",
            "ignored",
            not_applied="wheelfleet builds with the Docker engine of the host running the job",
        ),
        _Option(
            "build-verbosity",
            "ignored",
            not_applied="wheelfleet runs the frontend at its default verbosity, full log kept",
        ),
        _Option(
            "audit-requires",
            "ignored",
            not_applied="wheelfleet does not run cibuildwheel's post-build audit",
        ),
        _Option(
            "audit-command",
            "ignored",
            not_applied="wheelfleet does not run cibuildwheel's post-build audit",
        ),
        *(
            _Option(
                f"manylinux-pypy_{arch}-image",
                "ignored",
                not_applied="wheelfleet builds CPython wheels only, not PyPy",
            )
            for arch in ("x86_64", "i686", "aarch64")
        ),
        *(
            _Option(
                f"musllinux-{arch}-image",
                "ignored",
                not_applied="wheelfleet builds manylinux wheels only, not musllinux",
            )
            for arch in ARCHITECTURES
        ),
        # cibuildwheel itself ignores these on Linux: accepted without a word.
        _Option("dependency-versions", "ignored"),
        _Option("xbuild-tools", "ignored"),
        _Option("pyodide-version", "ignored"),
        _Option("test-runtime", "ignored"),
    ]
    return {option.key: option for option in table}


OPTIONS: dict[str, _Option] = _options()
"""Every ``[tool.cibuildwheel]`` key wheelfleet recognizes."""

APPLIED_KEYS: tuple[str, ...] = tuple(
    key
    for key, option in OPTIONS.items()
    if option.kind != "ignored" and key != "repair-wheel-command"
)
"""Keys that change what wheelfleet builds; also the keys explicit overrides accept.

``repair-wheel-command`` is read only to warn when it differs from auditwheel's default."""

_DEPRECATED_FREE_THREADED = "free-threaded-support"
_WHEELFLEET_IMAGE = "image"
_REQUIRES_PYTHON_KEY = "project-requires-python"
_CIBW_UNRELATED = frozenset(
    {
        "CIBW_PLATFORM",
        "CIBW_OUTPUT_DIR",
        "CIBW_ALLOW_EMPTY",
        "CIBW_ONLY",
        "CIBW_CONFIG_FILE",
        "CIBW_DEBUG_KEEP_CONTAINER",
        "CIBW_DEBUG_TRACEBACK",
        "CIBW_CACHE_PATH",
        "CIBW_PRERELEASE_PYTHONS",
        "CIBW_PROJECT_REQUIRES_PYTHON",
        "CIBW_FREE_THREADED_SUPPORT",
    }
)


def _defaults() -> dict[str, Any]:
    values: dict[str, Any] = {
        "build": ("*",),
        "skip": (),
        "test-skip": (),
        "archs": ("auto",),
        "enable": (),
        "build-frontend": BuildFrontend("build"),
        "repair-wheel-command": (DEFAULT_REPAIR_COMMAND,),
        "policy-floor": None,
        "accelerate": None,
    }
    for key, option in OPTIONS.items():
        if option.kind in _MERGEABLE:
            values.setdefault(key, ())
    for arch, policy in _DEFAULT_POLICY.items():
        values[f"manylinux-{arch}-image"] = policy
    return values


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class BuildFrontend:
    """The tool that builds the wheel (``build``, ``build[uv]``, ``pip``, ``uv``), with its args."""

    name: str
    args: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "args": list(self.args)}


@dataclass(frozen=True)
class Image:
    """The container image a job builds in."""

    arch: str
    value: str
    """As configured: a policy name (``manylinux_2_28``) or an image reference."""
    policy: str | None
    """The manylinux policy when ``value`` names one, else None (a custom image)."""
    reference: str
    """The image to run: ``quay.io/pypa/<policy>_<arch>`` for a policy, else ``value``."""

    @classmethod
    def from_value(cls, arch: str, value: str) -> Image:
        if manylinux.is_short_name(value):
            return cls(arch, value, value, f"{_POLICY_REGISTRY}/{value}_{arch}")
        return cls(arch, value, None, value)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "policy": self.policy, "reference": self.reference}


def _commands(commands: tuple[str, ...]) -> str:
    return " && ".join(commands)


@dataclass(frozen=True)
class JobSettings:
    """The effective settings of one build job, after every layer and override.

    Commands keep their ``{project}``/``{package}`` placeholders and the
    environment keeps its ``$VAR``/``$(command)`` expansions: both are resolved
    in the build container (see wheelfleet.placeholders and wheelfleet.environment).
    """

    before_all: str
    before_build: str
    before_test: str
    environment: tuple[Assignment, ...]
    environment_pass: tuple[str, ...]
    """Names of controller variables passed into the container; their values are not recorded."""
    test_command: str
    run_tests: bool
    """False when there is no test command or ``test-skip`` matches the identifier."""
    test_requires: tuple[str, ...]
    test_extras: tuple[str, ...]
    test_groups: tuple[str, ...]
    test_sources: tuple[str, ...]
    test_environment: tuple[Assignment, ...]
    build_frontend: BuildFrontend
    config_settings: tuple[tuple[str, str], ...]
    image: Image
    policy_floor: str | None = None
    """The least portable manylinux policy a wheel may have (``manylinux_2_28``), if any."""
    accelerate: bool | None = None
    """False: the emulated jobs build without the host-native compiler; None: unset."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; the settings hash is computed from it."""
        return {
            "before_all": self.before_all,
            "before_build": self.before_build,
            "before_test": self.before_test,
            "environment": [[a.name, a.shell_value] for a in self.environment],
            "environment_pass": list(self.environment_pass),
            "test_command": self.test_command,
            "run_tests": self.run_tests,
            "test_requires": list(self.test_requires),
            "test_extras": list(self.test_extras),
            "test_groups": list(self.test_groups),
            "test_sources": list(self.test_sources),
            "test_environment": [[a.name, a.shell_value] for a in self.test_environment],
            "build_frontend": self.build_frontend.to_dict(),
            "config_settings": [list(pair) for pair in self.config_settings],
            "image": self.image.to_dict(),
            # Only when set: a release without a floor keeps the settings hashes it had.
            **({"policy_floor": self.policy_floor} if self.policy_floor else {}),
            # Only when set, as the floor: the requested build mode is hashed by its own.
            **({"accelerate": self.accelerate} if self.accelerate is not None else {}),
        }


@dataclass(frozen=True)
class Job:
    """One selected build: an identifier and its effective settings."""

    identifier: Identifier
    settings: JobSettings

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": str(self.identifier),
            "python": self.identifier.python,
            "arch": self.identifier.arch,
            "settings": self.settings.to_dict(),
        }


@dataclass(frozen=True)
class Unavailable:
    """Something the configuration selects that the fleet cannot build, and why."""

    subject: str
    """An architecture (``ppc64le``), an ``archs`` keyword, or an identifier."""
    kind: Literal["arch", "python"]
    reason: str
    identifiers: tuple[str, ...] = ()
    """The selected identifiers that are not built because of it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "reason": self.reason,
            "identifiers": list(self.identifiers),
        }


@dataclass(frozen=True)
class Excluded:
    """An identifier on a requested architecture that the configuration does not select."""

    identifier: str
    reason: str


def _canonical_archs(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(resolve_arch(name).name for name in names))


@dataclass(frozen=True)
class Capabilities:
    """What the fleet can build: architectures, interpreters, and the hosts' own architectures."""

    archs: tuple[str, ...]
    """Architectures some build host and image can build for, natively or under emulation."""
    pythons: tuple[str, ...]
    """CPython tags the images provide (``cp312``, ``cp313t``)."""
    native_archs: tuple[str, ...] = ()
    """The build hosts' own architectures: what ``auto`` and ``native`` mean on a fleet."""
    pythons_by_arch: Mapping[str, Sequence[str]] = field(default_factory=dict, hash=False)
    """Per-architecture tags where an image provides fewer (or other) than ``pythons``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "archs", _canonical_archs(self.archs))
        object.__setattr__(self, "native_archs", _canonical_archs(self.native_archs))
        object.__setattr__(self, "pythons", tuple(check_python_tag(p) for p in self.pythons))
        object.__setattr__(
            self,
            "pythons_by_arch",
            {
                resolve_arch(arch).name: tuple(check_python_tag(p) for p in tags)
                for arch, tags in self.pythons_by_arch.items()
            },
        )

    def pythons_for(self, arch: str) -> tuple[str, ...]:
        return tuple(self.pythons_by_arch.get(arch, self.pythons))


@dataclass(frozen=True)
class ResolvedOptions:
    """The plan's input: selected jobs, what cannot be built and why, and the warnings."""

    jobs: tuple[Job, ...]
    unavailable: tuple[Unavailable, ...]
    excluded: tuple[Excluded, ...]
    warnings: tuple[OptionWarning, ...]
    archs: tuple[str, ...]
    """The architectures ``archs`` asked for, expanded against the fleet."""
    archs_origin: str

    def job(self, identifier: str) -> Job:
        for job in self.jobs:
            if str(job.identifier) == identifier:
                return job
        raise KeyError(identifier)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archs": list(self.archs),
            "archs_origin": self.archs_origin,
            "jobs": [job.to_dict() for job in self.jobs],
            "unavailable": [item.to_dict() for item in self.unavailable],
            "excluded": [{"identifier": e.identifier, "reason": e.reason} for e in self.excluded],
            "warnings": [warning.to_dict() for warning in self.warnings],
        }


# --------------------------------------------------------------------------- normalizing values


@dataclass
class _Reader:
    """Turns raw TOML/environment/override values into typed values, collecting warnings."""

    warnings: list[OptionWarning] = field(default_factory=list)

    def warn(self, code: WarningCode, key: str, origin: str, message: str) -> None:
        self.warnings.append(OptionWarning(code, key, origin, message))

    def value(self, option: _Option, raw: Any, origin: str) -> Any:
        handler: Callable[[_Option, Any, str], Any] = getattr(self, f"_{option.kind}")
        return handler(option, raw, origin)

    @staticmethod
    def _strings(option: _Option, raw: Any, origin: str) -> list[str]:
        if isinstance(raw, str):
            return [raw]
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return list(raw)
        raise OptionsError(
            "expected a string or a list of strings", key=option.key, origin=origin, value=raw
        )

    def _command(self, option: _Option, raw: Any, origin: str) -> tuple[str, ...]:
        return tuple(c for c in self._strings(option, raw, origin) if c.strip())

    def _list(self, option: _Option, raw: Any, origin: str) -> tuple[str, ...]:
        if isinstance(raw, str):
            return tuple(raw.split())
        return tuple(item.strip() for item in self._strings(option, raw, origin) if item.strip())

    def _csv(self, option: _Option, raw: Any, origin: str) -> tuple[str, ...]:
        items = self._strings(option, raw, origin)
        return tuple(part.strip() for item in items for part in item.split(",") if part.strip())

    def _selector(self, option: _Option, raw: Any, origin: str) -> tuple[str, ...]:
        return Selector.parse(self._strings(option, raw, origin)).patterns

    def _archs(self, option: _Option, raw: Any, origin: str) -> tuple[str, ...]:
        tokens = [token for item in self._strings(option, raw, origin) for token in item.split()]
        result = []
        for token in tokens:
            if token.lower() in ARCH_KEYWORDS:
                result.append(token.lower())
                continue
            try:
                result.append(resolve_arch(token).name)
            except UnknownArchitectureError:
                raise OptionsError(
                    f"{token!r} is not a Linux architecture or archs keyword",
                    key=option.key,
                    origin=origin,
                    value=raw,
                    accepted=(*ARCHITECTURES, *ARCH_KEYWORDS),
                ) from None
        return tuple(result)

    def _enable(self, option: _Option, raw: Any, origin: str) -> tuple[str, ...]:
        tokens = [token for item in self._strings(option, raw, origin) for token in item.split()]
        result: list[str] = []
        for token in tokens:
            if token == "all":
                result.extend(CIBUILDWHEEL_ENABLE_GROUPS)
            elif token in LEGACY_ENABLE_GROUPS:
                self.warn(
                    "deprecated",
                    option.key,
                    origin,
                    f"enable = {token!r} was removed in cibuildwheel 4, which refuses it;"
                    " wheelfleet still reads it"
                    + (
                        " (it selects cp313t where an image provides it)"
                        if token == "cpython-freethreading"
                        else " (riscv64 needs no opt-in)"
                    ),
                )
                result.append(token)
            elif token in ENABLE_GROUPS:
                result.append(token)
            else:
                raise OptionsError(
                    f"{token!r} is not an enable group",
                    key=option.key,
                    origin=origin,
                    value=raw,
                    accepted=(*ENABLE_GROUPS, "all"),
                )
        for group in dict.fromkeys(result):
            if group.startswith(("pypy", "graalpy", "pyodide")):
                self.warn(
                    "not-applied",
                    option.key,
                    origin,
                    f"enable = {group!r} is recognized, but wheelfleet builds CPython wheels only",
                )
        return tuple(dict.fromkeys(result))

    def _environment(self, option: _Option, raw: Any, origin: str) -> tuple[Assignment, ...]:
        try:
            if isinstance(raw, str):
                return parse_environment(raw)
            if isinstance(raw, Mapping):
                table = {}
                for name, value in raw.items():
                    if isinstance(value, bool) or not isinstance(value, str | int | float):
                        raise OptionsError(
                            f"the value of {name} must be a string",
                            key=option.key,
                            origin=origin,
                            value=raw,
                        )
                    table[name] = str(value)
                return parse_environment_table(table)
        except EnvironmentSyntaxError as exc:
            raise OptionsError(
                f"not valid bash-like assignments: {exc}",
                key=option.key,
                origin=origin,
                value=raw,
                accepted=("NAME=value pairs separated by spaces", "a table of NAME = value"),
            ) from None
        raise OptionsError(
            "expected a string of NAME=value assignments or a table",
            key=option.key,
            origin=origin,
            value=raw,
        )

    def _config(self, option: _Option, raw: Any, origin: str) -> tuple[tuple[str, str], ...]:
        if isinstance(raw, str):
            try:
                items = shlex.split(raw)
            except ValueError as exc:
                raise OptionsError(str(exc), key=option.key, origin=origin, value=raw) from None
            pairs = []
            for item in items:
                name, sep, value = item.partition("=")
                if not sep or not name:
                    raise OptionsError(
                        f"{item!r} is not KEY=VALUE",
                        key=option.key,
                        origin=origin,
                        value=raw,
                        accepted=("KEY=VALUE items separated by spaces", "a table"),
                    )
                pairs.append((name, value))
            return tuple(pairs)
        if isinstance(raw, Mapping):
            pairs = []
            for name, value in raw.items():
                values = value if isinstance(value, list) else [value]
                for item in values:
                    if not isinstance(item, str | int | float | bool):
                        raise OptionsError(
                            f"the value of {name!r} must be a string or a list of strings",
                            key=option.key,
                            origin=origin,
                            value=raw,
                        )
                    pairs.append((str(name), str(item)))
            return tuple(pairs)
        raise OptionsError(
            "expected a string of KEY=VALUE items or a table",
            key=option.key,
            origin=origin,
            value=raw,
        )

    def _frontend(self, option: _Option, raw: Any, origin: str) -> BuildFrontend:
        def check(name: str) -> str:
            name = "build" if name == "default" else name
            if name not in FRONTENDS:
                raise OptionsError(
                    f"{name!r} is not a build frontend",
                    key=option.key,
                    origin=origin,
                    value=raw,
                    accepted=FRONTENDS,
                )
            return name

        if isinstance(raw, str):
            name, _, rest = raw.partition(";")
            args: list[str] = []
            if rest.strip():
                label, sep, text = rest.strip().partition(":")
                if label.strip() != "args" or not sep:
                    raise OptionsError(
                        "expected 'NAME' or 'NAME; args: ARGS'",
                        key=option.key,
                        origin=origin,
                        value=raw,
                        accepted=FRONTENDS,
                    )
                try:
                    args = shlex.split(text)
                except ValueError as exc:
                    raise OptionsError(str(exc), key=option.key, origin=origin, value=raw) from None
            return BuildFrontend(check(name.strip()), tuple(args))
        if isinstance(raw, Mapping):
            unknown = set(raw) - {"name", "args"}
            if unknown or not isinstance(raw.get("name"), str):
                raise OptionsError(
                    "expected a table with 'name' and optional 'args'",
                    key=option.key,
                    origin=origin,
                    value=raw,
                    accepted=FRONTENDS,
                )
            args_raw = raw.get("args", [])
            items = [args_raw] if isinstance(args_raw, str) else args_raw
            if not isinstance(items, list) or not all(isinstance(a, str) for a in items):
                raise OptionsError(
                    "args must be a list of strings", key=option.key, origin=origin, value=raw
                )
            return BuildFrontend(check(raw["name"]), tuple(items))
        raise OptionsError(
            "expected a frontend name or a table",
            key=option.key,
            origin=origin,
            value=raw,
            accepted=FRONTENDS,
        )

    def _image(self, option: _Option, raw: Any, origin: str) -> str:
        if not isinstance(raw, str):
            raise OptionsError("expected a string", key=option.key, origin=origin, value=raw)
        value = raw.strip()
        arch = option.key.removeprefix("manylinux-").removesuffix("-image")
        if manylinux.is_short_name(value) and value not in _POLICIES[arch]:
            # A short name that is no official image's: a typo, or a policy without an image
            # for this architecture. Refused, rather than pulled as a reference that fails.
            raise OptionsError(
                f"{value} has no official image for {arch}",
                key=option.key,
                origin=origin,
                value=raw,
                accepted=(*_POLICIES[arch], "an image reference such as registry/name:tag"),
            )
        if any(char.isspace() for char in value):
            raise OptionsError(
                "an image reference cannot contain whitespace",
                key=option.key,
                origin=origin,
                value=raw,
                accepted=(*_POLICIES[arch], "an image reference such as registry/name:tag"),
            )
        return value  # "" falls through to the layer below, as in cibuildwheel

    def _policy(self, option: _Option, raw: Any, origin: str) -> str:
        try:
            return manylinux.check_policy_floor(raw, option.key)
        except manylinux.PolicyError:
            musl = isinstance(raw, str) and raw.strip().startswith("musllinux")
            raise OptionsError(
                "not a manylinux policy"
                + ("; wheelfleet builds manylinux wheels only" if musl else ""),
                key=option.key,
                origin=origin,
                value=raw,
                accepted=manylinux.POLICY_FORMS,
            ) from None

    def _flag(self, option: _Option, raw: Any, origin: str) -> bool:
        if not isinstance(raw, bool):
            raise OptionsError(
                "expected true or false",
                key=option.key,
                origin=origin,
                value=raw,
                accepted=("true", "false"),
            )
        return raw

    def _ignored(self, option: _Option, raw: Any, origin: str) -> None:
        if option.not_applied:
            self.warn(
                "not-applied", option.key, origin, f"recognized, not applied: {option.not_applied}"
            )


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class _Layer:
    origin: str
    values: Mapping[str, Any]
    inherit: Mapping[str, str] = field(default_factory=dict)
    select: Selector | None = None


def _suggest(key: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(key, list(known), n=1, cutoff=0.7)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _check_repair_command(reader: _Reader, commands: tuple[str, ...], origin: str) -> None:
    """Warn unless the command is auditwheel's default, which wheelfleet's module stands for."""
    if " ".join(_commands(commands).split()) != DEFAULT_REPAIR_COMMAND:
        reader.warn(
            "not-applied",
            "repair-wheel-command",
            origin,
            "recognized, not applied: wheelfleet repairs every wheel with its own auditwheel"
            f" module (the equivalent of {DEFAULT_REPAIR_COMMAND!r} with the image's policy);"
            " this command is not run",
        )


def _read_options(
    reader: _Reader,
    table: Mapping[str, Any],
    origin: str,
    *,
    in_override: bool,
    wheelfleet: bool,
    skip: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values for the recognized keys of one table, and inherit rules they imply.

    Unknown and not-applied keys become warnings.
    """
    values: dict[str, Any] = {}
    inherit: dict[str, str] = {}
    images: dict[str, str] = {}
    skipped = set(skip)
    for key, raw in table.items():
        if key in skipped:
            continue
        option = OPTIONS.get(key)
        if key == _DEPRECATED_FREE_THREADED and not wheelfleet:
            reader.warn(
                "deprecated",
                key,
                origin,
                "removed in cibuildwheel 3; read as enable = ['cpython-freethreading'] when true",
            )
            if raw is True:
                values["enable"] = (*values.get("enable", ()), "cpython-freethreading")
                if "enable" not in table:
                    inherit["enable"] = "append"  # adds to the groups set below this table
            continue
        if key == _WHEELFLEET_IMAGE and wheelfleet:
            images = _read_image_table(reader, raw, origin)
            continue
        if option is None:
            reader.warn(
                "unknown-key",
                key,
                origin,
                "unknown option, ignored" + _suggest(key, [*OPTIONS, "overrides", "linux"]),
            )
            continue
        if option.wheelfleet_only and not wheelfleet:
            reader.warn(
                "unknown-key",
                key,
                origin,
                "a wheelfleet option, not cibuildwheel's: set it in [tool.wheelfleet];"
                " ignored here",
            )
            continue
        if in_override and option.whole_run:
            reader.warn(
                "not-overridable",
                key,
                origin,
                "applies to the whole run and cannot be set in an override; ignored here",
            )
            continue
        value = reader.value(option, raw, origin)
        if option.kind == "ignored":
            continue
        if key == "repair-wheel-command":
            _check_repair_command(reader, value, origin)
        values[key] = value
    for key, image in images.items():
        if key in values and values[key] != image:
            raise OptionsError(
                f"set twice in this table, differently: {values[key]!r} and image = {image!r}",
                key=key,
                origin=origin,
                value=image,
            )
        values[key] = image
    return values, inherit


def _read_image_table(reader: _Reader, raw: Any, origin: str) -> dict[str, str]:
    """``[tool.wheelfleet] image = {aarch64 = "..."}``: per-arch images, aliases accepted."""
    if not isinstance(raw, Mapping):
        raise OptionsError(
            "expected a table of architecture = image",
            key=_WHEELFLEET_IMAGE,
            origin=origin,
            value=raw,
            accepted=tuple(ARCHITECTURES),
        )
    images: dict[str, str] = {}
    for arch_name, image in raw.items():
        try:
            arch = resolve_arch(arch_name).name
        except UnknownArchitectureError:
            raise OptionsError(
                f"{arch_name!r} is not an architecture",
                key=f"{_WHEELFLEET_IMAGE}.{arch_name}",
                origin=origin,
                value=image,
                accepted=tuple(ARCHITECTURES),
            ) from None
        option = OPTIONS[f"manylinux-{arch}-image"]
        images[option.key] = reader.value(option, image, origin)
    return images


def _read_inherit(raw: Any, origin: str) -> dict[str, str]:
    mergeable = tuple(key for key, option in OPTIONS.items() if option.kind in _MERGEABLE)
    if not isinstance(raw, Mapping):
        raise OptionsError(
            "expected a table of option = rule", key="inherit", origin=origin, value=raw
        )
    rules = {}
    for key, rule in raw.items():
        if key not in mergeable:
            raise OptionsError(
                "this option cannot inherit (only lists, tables and commands can)",
                key=f"inherit.{key}",
                origin=origin,
                value=rule,
                accepted=mergeable,
            )
        if rule not in INHERIT_RULES:
            raise OptionsError(
                "not an inherit rule",
                key=f"inherit.{key}",
                origin=origin,
                value=rule,
                accepted=INHERIT_RULES,
            )
        rules[key] = rule
    return rules


def _read_overrides(reader: _Reader, raw: Any, label: str, *, wheelfleet: bool) -> list[_Layer]:
    if not isinstance(raw, list):
        raise OptionsError(
            "expected an array of tables ([[...overrides]])",
            key="overrides",
            origin=label,
            value=raw,
        )
    layers = []
    for index, entry in enumerate(raw, start=1):
        origin = f"{label} #{index}"
        if not isinstance(entry, Mapping):
            raise OptionsError("expected a table", key="overrides", origin=origin, value=entry)
        select_raw = entry.get("select")
        strings = isinstance(select_raw, list) and all(isinstance(i, str) for i in select_raw)
        if strings or isinstance(select_raw, str):
            select = Selector.parse(select_raw)
        else:
            raise OptionsError(
                "every override needs select = a pattern or a list of patterns",
                key="select",
                origin=origin,
                value=select_raw,
                accepted=("e.g. 'cp311-*'", "'*-manylinux_aarch64'"),
            )
        if not select.patterns:
            raise OptionsError("select is empty", key="select", origin=origin, value=select_raw)
        origin = f"{origin} (select = {str(select)!r})"
        inherit = _read_inherit(entry.get("inherit", {}), origin)
        values, implied = _read_options(
            reader,
            entry,
            origin,
            in_override=True,
            wheelfleet=wheelfleet,
            skip=("select", "inherit"),
        )
        layers.append(_Layer(origin, values, {**implied, **inherit}, select))
    return layers


def cibw_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """Only the ``CIBW_*`` variables of an environment: what :func:`load` reads, and all that
    the controller passes on (never the whole environment, which holds the operator's secrets)."""
    return {name: value for name, value in environ.items() if name.startswith("CIBW_")}


def _environ_layers(reader: _Reader, environ: Mapping[str, str]) -> list[_Layer]:
    """``CIBW_<OPTION>`` then ``CIBW_<OPTION>_LINUX``, cibuildwheel's variables, in that order."""
    cibuildwheel_options = [option for option in OPTIONS.values() if not option.wheelfleet_only]
    base_names = {option.variable: option for option in cibuildwheel_options}
    linux_names = {
        f"{option.variable}_LINUX": option
        for option in cibuildwheel_options
        if option.linux_variable
    }
    base_names.pop("CIBW_ENVIRONMENT_PASS")  # cibuildwheel only has the _LINUX form
    other_platforms = tuple(f"_{platform.upper()}" for platform in OTHER_PLATFORMS)
    base: list[_Layer] = []
    linux: list[_Layer] = []
    # CIBW_ENABLE adds to the configured groups instead of replacing them.
    rules = {"enable": "append"}
    for name in sorted(environ):
        if not name.startswith("CIBW_") or name in _CIBW_UNRELATED:
            continue
        origin = f"environment variable {name}"
        if name in base_names:
            option, target = base_names[name], base
        elif name in linux_names:
            option, target = linux_names[name], linux
        elif name.endswith(other_platforms) and name.rsplit("_", 1)[0] in base_names:
            continue  # another platform's variant: cibuildwheel ignores it on Linux as well
        else:
            reader.warn(
                "unknown-key", name, "environment", "unknown cibuildwheel variable, ignored"
            )
            continue
        value = reader.value(option, environ[name], origin)
        if option.kind == "ignored":
            continue
        if option.key == "repair-wheel-command":
            _check_repair_command(reader, value, origin)
        # One layer per variable, so that a value says which variable set it.
        target.append(_Layer(name, {option.key: value}, rules))
    return [*base, *linux]


def _explicit_layer(reader: _Reader, overrides: Mapping[str, Any]) -> tuple[_Layer, Any]:
    origin = "explicit overrides"
    accepted = (*APPLIED_KEYS, _WHEELFLEET_IMAGE, _REQUIRES_PYTHON_KEY)
    values: dict[str, Any] = {}
    requires_python = None
    # Extra vars spell keys with underscores: test_command, manylinux_x86_64_image.
    spellings = {name.replace("_", "-"): name for name in (*OPTIONS, _REQUIRES_PYTHON_KEY)}
    for given_key, raw in overrides.items():
        key = spellings.get(given_key.replace("_", "-"), given_key)
        if key == _REQUIRES_PYTHON_KEY:
            requires_python = raw
            continue
        if key == _WHEELFLEET_IMAGE:
            values.update(_read_image_table(reader, raw, origin))
            continue
        option = OPTIONS.get(key)
        if option is None or key not in APPLIED_KEYS:
            raise OptionsError(
                "not an option wheelfleet applies" + _suggest(key, accepted),
                key=given_key,
                origin=origin,
                value=raw,
                accepted=accepted,
            )
        values[key] = reader.value(option, raw, origin)
    return _Layer(origin, values), requires_python


# --------------------------------------------------------------------------- the configuration


def _parse_requires_python(text: Any, origin: str, key: str) -> SpecifierSet:
    try:
        if not isinstance(text, str):
            raise InvalidSpecifier(str(text))
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise OptionsError(
            "not a version specifier set",
            key=key,
            origin=origin,
            value=text,
            accepted=("a PEP 440 specifier set such as '>=3.9'",),
        ) from None


@dataclass(frozen=True)
class ProjectConfig:
    """A project's parsed build configuration, checked, not yet matched against a fleet.

    Load it early (:func:`load`) so a bad value stops wheelfleet before any host
    changes; then :meth:`resolve` it against what the fleet can build.
    """

    path: Path | None
    """The TOML file read, or None when there was none."""
    layers: tuple[_Layer, ...]
    """Lowest precedence first: defaults, cibuildwheel, CIBW_* variables, wheelfleet, explicit."""
    requires_python: SpecifierSet | None
    requires_python_origin: str | None
    warnings: tuple[OptionWarning, ...]

    def value(self, key: str, identifier: Identifier | str | None = None) -> tuple[Any, str]:
        """The typed value of an option for one identifier (None: the whole run), and its origin.

        The origin is the highest layer that contributed to the value.
        """
        option = OPTIONS[key]
        text = None if identifier is None or option.whole_run else str(identifier)
        value: Any = None
        origin = "defaults"
        for layer in self.layers:
            if layer.select is not None and (text is None or not layer.select.matches(text)):
                continue
            if key not in layer.values:
                continue
            new = layer.values[key]
            if option.kind == "image" and not new:
                continue
            rule = layer.inherit.get(key, "none")
            if value is None or rule == "none":
                value = new
            elif rule == "append":
                value = (*value, *new)
            else:
                value = (*new, *value)
            origin = layer.origin
        return value, origin

    def selection(self) -> BuildSelection:
        """The build/skip/requires-python/enable filters for the whole run."""
        return BuildSelection(
            build=Selector(self.value("build")[0]),
            skip=Selector(self.value("skip")[0]),
            requires_python=self.requires_python,
            enable=frozenset(self.value("enable")[0]),
        )

    def settings(self, identifier: Identifier) -> JobSettings:
        """The effective settings of one identifier's job."""

        def get(key: str) -> Any:
            return self.value(key, identifier)[0]

        test_command = _commands(get("test-command"))
        test_skip = Selector(self.value("test-skip")[0])
        arch = identifier.arch
        return JobSettings(
            before_all=_commands(get("before-all")),
            before_build=_commands(get("before-build")),
            before_test=_commands(get("before-test")),
            environment=get("environment"),
            environment_pass=tuple(dict.fromkeys(get("environment-pass"))),
            test_command=test_command,
            run_tests=bool(test_command) and not test_skip.matches(identifier),
            test_requires=get("test-requires"),
            test_extras=get("test-extras"),
            test_groups=get("test-groups"),
            test_sources=get("test-sources"),
            test_environment=get("test-environment"),
            build_frontend=get("build-frontend"),
            config_settings=get("config-settings"),
            image=Image.from_value(arch, get(f"manylinux-{arch}-image")),
            policy_floor=self.value("policy-floor")[0],
            accelerate=get("accelerate"),
        )

    def requested_archs(self, capabilities: Capabilities) -> tuple[list[str], list[Unavailable]]:
        """The architectures ``archs`` asks for, keywords expanded against the fleet's hosts."""
        tokens, origin = self.value("archs")
        archs: list[str] = []
        empty: list[Unavailable] = []
        native = list(capabilities.native_archs)
        for token in tokens:
            if token in ("auto", "native"):
                expanded = native
            elif token == "auto64":
                expanded = [a for a in native if a not in _THIRTY_TWO_BIT]
            elif token == "auto32":
                expanded = [
                    _AUTO32[a]
                    for a in native
                    if a in _AUTO32 and (a != "aarch64" or "armv7l" in capabilities.archs)
                ]
            elif token == "all":
                expanded = list(ARCHITECTURES)
            else:
                expanded = [token]
            if not expanded:
                hosts = ", ".join(native) or "none reported"
                empty.append(
                    Unavailable(
                        token,
                        "arch",
                        f"archs (from {origin}) lists {token}, which means the build hosts' own"
                        f" architectures, and none fits (build hosts: {hosts})",
                    )
                )
            archs.extend(arch for arch in expanded if arch not in archs)
        return archs, empty

    def resolve(self, capabilities: Capabilities) -> ResolvedOptions:
        """Select the jobs the fleet builds, and report what it cannot build and why."""
        selection = self.selection()
        archs, unavailable = self.requested_archs(capabilities)
        archs_origin = self.value("archs")[1]
        # cibuildwheel's identifiers only: an interpreter an image has beyond them (cp38) is
        # not selected, as cibuildwheel would not select it.
        pythons = sorted(KNOWN_PYTHON_TAGS, key=python_sort_key)
        jobs: list[Job] = []
        excluded: list[Excluded] = []
        warnings = list(self.warnings)
        for arch in archs:
            arch_available = arch in capabilities.archs
            selected_here: list[str] = []
            for python in pythons:
                identifier = Identifier(python, arch)
                reason = selection.exclusion(identifier)
                if reason is not None:
                    excluded.append(Excluded(str(identifier), reason))
                elif not arch_available:
                    selected_here.append(str(identifier))
                elif python not in capabilities.pythons_for(arch):
                    provided = ", ".join(capabilities.pythons_for(arch)) or "none"
                    unavailable.append(
                        Unavailable(
                            str(identifier),
                            "python",
                            f"{identifier} is selected but no {arch} image provides {python}"
                            f" (the {arch} images provide: {provided})",
                            (str(identifier),),
                        )
                    )
                else:
                    jobs.append(Job(identifier, self.settings(identifier)))
            if not arch_available:
                fleet = ", ".join(capabilities.archs) or "none"
                unavailable.append(
                    Unavailable(
                        arch,
                        "arch",
                        f"archs (from {archs_origin}) lists {arch} but no build host or image"
                        f" provides it (the fleet builds for: {fleet})",
                        tuple(selected_here),
                    )
                )
        return ResolvedOptions(
            jobs=tuple(sorted(jobs, key=lambda job: job.identifier.sort_key)),
            unavailable=tuple(unavailable),
            excluded=tuple(excluded),
            warnings=tuple(warnings),
            archs=tuple(archs),
            archs_origin=archs_origin,
        )


def _pyproject_path(project: str | Path | None) -> tuple[Path | None, bool]:
    """The TOML file to read, and whether it must exist (a named file must, a directory's not)."""
    if project is None:
        return None, False
    path = Path(project)
    if path.is_dir():
        return path / PYPROJECT, False
    return path, True


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise OptionsError("file not found", key=path.name, origin=str(path.parent)) from None
    except tomllib.TOMLDecodeError as exc:
        raise OptionsError(
            f"not valid TOML: {exc}", key=path.name, origin=str(path.parent)
        ) from None


def _table(document: Mapping[str, Any], dotted: str, label: str) -> Mapping[str, Any]:
    node: Any = document
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, Mapping) else {}
    if not isinstance(node, Mapping):
        raise OptionsError("expected a table", key=dotted, origin=label, value=node)
    return node


def _setup_cfg_requires(directory: Path) -> str | None:
    setup_cfg = directory / "setup.cfg"
    if not setup_cfg.is_file():
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(setup_cfg, encoding="utf-8")
    except configparser.Error:
        return None
    return parser.get("options", "python_requires", fallback=None)


def load(
    project: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ProjectConfig:
    """Read and check a project's build configuration.

    ``project`` is the project directory (its pyproject.toml is read, if any) or
    a TOML file; None reads no file. ``environ`` supplies ``CIBW_*`` variables
    (none are read when it is None: pass ``os.environ`` to honour the caller's).
    ``overrides`` holds explicit settings by option name (``test-command`` or
    ``test_command``), the highest precedence. Raises OptionsError for any
    value wheelfleet cannot use.
    """
    path, required = _pyproject_path(project)
    document: dict[str, Any] = {}
    if path is not None and (required or path.exists()):
        document = _load_toml(path)
    setup_cfg = None
    if path is not None:
        requires = _setup_cfg_requires(path.parent)
        if requires:
            setup_cfg = (requires, str(path.parent / "setup.cfg"))
    return from_document(
        document,
        label=str(path) if path is not None else PYPROJECT,
        path=path if document else None,
        fallback_requires_python=setup_cfg,
        environ=environ,
        overrides=overrides,
    )


def from_document(
    document: Mapping[str, Any],
    *,
    label: str = PYPROJECT,
    path: Path | None = None,
    fallback_requires_python: tuple[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ProjectConfig:
    """:func:`load` for a pyproject document already parsed (from an sdist, say).

    ``label`` names the file in messages; ``fallback_requires_python`` is the
    ``python_requires`` of setup.cfg (or setup.py, or PKG-INFO) and the file it came
    from, used when ``[project]`` has no ``requires-python``.
    """
    reader = _Reader()
    cibw_origin = f"{label} [tool.cibuildwheel]"
    cibw = _table(document, "tool.cibuildwheel", cibw_origin)
    linux_origin = f"{label} [tool.cibuildwheel.linux]"
    linux = _table(cibw, "linux", linux_origin)
    wf_origin = f"{label} [tool.wheelfleet]"
    wheelfleet = _table(document, "tool.wheelfleet", wf_origin)

    for platform in OTHER_PLATFORMS:
        if platform in cibw:
            reader.warn(
                "other-platform",
                platform,
                f"{label} [tool.cibuildwheel.{platform}]",
                f"recognized, not applied: these settings are for {platform} builds and wheelfleet"
                " builds Linux wheels only",
            )

    layers = [
        _Layer("defaults", _defaults()),
        _Layer(
            cibw_origin,
            *_read_options(
                reader,
                cibw,
                cibw_origin,
                in_override=False,
                wheelfleet=False,
                skip=("linux", "overrides", *OTHER_PLATFORMS),
            ),
        ),
        _Layer(
            linux_origin,
            *_read_options(reader, linux, linux_origin, in_override=False, wheelfleet=False),
        ),
    ]
    if "overrides" in cibw:
        layers.extend(
            _read_overrides(
                reader,
                cibw["overrides"],
                f"{label} [[tool.cibuildwheel.overrides]]",
                wheelfleet=False,
            )
        )
    if environ is not None:
        layers.extend(_environ_layers(reader, environ))
    layers.append(
        _Layer(
            wf_origin,
            *_read_options(
                reader,
                wheelfleet,
                wf_origin,
                in_override=False,
                wheelfleet=True,
                skip=("overrides",),
            ),
        )
    )
    if "overrides" in wheelfleet:
        layers.extend(
            _read_overrides(
                reader,
                wheelfleet["overrides"],
                f"{label} [[tool.wheelfleet.overrides]]",
                wheelfleet=True,
            )
        )
    explicit_requires = None
    if overrides:
        explicit, explicit_requires = _explicit_layer(reader, overrides)
        layers.append(explicit)

    # requires-python: explicit, then CIBW_PROJECT_REQUIRES_PYTHON, then the project's metadata.
    requires_python = None
    requires_origin = None
    project_table = _table(document, "project", f"{label} [project]")
    candidates: list[tuple[Any, str, str]] = []
    if explicit_requires is not None:
        candidates.append((explicit_requires, "explicit overrides", _REQUIRES_PYTHON_KEY))
    if environ is not None and environ.get("CIBW_PROJECT_REQUIRES_PYTHON"):
        candidates.append(
            (
                environ["CIBW_PROJECT_REQUIRES_PYTHON"],
                "environment variable CIBW_PROJECT_REQUIRES_PYTHON",
                "CIBW_PROJECT_REQUIRES_PYTHON",
            )
        )
    if "requires-python" in project_table:
        candidates.append(
            (project_table["requires-python"], f"{label} [project]", "requires-python")
        )
    elif fallback_requires_python is not None:
        candidates.append((*fallback_requires_python, "python_requires"))
    if candidates:
        text, requires_origin, key = candidates[0]
        requires_python = _parse_requires_python(text, requires_origin, key)

    return ProjectConfig(
        path=path,
        layers=tuple(layers),
        requires_python=requires_python,
        requires_python_origin=requires_origin,
        warnings=tuple(reader.warnings),
    )


def resolve(
    project: str | Path | None,
    capabilities: Capabilities,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ResolvedOptions:
    """Load a project's configuration and resolve it against the fleet in one call."""
    return load(project, environ=environ, overrides=overrides).resolve(capabilities)
