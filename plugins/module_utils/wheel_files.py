# Copyright: wheelfleet developers
# Apache License 2.0
"""File work done next to the wheel (on the host or inside its container).

``HELPER`` is a standard-library Python program run with ``python -c``, by
the interpreter that runs auditwheel, wherever the wheel is. One JSON
document comes back on stdout for each command:

  stat PATH                 exists, size
  sha256 PATH               sha256 of a file
  wheel-info PATH LIB_SDIR  sha256, size, and the libraries grafted into LIB_SDIR
  policy PLAT               auditwheel's policy entry for a platform tag, and its arch
  read JSONPATH             a JSON file's content, or null
  mkdir DIR                 make a directory (and its parents)
  mkdtemp DIR               a new scratch directory inside DIR
  publish SRC DEST_DIR META_PATH META_JSON
                            move SRC into DEST_DIR (same file system: atomic)
                            and write the metadata file after it
  rmtree DIR                remove a scratch directory
"""

from __future__ import annotations

HELPER = r"""
import hashlib, json, os, shutil, sys, tempfile, zipfile

def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

def policy(plat):
    import auditwheel
    base = os.path.join(os.path.dirname(auditwheel.__file__), "policy")
    arches = ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64", "loongarch64")
    for arch_name in arches:
        if plat.endswith("_" + arch_name):
            name, arch = plat[: -len(arch_name) - 1], arch_name
            break
    else:
        return {"policy": None, "arch": None}
    for filename in sorted(os.listdir(base)):
        if not filename.endswith("-policy.json"):
            continue
        with open(os.path.join(base, filename)) as handle:
            for entry in json.load(handle):
                if entry["name"] == name or name in entry.get("aliases", []):
                    return {"policy": entry, "arch": arch}
    return {"policy": None, "arch": arch}

def main(command, *args):
    if command == "stat":
        return {"exists": os.path.isfile(args[0]),
                "size": os.path.getsize(args[0]) if os.path.isfile(args[0]) else None}
    if command == "sha256":
        return {"sha256": sha256(args[0])}
    if command == "wheel-info":
        path, lib_sdir = args
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        grafted = sorted({
            name.split("/")[-1] for name in names
            if "/" in name and name.split("/")[0].endswith(lib_sdir) and not name.endswith("/")
        })
        return {"sha256": sha256(path), "size": os.path.getsize(path), "grafted": grafted}
    if command == "policy":
        return policy(args[0])
    if command == "read":
        try:
            with open(args[0]) as handle:
                return {"content": json.load(handle)}
        except (OSError, ValueError):
            return {"content": None}
    if command == "mkdir":
        os.makedirs(args[0], exist_ok=True)
        return {"path": args[0]}
    if command == "mkdtemp":
        os.makedirs(args[0], exist_ok=True)
        return {"path": tempfile.mkdtemp(prefix=".wheelfleet-repair-", dir=args[0])}
    if command == "publish":
        source, dest_dir, meta_path, meta = args
        final = os.path.join(dest_dir, os.path.basename(source))
        os.replace(source, final)
        tmp = meta_path + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(meta)
        os.replace(tmp, meta_path)
        return {"path": final}
    if command == "rmtree":
        shutil.rmtree(args[0], ignore_errors=True)
        return {}
    raise SystemExit("unknown helper command " + command)

json.dump(main(*sys.argv[1:]), sys.stdout)
"""
