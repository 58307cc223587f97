"""The effective settings of one build job: the project's options plus the role's own.

The project's ``[tool.cibuildwheel]`` and ``[tool.wheelfleet]`` tables are read
by :mod:`wheelfleet.options`; the ``wheel_build`` role's variables that have a
cibuildwheel meaning (``wheel_build_before_all``, ``wheel_build_test_command``,
...) and ``wheel_build_options`` are its explicit layer, the highest
precedence. The role also has settings cibuildwheel has no word for (where
requirements come from, how auditwheel repairs): they stay the role's, and are
hashed with the rest, so changing any of them rebuilds.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wheelfleet import accelerator, environment, native_userland, options, requirements
from wheelfleet.settings_hash import ROLE_ONLY, SETTINGS_FORMAT, settings_hash

__all__ = ["ROLE_ONLY", "SETTINGS_FORMAT", "settings_hash"]
from wheelfleet.identifiers import Identifier

ROLE_OPTIONS: dict[str, str] = {
    "before_all": "before-all",
    "before_build": "before-build",
    "environment": "environment",
    "frontend": "build-frontend",
    "test_command": "test-command",
    "test_requires": "test-requires",
}
"""Role settings that are cibuildwheel options: set (not empty), they override the project."""

FRONTEND_STAND_INS = {"build[uv]": "build", "uv": "build"}
"""Frontends the builder images lack (uv), and the one that builds in their place."""


class JobSettingsError(ValueError):
    """A setting cannot be applied to a job; the message names it and where it came from."""


def _given(value: Any) -> bool:
    return value not in (None, "", [], {}, ())


def explicit_overrides(
    role: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The explicit layer: the role's option-like settings that are set, then ``extra``
    (``wheel_build_options``: any cibuildwheel option by name)."""
    overrides: dict[str, Any] = {}
    for role_key, option in ROLE_OPTIONS.items():
        value = role.get(role_key)
        if _given(value):
            overrides[option] = dict(value) if isinstance(value, Mapping) else value
    for key, value in (extra or {}).items():
        overrides[str(key)] = value
    return overrides


def project_config(
    project: Mapping[str, Any],
    role: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    *,
    use_project_config: bool = True,
    environ: Mapping[str, str] | None = None,
) -> options.ProjectConfig:
    """The project's configuration (from ``wheel_source``'s ``build_config``) with the
    role's explicit settings on top, and the ``CIBW_*`` variables of ``environ`` in
    cibuildwheel's place. Raises OptionsError naming a bad key and its file."""
    document = project.get("build_config") or {} if use_project_config else {}
    fallback = project.get("requires_python") if use_project_config else None
    return options.from_document(
        document,
        label=project.get("pyproject_label") or options.PYPROJECT,
        path=Path(project["path"]) if use_project_config and document else None,
        fallback_requires_python=(fallback[0], fallback[1]) if fallback else None,
        environ=options.cibw_environ(environ) if environ is not None else None,
        overrides=explicit_overrides(role, extra),
    )


def dependency_groups(document: Mapping[str, Any], names: Sequence[str], origin: str) -> list[str]:
    """The requirements of PEP 735 dependency groups, ``include-group`` entries followed."""
    table = document.get("dependency-groups") or {}
    found: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            raise JobSettingsError(
                f"{origin}: test-groups: dependency group {name!r} includes itself"
                f" ({' -> '.join((*trail, name))})"
            )
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            raise JobSettingsError(
                f"{origin}: test-groups names {name!r}, which [dependency-groups] does not"
                f" define (defined: {known})"
            )
        for item in table[name]:
            if isinstance(item, Mapping) and "include-group" in item:
                visit(str(item["include-group"]), (*trail, name))
            elif isinstance(item, str):
                found.append(item)

    for name in names:
        visit(name, ())
    return list(dict.fromkeys(found))


def extra_requirements(document: Mapping[str, Any], extras: Sequence[str]) -> list[str]:
    """What installing the wheel with ``extras`` adds: ``[project.optional-dependencies]``."""
    table = (document.get("project") or {}).get("optional-dependencies") or {}
    wanted: list[str] = []
    for extra in extras:
        wanted.extend(str(item) for item in table.get(extra) or [])
    return list(dict.fromkeys(wanted))


