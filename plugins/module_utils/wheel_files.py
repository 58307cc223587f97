# Copyright: wheelfleet developers
# Apache License 2.0
"""File work done next to the wheel (on the host or inside its container).

``HELPER`` is a standard-library Python program run with ``python -c``, by
the interpreter that runs auditwheel, wherever the wheel is. One JSON
document comes back on stdout for each command:

  inspect WHEEL RECORD_DIR OPTIONS_JSON [SCRATCH_IN]
            whether the wheel exists, its sha256, the record key for these
            options, and the record of an earlier repair when the wheel it
            names is still there with the recorded sha256; with SCRATCH_IN and
            no such record, also a new scratch directory inside SCRATCH_IN;
            and the version of the auditwheel distribution this interpreter
            finds first on its path (from its .dist-info name, without an
            import: ``auditwheel --version`` takes a second under emulation)
  policy PLAT
            auditwheel's policy entry for a platform tag, and its arch
  mkdtemp DIR
            a new scratch directory inside DIR
  finish PRODUCED LIB_SDIR DEST_DIR RECORD_PATH RESULT_JSON SCRATCH
            add sha256, size and grafted libraries to the result, move the
            produced wheel into DEST_DIR (same file system: atomic), write
            the record, remove the scratch directory, print the result
  rmtree DIR
            remove a scratch directory

Each command is one process: under emulation every process start costs.
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

def record_key(input_sha256, options_json):
    return hashlib.sha256(json.dumps([input_sha256, json.loads(options_json)]).encode()).hexdigest()

def read_record(path):
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    wheel = record.get("wheel") or ""
    if os.path.isfile(wheel) and sha256(wheel) == record.get("sha256"):
        return record
    return None

def distribution_version(name):
    for entry in sys.path:
        try:
            found = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for item in found:
            stem, dot, suffix = item.rpartition(".")
            project, dash, version = stem.partition("-")
            if suffix == "dist-info" and dash and project.lower() == name:
                return version
    return None

def make_scratch(parent):
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=".wheelfleet-repair-", dir=parent)

def main(command, *args):
    if command == "inspect":
        wheel, record_dir, options_json = args[:3]
        if not os.path.isfile(wheel):
            return {"exists": False}
        digest = sha256(wheel)
        key = record_key(digest, options_json)
        record_path = os.path.join(record_dir, key + ".json")
        found = {"exists": True, "sha256": digest, "record_path": record_path,
                 "record": read_record(record_path),
                 "auditwheel_version": distribution_version("auditwheel")}
        if len(args) > 3 and found["record"] is None:
            found["scratch"] = make_scratch(args[3])
        return found
    if command == "policy":
        return policy(args[0])
    if command == "mkdtemp":
        return {"path": make_scratch(args[0])}
    if command == "finish":
        produced, lib_sdir, dest_dir, record_path, result_json, scratch = args
        with zipfile.ZipFile(produced) as archive:
            names = archive.namelist()
        result = json.loads(result_json)
        result["grafted"] = sorted({
            name.split("/")[-1] for name in names
            if "/" in name and name.split("/")[0].endswith(lib_sdir) and not name.endswith("/")
        })
        result["sha256"] = sha256(produced)
        result["size"] = os.path.getsize(produced)
        # This runs where the project's code ran: the controller trusts neither this name
        # nor these hashes (wheelfleet.wheel_names checks the name, publishing rehashes).
        result["wheel"] = os.path.join(dest_dir, os.path.basename(produced))
        os.replace(produced, result["wheel"])
        os.makedirs(os.path.dirname(record_path), exist_ok=True)
        with open(record_path + ".tmp", "w") as handle:
            json.dump(result, handle)
        os.replace(record_path + ".tmp", record_path)
        shutil.rmtree(scratch, ignore_errors=True)
        return result
    if command == "rmtree":
        shutil.rmtree(args[0], ignore_errors=True)
        return {}
    raise SystemExit("unknown helper command " + command)

json.dump(main(*sys.argv[1:]), sys.stdout)
"""
