"""Planning a release across the fleet: which host builds which wheel, in what order.

Everything here is pure: the inputs are the jobs (one wheel each: a Python tag on
an architecture) and the fleet (each host's architecture, the architectures it
emulates, its capacity and whether it can be used), the output a :class:`Plan`.
The CLI (``wheelfleet plan``) and the playbooks (``wheelfleet.fleet.plan_release``)
both call :func:`make_plan`, so they plan alike.

The rules:

* **Native first.** A job goes to a host that runs its architecture natively
  (see :func:`wheelfleet.architectures.runs_natively`; i686 is native on x86_64)
  whenever one is available. Only when no available host runs it natively does
  it go to a host that emulates it, and there it costs ``emulation_factor``
  times as much.
* **Balanced by capacity.** Each host has ``capacity`` slots (parallel builds).
  Jobs are placed longest first (greedy longest-processing-time): each goes to
  the slot, among the hosts allowed to take it, that becomes free first, so that
  the estimated finish of the whole release is as early as this greedy rule
  can make it.
* **Deterministic.** The same input gives the same plan: jobs of equal cost are
  placed in identifier order, and equally loaded hosts are chosen in name order.

Costs are in the unit of :attr:`Job.weight`: by default 1.0 per native build, so
an estimated finish of 3.0 means "about three native builds long". Give weights
in seconds and the estimates are in seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wheelfleet.architectures import UnknownArchitectureError, resolve, runs_natively
from wheelfleet.identifiers import (
    Identifier,
    IdentifierError,
    build_identifiers,
    check_python_tag,
)

DEFAULT_EMULATION_FACTOR = 8.0
"""How many times longer a build takes under QEMU user emulation than natively.

