# Copyright: wheelfleet developers
# Apache License 2.0
"""Reading, comparing and writing Linux binfmt_misc registrations.

Runs on build hosts (any Python 3.8+), so it uses only the standard library.

A registration line has the form ``:name:type:offset:magic:mask:interpreter:flags``
(see the kernel's Documentation/admin-guide/binfmt-misc.rst). The kernel shows a
registered handler in ``/proc/sys/fs/binfmt_misc/<name>`` as lines such as
``enabled``, ``interpreter /path``, ``flags: POF``, ``offset 0``, ``magic 7f45...``
and ``mask ffff...``.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field

BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
# Flags as the kernel prints them, in its order.
FLAG_ORDER = "POCF"
# Entries of the binfmt_misc directory that are control files, not handlers.
CONTROL_ENTRIES = frozenset({"register", "status"})

_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


class BinfmtError(Exception):
    """A registration could not be read, parsed or written; the message says why."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


@dataclass(frozen=True)
class Registration:
    """One binfmt_misc handler: what it matches and which interpreter runs it."""

    name: str
    interpreter: str
    flags: frozenset = field(default_factory=frozenset)
    kind: str = "M"
    offset: int = 0
    magic: bytes = b""
    mask: bytes = b""
    enabled: bool = True

    def masked_magic(self) -> bytes:
        """The magic with the mask applied, which is what the kernel compares."""
        if not self.mask:
            return self.magic
        # zip(strict=) needs Python 3.10; build hosts may run 3.8.
        return bytes(m & k for m, k in zip(self.magic, self.mask))  # noqa: B905

    def flag_string(self) -> str:
        return "".join(f for f in FLAG_ORDER if f in self.flags)

    def line(self) -> str:
        """The line to write to the ``register`` file."""
        # The kernel unescapes \xHH only in magic and mask of type M; an E (extension)
        # registration takes the extension verbatim and ignores offset and mask.
        extension = self.kind == "E"
        return ":{}:{}:{}:{}:{}:{}:{}".format(
            self.name,
            self.kind,
            "" if extension else self.offset or "",
            self.magic.decode("latin-1") if extension else _escape(self.magic),
            "" if extension else _escape(self.mask),
            self.interpreter,
            self.flag_string(),
        )

    def same_handler(self, other: Registration) -> bool:
        """Whether two registrations would behave identically."""
        return (
            self.kind == other.kind
            and self.offset == other.offset
            and self.masked_magic() == other.masked_magic()
            and (self.mask or b"\xff" * len(self.magic))
            == (other.mask or b"\xff" * len(other.magic))
            and self.interpreter == other.interpreter
            and _effective_flags(self.flags) == _effective_flags(other.flags)
        )

    def with_flags(self, flags: str) -> Registration:
        return Registration(
            self.name,
            self.interpreter,
            parse_flags(flags),
            self.kind,
            self.offset,
            self.magic,
            self.mask,
            self.enabled,
        )

    def describe(self) -> str:
        state = "" if self.enabled else " (disabled)"
        return f"{self.name}: {self.interpreter} flags={self.flag_string()}{state}"


def _effective_flags(flags: frozenset) -> frozenset:
    # C (credentials) implies O (open-binary); the kernel shows both.
    return frozenset(flags | {"O"}) if "C" in flags else frozenset(flags)


