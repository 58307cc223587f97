#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: binfmt_handlers
short_description: Register QEMU user-emulation handlers with binfmt_misc
version_added: 0.1.0
description:
  - Registers one binfmt_misc handler per QEMU target, using the registration line that the
    distribution's static QEMU package ships in C(binfmt.d) (so the emulator path is never
    hard-coded), with the requested flags.
  - An identical registration is left alone. A registration that differs (other interpreter,
    flags, magic or mask) is removed and registered again. A disabled one is enabled.
  - Optionally removes every other QEMU handler (O(exclusive)), and writes the registrations to a
    C(binfmt.d) directory so that systemd-binfmt restores them at boot (O(persist_dir)).
options:
  qemu_targets:
    description:
      - QEMU user-mode target names, as in C(qemu-<target>-static), for example C(aarch64), C(arm),
        C(ppc64le), C(s390x), C(riscv64).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) registers the handlers; V(absent) removes them (and their persisted files).
    type: str
    choices: [present, absent]
    default: present
  flags:
    description:
      - Flags of every registration. V(F) (fix-binary) makes the kernel open the emulator at
        registration time, so containers need no emulator inside their images; it is required.
    type: str
    choices: [F, PF, OF, CF, POF, PCF, OCF, POCF]
    default: POF
  exclusive:
    description:
      - Also remove registered QEMU handlers (name starting with C(qemu-)) that are not listed.
        Handlers of other packages (Python bytecode, Java, Wine...) are never touched.
      - With O(persist_dir), each removed handler is also masked there (a C(<name>.conf) symlink
        to C(/dev/null)), so systemd-binfmt does not register the package's file again at boot.
    type: bool
    default: false
  force:
    description:
      - Register every listed handler again even when it looks identical. With the F flag the
        kernel keeps the emulator file it opened at registration, so after the QEMU package is
        upgraded the old emulator stays in use until the handler is registered again.
    type: bool
    default: false
  conf_dirs:
    description: Directories searched for the package's C(qemu-<target>.conf) files.
    type: list
    elements: path
    default: [/usr/lib/binfmt.d]
  persist_dir:
    description:
      - Directory where the registrations are written for systemd-binfmt to restore at boot,
        one file per handler with the package file's name (which overrides it). Unset means no
        persistence; hosts without systemd are registered again at each provisioning.
    type: path
  binfmt_dir:
    description: Where binfmt_misc is mounted.
    type: path
    default: /proc/sys/fs/binfmt_misc
notes:
  - Supports check mode and diff mode.
  - binfmt_misc registrations are global to the kernel, also when this runs inside a container.
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Emulate aarch64 and s390x, replacing any stale registration
  wheelfleet.fleet.binfmt_handlers:
    qemu_targets: [aarch64, s390x]
    flags: POF

- name: Keep only the aarch64 handler, and restore it at boot
  wheelfleet.fleet.binfmt_handlers:
    qemu_targets: [aarch64]
    exclusive: true
    persist_dir: /etc/binfmt.d
"""

RETURN = r"""
handlers:
  description: One entry per requested target.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Registration name, for example C(qemu-aarch64).
      type: str
    qemu_target:
      description: The requested QEMU target.
      type: str
    interpreter:
      description: Emulator the kernel runs, as registered.
      type: str
    flags:
      description: Registration flags.
      type: str
    action:
      description: What was done (or would be, in check mode).
      type: str
      sample: registered
      choices: [registered, replaced, reregistered, enabled, unchanged, removed, absent]
    persisted:
      description: The file written for systemd-binfmt, when O(persist_dir) is set.
      type: str
  sample:
    - name: qemu-aarch64
      qemu_target: aarch64
      interpreter: /usr/libexec/qemu-binfmt/aarch64-binfmt-P
      flags: POF
      action: unchanged
removed:
  description: Unlisted QEMU handlers removed because of O(exclusive).
  returned: always
  type: list
  elements: str
  sample: [qemu-mips]