Measured on the development machines (PyYAML with libyaml: 5 s native x86_64,
41 s emulated aarch64); cibuildwheel's users report 5 to 10 times.
"""

SCHEMA = 1
"""Version of the JSON document :meth:`Plan.to_json` writes."""

# Inventory variables and facts read by host_from_vars.
VAR_ARCHITECTURE = "wheelfleet_architecture"
VAR_EMULATES = "wheelfleet_emulates"
VAR_CAPACITY = "wheelfleet_capacity"
VAR_UNAVAILABLE = "wheelfleet_unavailable"
FACT_EMULATED = "wheelfleet_emulated_architectures"


class PlanInputError(ValueError):
    """An input the planner cannot use; the message names the value and the valid ones."""


def check_architecture(name: object, where: str = "") -> str:
    """The canonical name of an architecture or alias; raises naming it and the valid ones.

    ``where`` (such as ``host builder-01: wheelfleet_emulates``) prefixes the message.
    """
    prefix = f"{where}: " if where else ""
    if not isinstance(name, str):
        raise PlanInputError(f"{prefix}expected an architecture name, got {name!r}")
    try:
        return resolve(name).name
    except UnknownArchitectureError as exc:
        raise PlanInputError(f"{prefix}{exc}") from None


def check_python(tag: object) -> str:
    """Return ``tag`` if wheelfleet builds it (wheelfleet.identifiers), or raise naming it."""
    if not isinstance(tag, str):
        raise PlanInputError(f"expected a Python tag such as cp312, got {tag!r}")
    try:
        return check_python_tag(tag)
    except IdentifierError as exc:
        raise PlanInputError(str(exc)) from None


def _number(value: object, where: str, *, minimum: float, inclusive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanInputError(f"{where}: expected a number, got {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
        raise PlanInputError(f"{where}: must be {bound}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    """One wheel to build: a Python tag on an architecture.

    ``identifier`` is the build identifier of wheelfleet.identifiers
    (cibuildwheel's spelling, ``cp311-manylinux_aarch64``); :meth:`from_identifier`
    parses one. ``settings_hash`` is carried through untouched: it tells apart
    jobs whose build settings differ, for the manifest and incremental releases.
    """

    identifier: str
    architecture: str
    python: str
    weight: float = 1.0
    """Estimated cost of a native build: 1.0 by default, or seconds."""
    settings_hash: str = ""
    image: str = ""
    """The builder image (its name, as in builder_image_images) that provides the job's
    Python on its architecture; empty: the build role's default image."""

    def __post_init__(self) -> None:
        if not isinstance(self.identifier, str) or not self.identifier:
            raise PlanInputError(f"a job needs a non-empty identifier, got {self.identifier!r}")
        where = f"job {self.identifier}"
        object.__setattr__(self, "architecture", check_architecture(self.architecture, where))
        check_python(self.python)
        weight = _number(self.weight, f"{where}: weight", minimum=0, inclusive=False)
        object.__setattr__(self, "weight", weight)
        if not isinstance(self.settings_hash, str):
            raise PlanInputError(f"{where}: settings_hash must be a string")
        if not isinstance(self.image, str):
            raise PlanInputError(f"{where}: image must be an image name, got {self.image!r}")

    @classmethod
    def from_build(
        cls,
        identifier: Identifier,
        *,
        weight: float = 1.0,
        settings_hash: str = "",
        image: str = "",
    ) -> Job:
        """The job of a wheelfleet.identifiers.Identifier."""
        return cls(
            str(identifier), identifier.arch, identifier.python, weight, settings_hash, image
        )

    @classmethod
    def build(
        cls,
        python: str,
        architecture: str,
        *,
        weight: float = 1.0,
        settings_hash: str = "",
        image: str = "",
    ) -> Job:
        """The job for a Python tag on an architecture (an alias is made canonical)."""
        identifier = Identifier(check_python(python), check_architecture(architecture))
        return cls.from_build(identifier, weight=weight, settings_hash=settings_hash, image=image)

    @classmethod
    def from_identifier(
        cls, identifier: str, *, weight: float = 1.0, settings_hash: str = ""
    ) -> Job:
        """Parse a build identifier such as ``cp311-manylinux_aarch64``."""
        if not isinstance(identifier, str):
            raise PlanInputError(f"a build identifier is a string, got {identifier!r}")
        try:
            parsed = Identifier.parse(identifier)
        except (IdentifierError, UnknownArchitectureError) as exc:
            raise PlanInputError(str(exc)) from None
        return cls.from_build(parsed, weight=weight, settings_hash=settings_hash)

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any]) -> Job:
        """A job from an identifier string or a mapping (the form :meth:`to_json` writes).

        A mapping needs ``identifier``, or ``python`` and ``architecture``;
        ``weight`` and ``settings_hash`` are optional. Other keys are ignored.
        """
        if isinstance(data, str):
            return cls.from_identifier(data)
        if not isinstance(data, Mapping):
            raise PlanInputError(f"a job is an identifier or a mapping, got {data!r}")
        weight = data.get("weight", 1.0)
        settings_hash = data.get("settings_hash") or ""
        image = data.get("image") or ""
        if data.get("identifier"):
            job = cls.from_identifier(
                data["identifier"], weight=weight, settings_hash=settings_hash
            )
        elif "python" in data and "architecture" in data:
            job = cls.build(
                data["python"], data["architecture"], weight=weight, settings_hash=settings_hash
            )
        else:
            raise PlanInputError(
                "a job mapping needs 'identifier', or 'python' and 'architecture';"
                f" got {dict(data)!r}"
            )
        stated = {"python": data.get("python"), "architecture": data.get("architecture")}
        if stated["architecture"] is not None:
            stated["architecture"] = check_architecture(stated["architecture"])
        for key, value in stated.items():
            if value is not None and value != getattr(job, key):
                raise PlanInputError(
                    f"job {job.identifier}: {key} {value!r} contradicts the identifier"
                )
        return replace(job, image=str(image)) if image else job

    def to_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "architecture": self.architecture,
            "python": self.python,
            "weight": self.weight,
            "settings_hash": self.settings_hash,
            "image": self.image,
        }


