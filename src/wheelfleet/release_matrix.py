"""A release's matrix: what the project's build configuration selects on this fleet.

With no explicit job list, a release builds what the project's
``[tool.cibuildwheel]`` / ``[tool.wheelfleet]`` select for Linux (``archs``,
``build``, ``skip``, ``requires-python``, ``enable``), with the CLI's
``--arch`` and ``--python`` and ``wheelfleet_options`` as the highest
precedence. The selection is resolved against what the fleet can build: the
hosts' own architectures (what ``auto`` and ``native`` mean), the ones they
emulate, and the interpreters the builder images provide. Whatever the
configuration selects but the fleet cannot build is reported, with the reason,
never dropped in silence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wheelfleet import architectures, image_choice, image_offers, job_settings, options, source
from wheelfleet.identifiers import KNOWN_PYTHON_TAGS, Identifier, split_tag
from wheelfleet.plan import Host, Job


def overrides(
    architectures_given: Sequence[str] | None,
    pythons: Sequence[str] | None,
    extra: Mapping[str, Any] | None = None,
    policy_floor: str | None = None,
) -> dict[str, Any]:
    """The explicit layer of a release: ``--arch`` as ``archs``, ``--python`` as ``build``
    (``cp312`` selects ``cp312-*``), then ``wheelfleet_options``, then the policy floor
    (``--policy-floor``, ``wheelfleet_policy_floor``) as ``policy-floor``."""
    layer: dict[str, Any] = {}
    if architectures_given:
        layer["archs"] = list(architectures_given)
    if pythons:
        layer["build"] = [f"{split_tag(tag)[0]}-*" for tag in pythons]
    layer.update(extra or {})
    if policy_floor:
        layer["policy-floor"] = policy_floor
    return layer


def image_pythons(offers: Iterable[image_offers.ImageOffer]) -> dict[str, list[str]]:
    """The CPython tags each architecture's builder images provide, from the images' own
    /opt/python listings (wheelfleet.image_offers.merge: read from every image a host has,
    predicted from the recipe only for an image not built yet, and labelled so)."""
    return image_offers.pythons_by_arch(offers)


def capabilities(
    hosts: Sequence[Host], pythons_by_arch: Mapping[str, Sequence[str]]
) -> options.Capabilities:
    """What the usable hosts can build, natively or emulated, with the images' interpreters.

    An architecture counts only when a host runs it and a builder image recipe covers it:
    a host that emulates ppc64le builds nothing for it without a ppc64le image."""
    usable = [host for host in hosts if host.usable and host.architecture]
    native = [str(host.architecture) for host in usable]
    archs: list[str] = []
    for host in usable:
        for arch in architectures.ARCHITECTURES:
            if host.can_build(arch) and arch in pythons_by_arch and arch not in archs:
                archs.append(arch)
    all_pythons = sorted({tag for tags in pythons_by_arch.values() for tag in tags})
    return options.Capabilities(
        archs=tuple(archs),
        pythons=tuple(all_pythons),
        native_archs=tuple(native),
        pythons_by_arch={arch: tuple(tags) for arch, tags in pythons_by_arch.items()},
    )


def check_test_sources(project: Mapping[str, Any], config: options.ProjectConfig) -> None:
    """Every test-sources path of every job the configuration could select must be in the
    project: checked before any host is contacted, since it needs none."""
    everything = options.Capabilities(
        archs=tuple(architectures.ARCHITECTURES),
        pythons=KNOWN_PYTHON_TAGS,
        native_archs=tuple(architectures.ARCHITECTURES),
    )
    present = project.get("paths")
    if present is None:
        return
    seen: set[tuple[str, ...]] = set()
    for job in config.resolve(everything).jobs:
        settings = job.settings
        if not settings.run_tests or settings.test_sources in seen:
            continue
        seen.add(settings.test_sources)
        origin = config.value("test-sources", job.identifier)[1]
        job_settings.check_test_sources(settings.test_sources, present, origin, job.identifier)


def probe_architectures(config: options.ProjectConfig) -> list[str]:
    """Architectures ``archs`` names outright (or through ``all``): the ones worth probing
    for emulation before the hosts are known. ``auto`` and ``native`` mean the hosts' own."""
    everything = options.Capabilities(archs=tuple(architectures.ARCHITECTURES), pythons=())
    archs, _ = config.requested_archs(everything)
    return archs


