# Copyright: wheelfleet developers
# Apache License 2.0
"""Choose a release's builder images on the controller (src/wheelfleet/official_images.py).

Documentation: plugins/modules/image_source.py (ansible-doc wheelfleet.fleet.image_source).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import official_images
except ImportError as exc:  # the controller needs the wheelfleet package installed
    official_images = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}

ARGUMENT_SPEC = {
    "choice": {"type": "str", "default": "auto"},
    "mirror": {"type": "str", "default": ""},
    "timeout": {"type": "float", "default": 3.0},
    "architectures": {"type": "list", "elements": "str"},
    "project_images": {"type": "dict", "default": {}},
}


class ActionModule(ActionBase):
    """Probes the official registry (or the mirror) once and says which images to use."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if official_images is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            decision = official_images.decide(args["choice"], args["mirror"], args["timeout"])
            archs = args["architectures"] or list(official_images.DEFAULT_POLICIES)
            policies, references = official_images.project_overrides(args["project_images"])
            recipe = official_images.recipe(archs, decision.mirror, policies, references)
        except (official_images.ImageSourceError, ValueError) as exc:
            raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from None
        chosen = official_images.describe_overrides(args["project_images"])
        if chosen and decision.source == "official":
            note = "; the project's choice: " + ", ".join(chosen)
        elif chosen:
            note = "; the project's manylinux images are not used offline: " + ", ".join(chosen)
        else:
            note = ""
        result.update(
            changed=False,
            project_images=chosen,
            **decision.as_dict(),
            image=official_images.IMAGE_NAME if decision.source == "official" else None,
            recipe=[recipe] if decision.source == "official" else [],
            msg=f"builder images: {decision.reason}{note}",
        )
        return result