def _escape(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _unescape(text: str) -> bytes:
    """Decode a magic or mask field: ``\\xHH`` escapes and literal characters."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += text[pos : match.start()].encode("latin-1")
        out.append(int(match.group(1), 16))
        pos = match.end()
    out += text[pos:].encode("latin-1")
    return bytes(out)


def parse_flags(flags: str) -> frozenset:
    unknown = sorted(set(flags) - set(FLAG_ORDER))
    if unknown:
        raise BinfmtError(
            f"unknown binfmt_misc flag(s) {''.join(unknown)!r} in {flags!r}; valid flags: "
            "P (preserve argv0), O (open binary), C (credentials), F (fix binary)"
        )
    return frozenset(flags)


def parse_line(line: str) -> Registration:
    """Parse a registration line such as the ones in /usr/lib/binfmt.d/*.conf."""
    text = line.strip()
    if len(text) < 2:
        raise BinfmtError(f"empty binfmt_misc registration line: {line!r}")
    fields = text[1:].split(text[0])
    if len(fields) < 7:
        raise BinfmtError(f"malformed binfmt_misc registration line (needs 7 fields): {line!r}")
    name, kind, offset, magic, mask, interpreter, flags = fields[:7]
    if kind not in ("M", "E"):
        raise BinfmtError(f"unsupported binfmt_misc type {kind!r} in {line!r} (M or E)")
    return Registration(
        name=name,
        interpreter=interpreter,
        flags=parse_flags(flags),
        kind=kind,
        offset=int(offset or 0),
        magic=_unescape(magic) if kind == "M" else magic.encode("latin-1"),
        mask=_unescape(mask),
    )


def parse_entry(name: str, text: str) -> Registration:
    """Parse the kernel's view of a registered handler (``/proc/sys/fs/binfmt_misc/<name>``)."""
    enabled = True
    interpreter = ""
    flags = ""
    kind = "M"
    offset = 0
    magic = b""
    mask = b""
    for raw in text.splitlines():
        key, _, value = raw.strip().partition(" ")
        if key == "enabled":
            enabled = True
        elif key == "disabled":
            enabled = False
        elif key == "interpreter":
            interpreter = value
        elif key == "flags:":
            flags = value.strip()
        elif key == "offset":
            offset = int(value)
        elif key == "magic":
            magic = bytes.fromhex(value)
        elif key == "mask":
            mask = bytes.fromhex(value)
        elif key == "extension":
            kind = "E"
            # The kernel prints the extension with a leading dot that registration omits.
            magic = (value[1:] if value.startswith(".") else value).encode("latin-1")
    return Registration(name, interpreter, parse_flags(flags), kind, offset, magic, mask, enabled)


def package_conf(qemu_target: str, conf_dirs: list) -> tuple:
    """Find the registration the QEMU package ships for a target.

    Debian names it ``qemu-<target>.conf``; Fedora ``qemu-<target>-static.conf``.
    Returns ``(path, Registration)``.
    """
    candidates = [f"qemu-{qemu_target}.conf", f"qemu-{qemu_target}-static.conf"]
    for directory in conf_dirs:
        for filename in candidates:
            path = os.path.join(directory, filename)
            if not os.path.isfile(path):
                continue
            with open(path, encoding="latin-1") as handle:
                for line in handle:
                    if line.strip() and not line.lstrip().startswith(("#", ";")):
                        return path, parse_line(line)
            raise BinfmtError(f"{path} holds no registration line")
    raise BinfmtError(
        f"no binfmt.d registration for QEMU target {qemu_target!r} "
        f"(looked for {' or '.join(candidates)} in {', '.join(conf_dirs)}); "
        "is the static QEMU user-emulation package installed?"
    )


class BinfmtMisc:
    """The kernel's binfmt_misc interface at ``root`` (normally /proc/sys/fs/binfmt_misc)."""

    def __init__(self, root: str = BINFMT_DIR) -> None:
        self.root = root

    def mounted(self) -> bool:
        return os.path.exists(os.path.join(self.root, "register"))

    def names(self) -> list:
        return sorted(n for n in os.listdir(self.root) if n not in CONTROL_ENTRIES)

    def read(self, name: str) -> Registration | None:
        """The registered handler ``name``, or None."""
        path = os.path.join(self.root, name)
        try:
            with open(path, encoding="latin-1") as handle:
                return parse_entry(name, handle.read())
        except FileNotFoundError:
            return None

    def register(self, registration: Registration) -> None:
        """Register a handler; an identical one registered meanwhile counts as done.

        binfmt_misc is global to the kernel, so hosts that are containers of one
        machine (or two runs on one host) may register the same handler at once.
        """
        try:
            self._write("register", registration.line(), registration.name)
        except BinfmtError as error:
            current = self.read(registration.name) if error.errno == errno.EEXIST else None
            if current is None or not current.same_handler(registration):
                raise

    def remove(self, name: str) -> None:
        """Remove a handler; one already removed (by a concurrent run) counts as done."""
        try:
            self._write(name, "-1", name)
        except BinfmtError:
            # A missing entry cannot be opened (EACCES or ENOENT, by kernel).
            if self.read(name) is not None:
                raise

    def enable(self, name: str) -> None:
        self._write(name, "1", name)

    def _write(self, entry: str, data: str, name: str) -> None:
        try:
            with open(os.path.join(self.root, entry), "w", encoding="latin-1") as handle:
                handle.write(data)
        except OSError as exc:
            raise BinfmtError(
                f"writing binfmt_misc entry {entry!r} for handler {name!r} failed: "
                f"{exc.strerror or exc}",
                exc.errno,
            ) from exc