@dataclass(frozen=True)
class Selection:
    """The release's jobs, their settings, and what is not built and why."""

    resolved: options.ResolvedOptions
    fleet: options.Capabilities
    jobs: tuple[Job, ...]
    settings: Mapping[str, Mapping[str, Any]]
    """Identifier -> the job's effective settings (job_settings.for_job)."""
    warnings: tuple[str, ...]
    unbuildable: tuple[Job, ...] = ()
    """Jobs of explicitly required architectures no host can build: planned, to be refused."""
    images: tuple[image_choice.ImageChoice, ...] = ()
    """The manylinux image each architecture's selected jobs ask for, and who chose it."""
    policy_floor: str | None = None
    """The least portable policy a wheel may have, when one is set."""
    offers: tuple[image_offers.ImageOffer, ...] = ()
    """The builder images and what each provides (read from the image, or predicted)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "archs": list(self.resolved.archs),
            "archs_origin": self.resolved.archs_origin,
            "jobs": [
                {**job.to_json(), "settings": dict(self.settings[job.identifier])}
                for job in self.jobs
            ],
            "unavailable": [item.to_dict() for item in self.resolved.unavailable],
            "images_provide": {
                arch: list(self.fleet.pythons_for(arch)) for arch in self.resolved.archs
            },
            "builder_images": [offer.to_json() for offer in self.offers],
            "excluded": len(self.resolved.excluded),
            "warnings": list(self.warnings),
            "manylinux_images": [choice.to_json() for choice in self.images],
            "policy_floor": self.policy_floor,
        }


def load_project(
    project_path: str,
    role: Mapping[str, Any],
    explicit: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    limits: source.ReadLimits | None = None,
    snapshot: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], options.ProjectConfig]:
    """The project (directory or sdist) and its configuration with the explicit layer and
    the ``CIBW_*`` variables of ``environ``, read within ``limits``. The project's ``paths``
    (files and directories) are kept to check test-sources.

    With ``snapshot`` (what :func:`wheelfleet.source.prepare` returned when the release
    read the project), nothing is read again: a release reads its project once."""
    if snapshot:
        described = dict(snapshot)
        described["paths"] = frozenset(snapshot.get("paths") or ())
    else:
        project, files = source.inspect(project_path, limits=limits)
        described = project.as_dict()
        described["paths"] = source.member_paths(files)
    return described, job_settings.project_config(described, role, explicit, environ=environ)


class RequiredArchitectureError(ValueError):
    """An architecture asked for explicitly (``--arch``) has a host but no builder image."""


def _required(
    resolved: options.ResolvedOptions,
    required_archs: Sequence[str],
    hosts: Sequence[Host],
) -> list[Job]:
    """Jobs of the explicitly asked-for architectures the fleet cannot build, to be planned
    anyway, so that the plan stops on them naming what is missing: asked for on the command
    line, an architecture is a requirement, not a wish."""
    forced: list[Job] = []
    wanted = {
        architectures.resolve(a).name for a in required_archs if a not in options.ARCH_KEYWORDS
    }
    for item in resolved.unavailable:
        if item.kind != "arch" or item.subject not in wanted:
            continue
        if any(host.usable and host.can_build(item.subject) for host in hosts):
            raise RequiredArchitectureError(
                f"{item.subject} was asked for explicitly, and a build host runs it, but no"
                " builder image recipe covers it: add it to the architectures of"
                " builder_image_images"
            )
        forced.extend(Job.from_identifier(identifier) for identifier in item.identifiers)
    return forced


def select(
    project: Mapping[str, Any],
    config: options.ProjectConfig,
    fleet: options.Capabilities,
    role: Mapping[str, Any] | None = None,
    required_archs: Sequence[str] = (),
    hosts: Sequence[Host] = (),
    offers: Sequence[image_offers.ImageOffer] = (),
) -> Selection:
    """Resolve the configuration against the fleet: one plan job per selected identifier,
    carrying its settings hash and the image that provides its Python
    (wheelfleet.image_offers.choose over ``offers``). ``required_archs`` (given on the
    command line) that the fleet cannot build come back in ``unbuildable``, for the plan
    to stop on."""
    resolved = config.resolve(fleet)
    role = role or {}
    document = project.get("build_config") or {}
    settings: dict[str, dict[str, Any]] = {}
    jobs: list[Job] = []
    notes: list[str] = []
    for selected in resolved.jobs:
        identifier = str(selected.identifier)
        effective = job_settings.for_job(
            config, selected.identifier, role, document, present=project.get("paths")
        )
        settings[identifier] = effective
        notes.extend(effective["notes"])
        chosen = image_offers.choose(offers, selected.identifier.arch, selected.identifier.python)
        jobs.append(
            Job.from_build(
                selected.identifier,
                settings_hash=effective["settings_hash"],
                image=chosen.name if chosen else "",
            )
        )
    warnings = [str(warning) for warning in resolved.warnings] + list(dict.fromkeys(notes))
    forced = _required(resolved, required_archs, hosts)
    selected = [job.identifier for job in resolved.jobs] + [
        Identifier.parse(name) for item in resolved.unavailable for name in item.identifiers
    ]
    images = image_choice.for_jobs(config, sorted(selected, key=lambda i: i.sort_key))
    return Selection(
        resolved,
        fleet,
        tuple(jobs),
        settings,
        tuple(warnings),
        tuple(forced),
        images=tuple(images),
        policy_floor=config.value("policy-floor")[0],
        offers=tuple(offers),
    )


_SHOWN = (
    ("before_all", "before-all"),
    ("before_build", "before-build"),
    ("environment", "environment"),
    ("frontend", "build-frontend"),
    ("config_settings", "config-settings"),
    ("test_command", "test-command"),
    ("test_requires", "test-requires"),
    ("test_sources", "test-sources"),
)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in value)
    return " ".join(str(value).split())


def _overridden(selection: Mapping[str, Any], image: Mapping[str, Any]) -> bool:
    """Whether the architecture's jobs are split over several images (by overrides)."""
    return (
        sum(
            1 for other in selection.get("manylinux_images") or [] if other["arch"] == image["arch"]
        )
        > 1
    )


