# The builder image probe: what the image contract promises, one key=value per line.
# The role runs it as `/bin/sh -c` in a throw-away container of the candidate image,
# before the image gets its tag; it always exits 0 and the role judges the output.
echo "uname=$(uname -m)"
echo "glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null)"
for python in /opt/python/*/bin/python; do
    [ -x "$python" ] || continue
    tag=${python%/bin/python}
    tag=${tag##*/}
    if ! out=$("$python" -c '
import json, platform, sys
try:
    from importlib.metadata import PackageNotFoundError, version
except ImportError:  # Python < 3.8
    import pkg_resources
    PackageNotFoundError = Exception
    def version(name):
        return pkg_resources.get_distribution(name).version
found = {}
for name in ("pip", "build", "wheel", "setuptools"):
    try:
        found[name] = version(name)
    except PackageNotFoundError:
        found[name] = None
print(json.dumps({"tag": sys.argv[1], "machine": platform.machine(),
                  "version": platform.python_version(), "packages": found}))
' "$tag" 2>/dev/null); then
        out="{\"tag\": \"$tag\", \"error\": \"the interpreter does not run\"}"
    fi
    echo "python=$out"
done
echo "auditwheel=$(auditwheel --version 2>&1 | head -n 1)"
echo "patchelf=$(patchelf --version 2>&1 | head -n 1)"
env | grep '^AUDITWHEEL_' | sed 's/^/env=/'
exit 0