def matrix_jobs(architectures: Iterable[str], pythons: Iterable[str]) -> list[Job]:
    """One job per architecture and Python tag, ordered as wheelfleet.identifiers orders builds.

    Aliases are resolved and duplicates dropped. Raises PlanInputError naming an
    unknown architecture or Python tag, or an empty list.
    """
    archs = [check_architecture(a) for a in _as_list(architectures, "architecture")]
    tags = [check_python(p) for p in _as_list(pythons, "Python tag")]
    return [Job.from_build(identifier) for identifier in build_identifiers(tags, archs)]


def _as_list(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    found = list(values or ())
    if not found:
        raise PlanInputError(f"no {what} requested: give at least one")
    return found


# -------------------------------------------------------------------------- hosts


@dataclass(frozen=True)
class Host:
    """A build host as the planner sees it."""

    name: str
    architecture: str | None
    """Canonical native architecture; None when unknown (then the host is unhealthy)."""
    capacity: int = 1
    """Parallel build slots; 0 takes no jobs."""
    emulates: frozenset[str] = frozenset()
    """Architectures it runs through QEMU (native ones are dropped)."""
    healthy: bool = True
    """Reachable and usable. An unhealthy host gets no jobs."""
    note: str = ""
    """Why the host is unhealthy."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise PlanInputError(f"a host needs a non-empty name, got {self.name!r}")
        where = f"host {self.name}"
        if self.architecture is None:
            if self.healthy:
                raise PlanInputError(f"{where}: its architecture is unknown")
        else:
            native = check_architecture(self.architecture, f"{where}: architecture")
            object.__setattr__(self, "architecture", native)
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int):
            raise PlanInputError(f"{where}: capacity must be a whole number, got {self.capacity!r}")
        if self.capacity < 0:
            raise PlanInputError(f"{where}: capacity must be 0 or more, got {self.capacity}")
        if isinstance(self.emulates, str):
            raise PlanInputError(f"{where}: emulates must be a list of architectures")
        emulated = {check_architecture(a, f"{where}: emulates") for a in self.emulates}
        if self.architecture is not None:
            emulated = {a for a in emulated if not runs_natively(self.architecture, a)}
        object.__setattr__(self, "emulates", frozenset(emulated))

    @property
    def usable(self) -> bool:
        return self.healthy and self.capacity > 0

    def runs_natively(self, architecture: str) -> bool:
        return self.architecture is not None and runs_natively(self.architecture, architecture)

    def can_build(self, architecture: str) -> bool:
        return self.runs_natively(architecture) or architecture in self.emulates

    def to_json(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "capacity": self.capacity,
            "emulates": sorted(self.emulates),
            "healthy": self.healthy,
            "note": self.note,
        }


def _present(variables: Mapping[str, Any], name: str) -> bool:
    return variables.get(name) is not None


def host_from_vars(name: str, variables: Mapping[str, Any]) -> Host:
    """A host from its Ansible variables: inventory overrides first, then gathered facts.

    ============================  ============================================================
    ``wheelfleet_architecture``   native architecture (else ``ansible_facts.architecture``)
    ``wheelfleet_capacity``       parallel build slots (else ``ansible_facts.processor_nproc``,
                                  else ``processor_vcpus``, else 1)
    ``wheelfleet_emulates``       architectures it emulates (else the fact
                                  ``wheelfleet_emulated_architectures``, else none)
    ``wheelfleet_unavailable``    a reason: the host is left out of the plan
    ============================  ============================================================

    A host with neither ``wheelfleet_architecture`` nor gathered facts was not
    reached: it is returned unhealthy, so the plan leaves it out and says why.
    """
    facts = variables.get("ansible_facts") or {}
    if not isinstance(facts, Mapping):
        facts = {}
    arch_value = variables.get(VAR_ARCHITECTURE) or facts.get("architecture")
    architecture = (
        check_architecture(arch_value, f"host {name}: {VAR_ARCHITECTURE}") if arch_value else None
    )

    if _present(variables, VAR_CAPACITY):
        capacity = _whole(variables[VAR_CAPACITY], f"host {name}: {VAR_CAPACITY}")
    else:
        cores = facts.get("processor_nproc") or facts.get("processor_vcpus")
        capacity = _whole(cores, f"host {name}: processor count") if cores else 1

    key = VAR_EMULATES if _present(variables, VAR_EMULATES) else FACT_EMULATED
    emulated = variables.get(key) or []
    if isinstance(emulated, str) or not isinstance(emulated, Iterable):
        raise PlanInputError(
            f"host {name}: {key} must be a list of architectures, got {emulated!r}"
        )
    emulates = frozenset(check_architecture(a, f"host {name}: {key}") for a in emulated)

    unavailable = variables.get(VAR_UNAVAILABLE)
    if unavailable:
        return Host(name, architecture, capacity, emulates, healthy=False, note=str(unavailable))
    if architecture is None:
        return Host(
            name,
            None,
            capacity,
            emulates,
            healthy=False,
            note=f"no facts: the host was not reached, and {VAR_ARCHITECTURE} is not set",
        )
    return Host(name, architecture, capacity, emulates)


def _whole(value: object, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlanInputError(f"{where}: expected a whole number of 0 or more, got {value!r}")
    return value


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Assignment:
    """A job placed on a host."""

    job: Job
    native: bool
    cost: float
    """Estimated cost on this host: the job's weight, times the emulation factor if emulated."""
    finished: bool = False
    """Built already (set by :func:`replan`); never moved or repeated."""
    moved_from: str | None = None
    """The failed host this job was taken from, when :func:`replan` moved it."""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.job.to_json(),
            "native": self.native,
            "cost": self.cost,
            "finished": self.finished,
            "moved_from": self.moved_from,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Assignment:
        return cls(
            Job.from_json(data),
            native=bool(data["native"]),
            cost=float(data["cost"]),
            finished=bool(data.get("finished", False)),
            moved_from=data.get("moved_from"),
        )


@dataclass(frozen=True)
class HostPlan:
    """One host and its jobs, in the order its slots should take them."""

    host: Host
    assignments: tuple[Assignment, ...] = ()

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def pending(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if not a.finished)

    @property
    def estimated_finish(self) -> float:
        """When the host's last pending job should end, its slots taking jobs in order."""
        return max(_slots([a.cost for a in self.pending], self.host.capacity), default=0.0)


@dataclass(frozen=True)
class Unschedulable:
    """A job no host can build, and why."""

    job: Job
    reason: str


@dataclass(frozen=True)
class Plan:
    """Which host builds which job. Hosts are in name order."""

    hosts: tuple[HostPlan, ...]
    unschedulable: tuple[Unschedulable, ...] = ()
    emulation_factor: float = DEFAULT_EMULATION_FACTOR

    @property
    def ok(self) -> bool:
        """Every job has a host."""
        return not self.unschedulable

    @property
    def estimated_finish(self) -> float:
        """When the last pending job should end (the release's length, in cost units)."""
        return max((h.estimated_finish for h in self.hosts), default=0.0)

    def host(self, name: str) -> HostPlan:
        for host_plan in self.hosts:
            if host_plan.name == name:
                return host_plan
        raise KeyError(name)

    def assignments(self) -> dict[str, list[str]]:
        """Host name -> identifiers of its jobs, in order."""
        return {h.name: [a.job.identifier for a in h.assignments] for h in self.hosts}

    def where(self, identifier: str) -> tuple[str, Assignment] | None:
        """The host a job is assigned to, and its assignment."""
        for host_plan in self.hosts:
            for assignment in host_plan.assignments:
                if assignment.job.identifier == identifier:
                    return host_plan.name, assignment
        return None

    def problems(self) -> list[str]:
        """One line per unschedulable job: ``identifier: reason``."""
        return [f"{u.job.identifier}: {u.reason}" for u in self.unschedulable]

    # -- JSON

    def to_json(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict; :meth:`from_json` reads it back.

        ``estimated_finish`` and ``counts`` are derived, for readers; from_json ignores them.
        """
        placed = [a for h in self.hosts for a in h.assignments]
        return {
            "schema": SCHEMA,
            "emulation_factor": self.emulation_factor,
            "estimated_finish": self.estimated_finish,
            "counts": {
                "jobs": len(placed) + len(self.unschedulable),
                "native": sum(a.native for a in placed),
                "emulated": sum(not a.native for a in placed),
                "finished": sum(a.finished for a in placed),
                "unschedulable": len(self.unschedulable),
            },
            "hosts": {
                h.name: {
                    **h.host.to_json(),
                    "estimated_finish": h.estimated_finish,
                    "jobs": [a.to_json() for a in h.assignments],
                }
                for h in self.hosts
            },
            "unschedulable": [{**u.job.to_json(), "reason": u.reason} for u in self.unschedulable],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any]) -> Plan:
        """Read a plan written by :meth:`to_json` (a dict, or its JSON text)."""
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            found = data.get("schema") if isinstance(data, Mapping) else type(data).__name__
            raise PlanInputError(f"not a wheelfleet plan (schema {SCHEMA}); got {found!r}")
        try:
            hosts = tuple(
                HostPlan(
                    Host(
                        name,
                        entry["architecture"],
                        entry["capacity"],
                        frozenset(entry.get("emulates", ())),
                        healthy=bool(entry.get("healthy", True)),
                        note=entry.get("note", ""),
                    ),
                    tuple(Assignment.from_json(job) for job in entry.get("jobs", ())),
                )
                for name, entry in sorted(data["hosts"].items())
            )
            unschedulable = tuple(
                Unschedulable(Job.from_json(entry), entry["reason"])
                for entry in data.get("unschedulable", ())
            )
            factor = float(data["emulation_factor"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PlanInputError):
                raise
            raise PlanInputError(f"malformed plan: {exc!r}") from None
        return cls(hosts, unschedulable, factor)

    # -- text

    def render(self) -> str:
        """The plan as a text table, for people."""
        rows: list[tuple[str, ...]] = []
        for h in self.hosts:
            host = h.host
            slots = str(host.capacity) if host.architecture else "?"
            if not host.healthy:
                rows.append((h.name, host.architecture or "?", slots, "-", "", "unavailable", ""))
            elif not h.assignments:
                rows.append((h.name, host.architecture or "?", slots, "-", "", "no jobs", ""))
            for index, a in enumerate(h.assignments):
                first = index == 0 and host.healthy
                state = "done" if a.finished else ""
                if a.moved_from:
                    state = ", ".join(s for s in (state, f"moved from {a.moved_from}") if s)
                rows.append(
                    (
                        h.name if first else "",
                        (host.architecture or "?") if first else "",
                        slots if first else "",
                        a.job.identifier,
                        a.job.image or "-",
                        "native" if a.native else "emulated",
                        f"{a.cost:g}" + (f"  {state}" if state else ""),
                    )
                )
        header: tuple[str, ...] = ("host", "arch", "slots", "job", "image", "mode", "cost")
        if not any(a.job.image for h in self.hosts for a in h.assignments):
            # Jobs without images (an explicit matrix for the role's default image): no column.
            header = header[:4] + header[5:]
            rows = [row[:4] + row[5:] for row in rows]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        right = {2}
        lines = []
        for row in [header, *rows]:
            cells = [
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ]
            lines.append("  ".join(cells).rstrip())
        for h in self.hosts:
            if not h.host.healthy:
                lines.append(f"{h.name} is left out: {h.host.note or 'unavailable'}")
        placed = [a for h in self.hosts for a in h.assignments]
        emulated = sum(not a.native for a in placed)
        finished = sum(a.finished for a in placed)
        busy = sum(1 for h in self.hosts if h.pending)
        summary = f"{len(placed)} job(s): {len(placed) - emulated} native, {emulated} emulated"
        if finished:
            summary += f" ({finished} done)"
        summary += (
            f"; {busy} host(s) busy; estimated finish at {self.estimated_finish:g}"
            f" (cost units: 1 per native build unless weighted,"
            f" {self.emulation_factor:g}x under emulation)"
        )
        lines.append(summary)
        if self.unschedulable:
            lines.append(f"{len(self.unschedulable)} job(s) cannot be built:")
            lines.extend(f"  {problem}" for problem in self.problems())
        return "\n".join(lines)


def _slots(costs: Sequence[float], capacity: int) -> list[float]:
    """The times a host's slots become free after taking ``costs`` in order."""
    slots = [0.0] * max(capacity, 1)
    for cost in costs:
        index = slots.index(min(slots))
        slots[index] += cost
    return slots


def _unique_hosts(hosts: Iterable[Host]) -> list[Host]:
    found: dict[str, Host] = {}
    for host in hosts:
        if not isinstance(host, Host):
            raise PlanInputError(f"expected a Host, got {host!r}")
        if host.name in found:
            raise PlanInputError(f"host {host.name!r} is listed twice")
        found[host.name] = host
    return [found[name] for name in sorted(found)]


def _unique_jobs(jobs: Iterable[Job]) -> list[Job]:
    found: dict[str, Job] = {}
    for job in jobs:
        if not isinstance(job, Job):
            raise PlanInputError(f"expected a Job, got {job!r}")
        if job.identifier in found:
            raise PlanInputError(f"job {job.identifier!r} is listed twice")
        found[job.identifier] = job
    return list(found.values())


def _reason(job: Job, hosts: Sequence[Host], failed_on: str | None = None) -> str:
    """Why no host can take ``job``: names the architecture and what is missing."""
    arch = job.architecture
    prefix = f"its host {failed_on} failed and " if failed_on else ""
    provision = f"provision one with qemu_binfmt_architectures including {arch}"
    if not hosts:
        return f"{prefix}the fleet has no build host; add hosts to the build_hosts group"
    capable = [h for h in hosts if h.can_build(arch)]
    if not capable:
        unread = [h.name for h in hosts if h.architecture is None]
        unknown = (
            f" (not counted, as they could not be read: {', '.join(unread)})" if unread else ""
        )
        return f"{prefix}no host runs {arch} natively and none emulates it{unknown}; {provision}"
    details = []
    for host in capable:
        how = "runs it natively" if host.runs_natively(arch) else "emulates it"
        if not host.healthy:
            details.append(f"{host.name} ({how}) is unavailable: {host.note or 'unhealthy'}")
        else:
            details.append(f"{host.name} ({how}) has capacity 0")
    return (
        f"{prefix}no available host can build {arch}: {'; '.join(details)};"
        f" bring one back, or {provision}"
    )


def _place(
    jobs: Sequence[Job],
    hosts: Sequence[Host],
    existing: Mapping[str, Sequence[Assignment]],
    factor: float,
    origin: Mapping[str, str],
) -> tuple[dict[str, list[Assignment]], list[Unschedulable]]:
    """Add ``jobs`` to the hosts' lists, native first, longest first, earliest slot first."""
    usable = [h for h in hosts if h.usable]
    slots = {
        h.name: _slots([a.cost for a in existing.get(h.name, ()) if not a.finished], h.capacity)
        for h in usable
    }
    placed = {h.name: list(existing.get(h.name, ())) for h in hosts}
    pending: list[tuple[float, Job, list[Host], bool]] = []
    unschedulable: list[Unschedulable] = []
    for job in jobs:
        native = [h for h in usable if h.runs_natively(job.architecture)]
        candidates = native or [h for h in usable if job.architecture in h.emulates]
        if not candidates:
            reason = _reason(job, hosts, origin.get(job.identifier))
            unschedulable.append(Unschedulable(job, reason))
            continue
        cost = job.weight if native else job.weight * factor
        pending.append((cost, job, candidates, bool(native)))
    pending.sort(key=lambda item: (-item[0], item[1].identifier))
    for cost, job, candidates, native in pending:
        host = min(candidates, key=lambda h: (min(slots[h.name]), h.name))
        free = slots[host.name]
        free[free.index(min(free))] += cost
        placed[host.name].append(
            Assignment(job, native, cost, moved_from=origin.get(job.identifier))
        )
    return placed, unschedulable


def _check_factor(value: object) -> float:
    return _number(value, "emulation factor", minimum=1, inclusive=True)


def make_plan(
    jobs: Iterable[Job],
    hosts: Iterable[Host],
    *,
    emulation_factor: float = DEFAULT_EMULATION_FACTOR,
) -> Plan:
    """Place every job on a host: native first, balanced by capacity, deterministic.

    Jobs no available host can build are returned in :attr:`Plan.unschedulable`,
    each with a reason naming its architecture and what is missing. Raises
    PlanInputError for a job or host listed twice, or a bad emulation factor.
    """
    job_list = _unique_jobs(jobs)
    host_list = _unique_hosts(hosts)
    factor = _check_factor(emulation_factor)
    placed, unschedulable = _place(job_list, host_list, {}, factor, {})
    return Plan(
        tuple(HostPlan(h, tuple(placed[h.name])) for h in host_list),
        tuple(sorted(unschedulable, key=lambda u: u.job.identifier)),
        factor,
    )


def replan(
    plan: Plan,
    failed_hosts: Iterable[str] | Mapping[str, str],
    finished_jobs: Iterable[str] = (),
) -> Plan:
    """The plan after hosts failed: their unfinished jobs move to the remaining capable hosts.

    ``failed_hosts`` names the hosts that failed or became unreachable (a mapping
    gives each one's reason). ``finished_jobs`` names the jobs already built,
    wherever they ran: they are marked finished and stay where they are, never
    moved or repeated. Jobs still pending on healthy hosts keep their place and
    order; moved jobs are added after them, native first and balanced over the
    slots' remaining work. Jobs that no remaining host can build become
    unschedulable, with a reason naming the failed host.
    """
    if isinstance(failed_hosts, Mapping):
        failed = {str(k): str(v) for k, v in failed_hosts.items()}
    else:
        failed = dict.fromkeys(failed_hosts, "failed during the release")
    known = {h.name for h in plan.hosts}
    unknown = sorted(set(failed) - known)
    if unknown:
        raise PlanInputError(
            f"unknown host(s) {', '.join(unknown)}; the plan's hosts: {', '.join(sorted(known))}"
        )
    finished = set(finished_jobs)
    planned = {a.job.identifier for h in plan.hosts for a in h.assignments}
    stray = sorted(finished - planned)
    if stray:
        raise PlanInputError(f"finished job(s) {', '.join(stray)} are not assigned in the plan")

    hosts: list[Host] = []
    kept: dict[str, list[Assignment]] = {}
    orphans: list[Job] = []
    origin: dict[str, str] = {}
    for host_plan in plan.hosts:
        host = host_plan.host
        if host.name in failed:
            host = replace(host, healthy=False, note=failed[host.name])
        hosts.append(host)
        kept[host.name] = []
        for assignment in host_plan.assignments:
            done = assignment.finished or assignment.job.identifier in finished
            if done:
                kept[host.name].append(replace(assignment, finished=True))
            elif host.name in failed:
                orphans.append(assignment.job)
                origin[assignment.job.identifier] = host.name
            else:
                kept[host.name].append(assignment)

    orphans.sort(key=lambda job: job.identifier)
    placed, unschedulable = _place(orphans, hosts, kept, plan.emulation_factor, origin)
    return Plan(
        tuple(HostPlan(h, tuple(placed[h.name])) for h in hosts),
        tuple(
            sorted(
                (*plan.unschedulable, *unschedulable),
                key=lambda u: u.job.identifier,
            )
        ),
        plan.emulation_factor,
    )
