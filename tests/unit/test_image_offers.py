"""src/wheelfleet/image_offers.py: what each builder image provides, read or predicted."""

from __future__ import annotations

from wheelfleet import image_offers
from wheelfleet.image_offers import PREDICTED, READ, ImageOffer

FORKY = {"name": "forky", "suite": "forky", "architectures": ["x86_64", "arm64"],
         "interpreters": ["python3.13", "python3.14", "python3.15"]}  # fmt: skip
BOOKWORM = {"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64"]}
ML = {"name": "ml", "source": "registry", "base": "quay.io/pypa/manylinux_2_28_{arch}",
      "architectures": ["x86_64"]}  # fmt: skip


def image(name: str, arch: str, tags: str, glibc: str | None = None, tagged: bool = True) -> dict:
    labels = {"name": name, "arch": arch, "python-tags": tags}
    if glibc:
        labels["glibc"] = glibc
    return {
        "name": name,
        "arch": arch,
        "tags": [f"wheelfleet/{name}:{arch}"] if tagged else [],
        "labels": labels,
        "env": {"AUDITWHEEL_PLAT": f"manylinux_2_28_{arch}"},
    }


def test_a_recipe_predicts_its_interpreters_else_its_suite_else_manylinux() -> None:
    assert image_offers.recipe_pythons(FORKY) == ["cp313", "cp314", "cp315"]
    assert image_offers.recipe_pythons(BOOKWORM) == ["cp311"]
    assert image_offers.recipe_pythons({"suite": "unknown"}) == []
    assert "cp314t" in image_offers.recipe_pythons(ML)
    assert image_offers.recipe_pythons({"source": "registry", "pythons": ["cp312-cp312"]}) == [
        "cp312"
    ]


def test_predicted_offers_are_labelled_and_resolve_aliases() -> None:
    offers = image_offers.predicted([FORKY])
    assert [(o.name, o.arch, o.origin) for o in offers] == [
        ("forky", "x86_64", PREDICTED),
        ("forky", "aarch64", PREDICTED),
    ]
    assert "predicted from the recipe" in offers[0].describe()


def test_listings_are_the_truth_and_hosts_must_agree() -> None:
    listings = {
        "b": [image("forky", "x86_64", "cp313-cp313 cp314-cp314", "2.43")],
        "a": [
            image("forky", "x86_64", "cp313-cp313 cp314-cp314 cp315-cp315", "2.43"),
            image("old", "x86_64", "cp39-cp39", tagged=False),
        ],
    }
    (offer,) = image_offers.from_listings(listings)
    assert offer.origin == READ
    assert offer.pythons == ("cp313", "cp314")
    assert offer.hosts == ("a", "b")
    assert offer.describe() == (
        "forky x86_64: cp313 cp314 (read from the image on a, b; glibc 2.43)"
    )


def test_the_glibc_falls_back_to_auditwheel_plat() -> None:
    (offer,) = image_offers.from_listings({"h": [image("ml", "x86_64", "cp312-cp312")]})
    assert offer.glibc == "2.28"


def test_merge_keeps_recipe_images_only_and_predicts_the_missing_ones() -> None:
    listings = {"h": [image("forky", "x86_64", "cp313-cp313", "2.43"),
                      image("stray", "x86_64", "cp312-cp312", "2.28")]}  # fmt: skip
    offers = image_offers.merge([BOOKWORM, FORKY], listings)
    assert [(o.name, o.arch, o.origin, o.pythons) for o in offers] == [
        ("bookworm", "x86_64", PREDICTED, ("cp311",)),
        ("forky", "x86_64", READ, ("cp313",)),
        ("forky", "aarch64", PREDICTED, ("cp313", "cp314", "cp315")),
    ]
    assert image_offers.pythons_by_arch(offers) == {
        "x86_64": ["cp311", "cp313"],
        "aarch64": ["cp313", "cp314", "cp315"],
    }


def test_choose_prefers_the_oldest_glibc_then_the_recipe_order() -> None:
    trixie = ImageOffer("trixie", "x86_64", ("cp313",), READ, "2.41", ("h",), 1)
    forky = ImageOffer("forky", "x86_64", ("cp313", "cp314"), READ, "2.43", ("h",), 0)
    assert image_offers.choose([forky, trixie], "x86_64", "cp313") == trixie
    assert image_offers.choose([forky, trixie], "x86_64", "cp314") == forky
    assert image_offers.choose([forky, trixie], "aarch64", "cp313") is None
    first = ImageOffer("a", "x86_64", ("cp313",), PREDICTED, None, (), 0)
    second = ImageOffer("b", "x86_64", ("cp313",), PREDICTED, None, (), 1)
    assert image_offers.choose([second, first], "x86_64", "cp313") == first


def test_json_round_trip() -> None:
    offers = image_offers.merge([FORKY], {"h": [image("forky", "x86_64", "cp313-cp313", "2.43")]})
    again = image_offers.from_json([o.to_json() for o in offers])
    assert [o.to_json() for o in again] == [o.to_json() for o in offers]
