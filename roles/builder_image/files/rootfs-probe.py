# What a bootstrapped rootfs's interpreters are, read before they are laid out: the
# wheelhouse is downloaded for these versions and ABIs, the /opt/python tags follow
# them, and AUDITWHEEL_* follow this glibc.
# Run as `chroot ROOTFS /usr/bin/python3 -c <this file> [INTERPRETER...]`; prints one
# JSON line: the suite's python3 (which runs the tools) and each named interpreter.
import json
import os
import subprocess
import sys

ASK = (
    "import json, sys; print(json.dumps({'implementation': sys.implementation.name,"
    " 'version': list(sys.version_info[:2]), 'abiflags': sys.abiflags}))"
)


def describe(path: str) -> dict:
    try:
        out = subprocess.run([path, "-c", ASK], capture_output=True, text=True, check=True)
        return {"path": path, **json.loads(out.stdout)}
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        return {"path": path, "error": f"does not run: {exc}"}


print(
    json.dumps(
        {
            "implementation": sys.implementation.name,
            "version": list(sys.version_info[:2]),
            "abiflags": sys.abiflags,
            "glibc": os.confstr("CS_GNU_LIBC_VERSION"),
            "machine": os.uname().machine,
            "interpreters": [describe(path) for path in sys.argv[1:]],
        }
    )
)