def check_requirements(
    config: options.ProjectConfig, role: Mapping[str, Any] | None = None
) -> None:
    """Every ``test-requires`` any layer of the configuration gives (the project's tables,
    their overrides, CIBW_* variables, the explicit layer) and the role's
    ``extra_build_requires`` must be plain PEP 508 requirements: they reach the
    controller's ``pip download``. Raises RequirementsError naming the entry and its origin.
    (The project's own requirement tables are checked when it is read: source.inspect.)"""
    # Highest precedence first; a layer that replaces test-requires for every job (not an
    # override, not appending) shadows the layers below it: their values reach no download,
    # so an operator can replace a project's unusable test-requires.
    for layer in reversed(config.layers):
        if "test-requires" not in layer.values:
            continue
        entries = layer.values["test-requires"]
        if entries:
            requirements.check_requirements(entries, f"{layer.origin}: test-requires")
        if layer.select is None and layer.inherit.get("test-requires", "none") == "none":
            break
    extra = (role or {}).get("extra_build_requires")
    if extra:
        if isinstance(extra, str):
            extra = extra.split()
        requirements.check_requirements(extra, "wheel_build_extra_build_requires")


def check_test_sources(
    sources: Sequence[str], present: frozenset[str], origin: str, identifier: Identifier
) -> None:
    """Each test-sources path must be in the project, as cibuildwheel requires; found here,
    on the controller, instead of in a test container after the build."""
    missing = [path for path in sources if path.strip("/").removeprefix("./") not in present]
    if missing:
        raise JobSettingsError(
            f"{origin}: test-sources lists {', '.join(repr(p) for p in missing)} for"
            f" {identifier}, which the project does not contain (cibuildwheel stops on a"
            " missing test source too); fix the list, or skip the test with test-skip"
        )


def for_job(
    config: options.ProjectConfig,
    identifier: Identifier,
    role: Mapping[str, Any],
    document: Mapping[str, Any] | None = None,
    fleet_image: str = "",
    present: frozenset[str] | None = None,
) -> dict[str, Any]:
    """One job's settings as the role's steps use them, with ``settings_hash`` and ``notes``
    (settings read but applied differently, each saying why). ``present`` (the project's
    paths, when known) has test-sources checked against it."""
    check_requirements(config, role)
    resolved = config.settings(identifier)
    if present is not None and resolved.run_tests:
        origin = config.value("test-sources", identifier)[1]
        check_test_sources(resolved.test_sources, present, origin, identifier)
    notes: list[str] = []
    frontend = resolved.build_frontend
    frontend_name = FRONTEND_STAND_INS.get(frontend.name, frontend.name)
    if frontend_name != frontend.name:
        notes.append(
            f"build-frontend {frontend.name} (from {config.value('build-frontend', identifier)[1]})"
            f" is built with {frontend_name}: the builder images have no uv"
        )
    image_key = f"manylinux-{identifier.arch}-image"
    image_value, image_origin = config.value(image_key, identifier)
    if image_origin != "defaults" and fleet_image:
        notes.append(
            f"{image_key} = {image_value} (from {image_origin}) chooses the image when the"
            f" release uses the official images; these jobs run in the builder image {fleet_image}"
        )
    passed, refused = screen_environment_pass(
        resolved.environment_pass,
        role.get("environment_pass_allow"),
        role.get("environment_pass_deny"),
    )
    if refused:
        pass_origin = config.value("environment-pass", identifier)[1]
        notes.extend(refusal_note(refusal, pass_origin) for refusal in refused)
    option_settings = resolved.to_dict()
    document = document or {}
    origin = str(config.path) if config.path else options.PYPROJECT
    test_requires = list(resolved.test_requires)
    if resolved.run_tests:
        test_requires += extra_requirements(document, resolved.test_extras)
        test_requires += dependency_groups(document, resolved.test_groups, origin)
    settings: dict[str, Any] = {
        "before_all": resolved.before_all,
        "before_build": resolved.before_build,
        "before_test": resolved.before_test,
        "environment": environment.to_shell(resolved.environment),
        "environment_pass": passed,
        "environment_pass_refused": refused,
        "test_command": resolved.test_command if resolved.run_tests else "",
        "test_requires": list(dict.fromkeys(test_requires)),
        "test_extras": list(resolved.test_extras),
        "test_sources": list(resolved.test_sources),
        "test_environment": environment.to_shell(resolved.test_environment),
        "frontend": frontend_name,
        "frontend_args": list(frontend.args),
        "config_settings": [list(pair) for pair in resolved.config_settings],
        "requested_image": resolved.image.value,
        "policy_floor": resolved.policy_floor,
    }
    for key in ROLE_ONLY:
        settings[key] = role.get(key)
    # The settings are shown (plan, results, release.json): an index URL's credentials stay
    # out of them; the build gets the URL through a no_log parameter (wheel_build_passed_env).
    settings["index_url"] = requirements.redact_url(settings.get("index_url"))
    # The compiler an emulated job asks for: the host-native toolchain unless the project's
    # accelerate or the role's wheel_build_accelerate is false (None: never accelerated).
    own_variables = [item.name for item in resolved.environment] + list(passed)
    wanted = accelerator.requested(
        identifier.arch, resolved.accelerate, role.get("accelerate"), own_variables
    )
    own_compiler = accelerator.own_compiler(own_variables)
    if own_compiler and identifier.arch in accelerator.TARGETS and resolved.accelerate is not False:
        notes.append(
            f"not accelerated: the project's environment sets {', '.join(own_compiler)}, so its"
            " own compiler builds under plain emulation"
        )
    settings["accelerator"] = wanted
    # With the host's userland (Python and apt) too, when the role allows it and the host
    # has what it needs (native_userland.for_job); the request is what is hashed.
    settings["native_userland"] = bool(wanted) and native_userland.requested(
        role.get("native_userland")
    )
    build_mode = (wanted or "plain") if identifier.arch in accelerator.TARGETS else None
    if build_mode and settings["native_userland"]:
        build_mode = f"{build_mode}+{native_userland.MODE}"
    settings["settings_hash"] = settings_hash(option_settings, role, build_mode)
    settings["notes"] = notes
    return settings


