"""src/wheelfleet/release_matrix.py: what a project's configuration selects on a fleet."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet import image_offers, release_matrix, source
from wheelfleet.plan import Host

BOOKWORM = [{"name": "bookworm", "source": "bootstrap", "suite": "bookworm",
             "architectures": ["x86_64", "aarch64"]}]  # fmt: skip


def project(tmp_path: Path, body: str) -> str:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n' + body)
    return str(tmp_path)


def select(tmp_path: Path, body: str, hosts: list[Host], recipes=BOOKWORM, **explicit):
    described, config = release_matrix.load_project(project(tmp_path, body), {}, explicit)
    offers = image_offers.predicted(recipes)
    fleet = release_matrix.capabilities(hosts, release_matrix.image_pythons(offers))
    required = explicit.get("archs", ())
    return release_matrix.select(
        described, config, fleet, required_archs=required, hosts=hosts, offers=offers
    )


X86 = Host("x86-1", "x86_64", 2, frozenset({"aarch64", "ppc64le"}))


def test_image_pythons_predicted_from_the_recipes() -> None:
    recipes = [
        *BOOKWORM,
        {"name": "ml", "source": "registry", "architectures": ["arm64"]},
        {
            "name": "custom",
            "source": "registry",
            "pythons": ["cp312-cp312"],
            "architectures": ["s390x"],
        },
    ]
    found = release_matrix.image_pythons(image_offers.predicted(recipes))
    assert found["x86_64"] == ["cp311"]
    assert "cp314t" in found["aarch64"] and "cp311" in found["aarch64"]
    assert found["s390x"] == ["cp312"]


def test_archs_beyond_the_images_are_reported_not_dropped(tmp_path: Path) -> None:
    chosen = select(
        tmp_path,
        '[tool.cibuildwheel]\nbuild = "cp311-*"\n'
        '[tool.cibuildwheel.linux]\narchs = ["x86_64", "aarch64", "ppc64le"]\n',
        [X86],
    )
    assert [job.identifier for job in chosen.jobs] == [
        "cp311-manylinux_x86_64",
        "cp311-manylinux_aarch64",
    ]
    document = chosen.to_json()
    (ppc,) = document["unavailable"]
    assert ppc["subject"] == "ppc64le" and ppc["identifiers"] == ["cp311-manylinux_ppc64le"]
    assert "no build host or image provides it" in ppc["reason"]
    text = release_matrix.render(document)
    assert "ppc64le: archs (from" in text and "not built (1)" in text


def test_auto_means_the_hosts_own_and_pythons_the_images(tmp_path: Path) -> None:
    chosen = select(tmp_path, '[tool.cibuildwheel]\nskip = "cp38-*"\n', [X86])
    assert [job.identifier for job in chosen.jobs] == ["cp311-manylinux_x86_64"]
    text = release_matrix.render(chosen.to_json())
    assert "x86_64: cp39, cp310, cp312" in text and "(they provide: cp311)" in text


def test_cli_flags_are_the_explicit_layer(tmp_path: Path) -> None:
    explicit = release_matrix.overrides(["aarch64"], ["cp311-cp311"], {"test-command": "true"})
    assert explicit == {"archs": ["aarch64"], "build": ["cp311-*"], "test-command": "true"}
    chosen = select(tmp_path, "", [X86], **explicit)
    assert [job.identifier for job in chosen.jobs] == ["cp311-manylinux_aarch64"]
    settings = chosen.settings["cp311-manylinux_aarch64"]
    assert settings["test_command"] == "true"
    assert chosen.jobs[0].settings_hash == settings["settings_hash"]


def test_probe_architectures_are_the_named_ones(tmp_path: Path) -> None:
    _, config = release_matrix.load_project(
        project(tmp_path, '[tool.cibuildwheel.linux]\narchs = ["auto", "s390x"]\n'), {}, {}
    )
    assert release_matrix.probe_architectures(config) == ["s390x"]


def test_an_unhealthy_host_adds_nothing(tmp_path: Path) -> None:
    down = Host("arm-1", None, 4, healthy=False, note="unreachable")
    chosen = select(tmp_path, '[tool.cibuildwheel]\nbuild = "cp311-*"\n', [down])
    assert chosen.jobs == ()
    assert "no job is selected" in release_matrix.render(chosen.to_json())


def test_a_bad_option_names_the_key_and_file(tmp_path: Path) -> None:
    with pytest.raises(source.ProjectError, match=r"pyproject.toml \[tool.cibuildwheel\]: archs"):
        select(tmp_path, '[tool.cibuildwheel]\narchs = ["sparc"]\n', [X86])


def test_missing_test_sources_stop_the_plan_naming_them(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "smoke.py").write_text("print('ok')\n")
    body = (
        '[tool.cibuildwheel]\nbuild = "cp311-*"\ntest-command = "python -m tests.smoke"\n'
        'test-sources = ["tests/smoke.py", "generate.py"]\n'
    )
    with pytest.raises(ValueError, match=r"test-sources lists 'generate.py' for cp311"):
        select(tmp_path, body, [X86])
    (tmp_path / "generate.py").write_text("")
    chosen = select(tmp_path, body, [X86])
    assert chosen.settings["cp311-manylinux_x86_64"]["test_sources"] == [
        "tests/smoke.py",
        "generate.py",
    ]
    # Without a test to run, test-sources are not needed: test-skip lifts the check.
    (tmp_path / "generate.py").unlink()
    skipped = select(tmp_path, body + 'test-skip = "*"\n', [X86])
    assert skipped.jobs and not skipped.settings["cp311-manylinux_x86_64"]["test_command"]


def test_an_architecture_asked_for_explicitly_is_required(tmp_path: Path) -> None:
    x86_only = Host("x86-2", "x86_64", 2)
    body = '[tool.cibuildwheel]\nbuild = "cp311-*"\n'
    chosen = select(tmp_path, body, [x86_only], archs=["x86_64", "aarch64"])
    # Not buildable, but asked for: planned, so that the plan stops on it with the reason.
    assert [job.identifier for job in chosen.unbuildable] == ["cp311-manylinux_aarch64"]
    described, config = release_matrix.load_project(
        project(tmp_path, body), {}, {"archs": ["x86_64", "ppc64le"]}
    )
    fleet = release_matrix.capabilities(
        [X86], release_matrix.image_pythons(image_offers.predicted(BOOKWORM))
    )
    with pytest.raises(release_matrix.RequiredArchitectureError, match=r"ppc64le.*recipe"):
        release_matrix.select(described, config, fleet, required_archs=["ppc64le"], hosts=[X86])
    # From the project's own tables it is reported, not required.
    chosen = select(tmp_path, body + '[tool.cibuildwheel.linux]\narchs = ["aarch64"]\n', [x86_only])
    assert chosen.unbuildable == () and chosen.jobs == ()


BOOKWORM_AND_FORKY = [
    *BOOKWORM,
    {"name": "forky", "source": "bootstrap", "suite": "forky",
     "interpreters": ["python3.13", "python3.14", "python3.15"],
     "architectures": ["x86_64", "aarch64"]},
]  # fmt: skip


def listing(name: str, arch: str, tags: str, glibc: str) -> dict:
    """An image as wheelfleet.fleet.builder_image_info lists it."""
    major, minor = glibc.split(".")
    return {
        "name": name,
        "arch": arch,
        "tags": [f"wheelfleet/{name}:{arch}"],
        "labels": {"name": name, "arch": arch, "python-tags": tags, "glibc": glibc},
        "env": {"AUDITWHEEL_PLAT": f"manylinux_{major}_{minor}_{arch}"},
    }


def test_each_job_names_the_image_that_provides_its_python(tmp_path: Path) -> None:
    chosen = select(
        tmp_path,
        '[tool.cibuildwheel]\nbuild = "cp311-* cp313-* cp314-*"\n'
        '[tool.cibuildwheel.linux]\narchs = ["x86_64", "aarch64"]\n',
        [X86],
        recipes=BOOKWORM_AND_FORKY,
    )
    images = {job.identifier: job.image for job in chosen.jobs}
    assert images == {
        "cp311-manylinux_x86_64": "bookworm",
        "cp311-manylinux_aarch64": "bookworm",
        "cp313-manylinux_x86_64": "forky",
        "cp313-manylinux_aarch64": "forky",
        "cp314-manylinux_x86_64": "forky",
        "cp314-manylinux_aarch64": "forky",
    }
    text = release_matrix.render(chosen.to_json())
    assert "forky x86_64: cp313 cp314 cp315 (predicted from the recipe" in text


def test_the_images_own_listing_replaces_the_prediction(tmp_path: Path) -> None:
    # The host's forky image holds cp313 and cp314 only (say the recipe changed since):
    # cp315 is reported as not provided, whatever the recipe predicts.
    listings = {
        "x86-1": [
            listing("bookworm", "x86_64", "cp311-cp311", "2.36"),
            listing("forky", "x86_64", "cp313-cp313 cp314-cp314", "2.43"),
        ]
    }
    offers = image_offers.merge(BOOKWORM_AND_FORKY, listings)
    described, config = release_matrix.load_project(
        project(
            tmp_path,
            '[tool.cibuildwheel]\nbuild = "cp311-* cp314-* cp315-*"\n'
            '[tool.cibuildwheel.linux]\narchs = ["x86_64"]\n',
        ),
        {},
        {},
    )
    fleet = release_matrix.capabilities([X86], release_matrix.image_pythons(offers))
    chosen = release_matrix.select(described, config, fleet, hosts=[X86], offers=offers)
    assert [(job.identifier, job.image) for job in chosen.jobs] == [
        ("cp311-manylinux_x86_64", "bookworm"),
        ("cp314-manylinux_x86_64", "forky"),
    ]
    document = chosen.to_json()
    assert document["images_provide"]["x86_64"] == ["cp311", "cp313", "cp314"]
    (missing,) = document["unavailable"]
    assert missing["identifiers"] == ["cp315-manylinux_x86_64"]
    text = release_matrix.render(document)
    assert "forky x86_64: cp313 cp314 (read from the image on x86-1; glibc 2.43)" in text
    # aarch64 has no image on the host yet: still a prediction, and labelled so.
    assert "forky aarch64: cp313 cp314 cp315 (predicted from the recipe" in text
