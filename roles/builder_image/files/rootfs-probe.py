# What a bootstrapped rootfs's own python3 is, read before its interpreters are laid out:
# the wheelhouse is downloaded for this version and ABI, and AUDITWHEEL_* follow this glibc.
# Run as `chroot ROOTFS /usr/bin/python3 -c <this file>`; prints one JSON line.
import json
import os
import sys

print(
    json.dumps(
        {
            "implementation": sys.implementation.name,
            "version": list(sys.version_info[:2]),
            "abiflags": sys.abiflags,
            "glibc": os.confstr("CS_GNU_LIBC_VERSION"),
            "machine": os.uname().machine,
        }
    )
)