"""

import os
from typing import Callable

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wheelfleet.fleet.plugins.module_utils.binfmt import (
    BinfmtError,
    BinfmtMisc,
    package_conf,
)


class HandlerSet:
    """Brings the kernel's QEMU handlers to the requested set."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.kernel = BinfmtMisc(self.params["binfmt_dir"])
        self.check = module.check_mode
        self.changed = False
        self.before: list[str] = []
        self.after: list[str] = []

    def run(self) -> dict:
        # A dry run before binfmt_misc is mounted sees no handlers and reports every
        # one as to be registered.
        if not self.kernel.mounted() and not self.check:
            self.module.fail_json(
                msg=f"binfmt_misc is not mounted at {self.kernel.root}; mount it first "
                "(mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc)"
            )
        handlers = [self._apply(target) for target in dict.fromkeys(self.params["qemu_targets"])]
        removed = self._remove_unlisted({h["name"] for h in handlers})
        return {
            "changed": self.changed,
            "handlers": handlers,
            "removed": removed,
            "diff": {
                "before": "\n".join(self.before) + "\n",
                "after": "\n".join(self.after) + "\n",
            },
        }

    def _apply(self, target: str) -> dict:
        try:
            conf_path, shipped = package_conf(target, self.params["conf_dirs"])
        except BinfmtError:
            if not self.check or self.params["state"] == "absent":
                raise
            # A dry run on a host whose QEMU package is not installed yet: the
            # real run installs it first, then registers the handler.
            self.changed = True
            return {
                "name": f"qemu-{target}",
                "qemu_target": target,
                "interpreter": None,
                "flags": self.params["flags"],
                "action": "registered",
                "persisted": None,
            }
        wanted = shipped.with_flags(self.params["flags"])
        current = self.kernel.read(wanted.name)
        if current is not None:
            self.before.append(current.describe())
        result = {
            "name": wanted.name,
            "qemu_target": target,
            "interpreter": wanted.interpreter,
            "flags": wanted.flag_string(),
        }
        if self.params["state"] == "absent":
            result["action"] = "absent" if current is None else "removed"
            if current is not None:
                self._change(lambda: self.kernel.remove(wanted.name))
            result["persisted"] = self._unpersist(conf_path)
            return result

        if not os.path.exists(wanted.interpreter):
            self.module.fail_json(
                msg=f"the emulator {wanted.interpreter} named by {conf_path} does not exist; "
                "reinstall the static QEMU user-emulation package",
                qemu_target=target,
            )
        self.after.append(wanted.describe())
        if current is None:
            result["action"] = "registered"
            self._change(lambda: self.kernel.register(wanted))
        elif not current.same_handler(wanted):
            result["action"] = "replaced"
            self._change(lambda: (self.kernel.remove(wanted.name), self.kernel.register(wanted)))
        elif self.params["force"]:
            result["action"] = "reregistered"
            self._change(lambda: (self.kernel.remove(wanted.name), self.kernel.register(wanted)))
        elif not current.enabled:
            result["action"] = "enabled"
            self._change(lambda: self.kernel.enable(wanted.name))
        else:
            result["action"] = "unchanged"
        result["persisted"] = self._persist(conf_path, wanted.line())
        return result

    def _remove_unlisted(self, keep: set) -> list:
        if not self.params["exclusive"] or self.params["state"] == "absent":
            return []
        names = self.kernel.names() if self.kernel.mounted() else []
        stale = [n for n in names if n.startswith("qemu-") and n not in keep]
        for name in stale:
            current = self.kernel.read(name)
            if current is not None:
                self.before.append(current.describe())
            self._change(lambda name=name: self.kernel.remove(name))
            self._mask(name)
        return stale

    def _mask(self, name: str) -> None:
        """Stop systemd-binfmt from registering a removed handler again at boot."""
        directory = self.params["persist_dir"]
        if not directory:
            return
        path = os.path.join(directory, f"{name}.conf")
        if os.path.islink(path) and os.readlink(path) == os.devnull:
            return
        if not self.check:
            os.makedirs(directory, exist_ok=True)
            if os.path.lexists(path):
                os.remove(path)
            os.symlink(os.devnull, path)
        self.changed = True

    def _persist(self, conf_path: str, line: str) -> str | None:
        directory = self.params["persist_dir"]
        if not directory:
            return None
        path = os.path.join(directory, os.path.basename(conf_path))
        content = f"# Written by wheelfleet (qemu_binfmt role)\n{line}\n"
        try:
            with open(path, encoding="latin-1") as handle:
                if handle.read() == content:
                    return path
        except FileNotFoundError:
            pass
        if not self.check:
            os.makedirs(directory, exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="latin-1") as handle:
                handle.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        self.changed = True
        return path

    def _unpersist(self, conf_path: str) -> str | None:
        directory = self.params["persist_dir"]
        if not directory:
            return None
        path = os.path.join(directory, os.path.basename(conf_path))
        if os.path.exists(path):
            if not self.check:
                os.remove(path)
            self.changed = True
        return path

    def _change(self, action: Callable[[], object]) -> None:
        if not self.check:
            action()
        self.changed = True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "qemu_targets": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "flags": {
                "type": "str",
                "choices": ["F", "PF", "OF", "CF", "POF", "PCF", "OCF", "POCF"],
                "default": "POF",
            },
            "exclusive": {"type": "bool", "default": False},
            "force": {"type": "bool", "default": False},
            "conf_dirs": {"type": "list", "elements": "path", "default": ["/usr/lib/binfmt.d"]},
            "persist_dir": {"type": "path"},
            "binfmt_dir": {"type": "path", "default": "/proc/sys/fs/binfmt_misc"},
        },
        supports_check_mode=True,
    )
    try:
        result = HandlerSet(module).run()
    except BinfmtError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