def render(selection: Mapping[str, Any], width: int = 100) -> str:
    """The selection (its JSON form) for people: settings per group of jobs that share
    them, then what is not built and why, then the warnings."""
    lines = [f"archs: {', '.join(selection['archs']) or 'none'} (from {selection['archs_origin']})"]
    for image in selection.get("manylinux_images") or []:
        policy = image["policy"] or "policy read from the image"
        jobs = f" for {', '.join(image['identifiers'])}" if _overridden(selection, image) else ""
        lines.append(
            f"manylinux image {image['arch']}: {image['reference']} ({policy};"
            f" from {image['origin']}){jobs}"
        )
    floor = selection.get("policy_floor")
    lines.append(
        f"policy floor: {floor} (a wheel that needs a newer glibc fails its job)"
        if floor
        else "policy floor: none (each wheel gets the most portable policy it qualifies for)"
    )
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for job in selection["jobs"]:
        groups.setdefault(job["settings_hash"], []).append(job)
    for digest, jobs in groups.items():
        names = ", ".join(job["identifier"] for job in jobs)
        lines.append(f"settings {digest[:12]} for {names}:")
        settings = jobs[0]["settings"]
        for key, label in _SHOWN:
            text = _shown(settings.get(key) or "")
            if text:
                cut = width - len(label) - 6
                lines.append(f"  {label}: {text if len(text) <= cut else text[: cut - 3] + '...'}")
    if not selection["jobs"]:
        lines.append("no job is selected")
    unavailable = selection.get("unavailable") or []
    if unavailable:
        lines.append(f"not built ({sum(max(1, len(i['identifiers'])) for i in unavailable)}):")
    missing_pythons: dict[str, list[str]] = {}
    for item in unavailable:
        if item["kind"] == "python":
            python, _, platform = item["subject"].partition("-")
            missing_pythons.setdefault(platform.removeprefix("manylinux_"), []).append(python)
        else:
            lines.append(f"  {item['subject']}: {item['reason']}")
    provide = selection.get("images_provide") or {}
    for arch, pythons in missing_pythons.items():
        offered = ", ".join(provide.get(arch) or []) or "none"
        lines.append(
            f"  {arch}: {', '.join(pythons)} selected, but no {arch} builder image provides them"
            f" (they provide: {offered})"
        )
    images = image_offers.from_json(selection.get("builder_images") or [])
    if images:
        lines.append("builder images:")
        lines.extend(f"  {offer.describe()}" for offer in images)
    for warning in selection.get("warnings") or []:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