DEFAULT_ENVIRONMENT_PASS_DENY: tuple[str, ...] = (
    "TWINE_*",
    "*_TOKEN",
    "*_PASSWORD",
    "*_SECRET*",
    "ANSIBLE_VAULT*",
)
"""Names never forwarded by ``environment-pass`` unless the operator says otherwise
(``wheel_build_environment_pass_deny``): publishing credentials, tokens, passwords,
secrets and the vault's password. Matched case-insensitively, as shell globs."""

DEFAULT_ENVIRONMENT_PASS_ALLOW: tuple[str, ...] = ("*",)
"""Names ``environment-pass`` may forward (``wheel_build_environment_pass_allow``)."""


def _patterns(value: Any, default: Sequence[str], setting: str) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, Sequence) or not all(isinstance(item, str) for item in value):
        raise JobSettingsError(f"{setting}: expected a list of name patterns, got {value!r}")
    return tuple(value)


def screen_environment_pass(
    names: Sequence[str], allow: Any = None, deny: Any = None
) -> tuple[list[str], list[dict[str, str]]]:
    """Split ``environment-pass`` names into those forwarded and those refused.

    The names come from the project, which is untrusted: it could ask for the
    controller's publishing credentials. The operator decides which names may go
    into a build container: a name must match a pattern of ``allow`` and none of
    ``deny`` (None: the defaults above). Each refusal says which setting refused it.
    """
    allowed = _patterns(allow, DEFAULT_ENVIRONMENT_PASS_ALLOW, "wheel_build_environment_pass_allow")
    denied = _patterns(deny, DEFAULT_ENVIRONMENT_PASS_DENY, "wheel_build_environment_pass_deny")
    passed: list[str] = []
    refused: list[dict[str, str]] = []
    for name in names:
        upper = name.upper()
        blocking = next((p for p in denied if fnmatch.fnmatchcase(upper, p.upper())), None)
        if blocking is not None:
            refused.append(
                {
                    "name": name,
                    "reason": f"matches {blocking!r} of wheel_build_environment_pass_deny",
                }
            )
        elif not any(fnmatch.fnmatchcase(upper, p.upper()) for p in allowed):
            refused.append(
                {
                    "name": name,
                    "reason": "matches no pattern of wheel_build_environment_pass_allow"
                    f" ({', '.join(allowed) or 'empty'})",
                }
            )
        else:
            passed.append(name)
    return passed, refused


def refusal_note(refusal: Mapping[str, str], origin: str) -> str:
    """The plan's and the build's warning for one refused environment-pass name."""
    return (
        f"environment-pass {refusal['name']} (from {origin}) refused, not forwarded into the"
        f" build containers: it {refusal['reason']}"
    )


def secret_environment(
    names: Sequence[str], environ: Mapping[str, str], index_url: str = ""
) -> dict[str, str]:
    """What a job's containers get through a no_log parameter: its ``environment-pass``
    values, and ``PIP_INDEX_URL`` when the index URL carries credentials."""
    env = passed_environment(names, environ)
    if requirements.has_credentials(index_url):
        env["PIP_INDEX_URL"] = index_url
    return env


def passed_environment(names: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``environment-pass``: the controller's values of those names that are set. ``names``
    are a job's ``settings.environment_pass``, already screened by the operator's lists."""
    return {name: environ[name] for name in names if name in environ}
