"""Checking -e and -i values before anything runs."""

import json

import pytest

from wheelfleet.inputs import (
    VAULTED,
    InputError,
    check_inventory,
    parse_extra_var,
    parse_extra_vars,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a=1", {"a": "1"}),
        ("a=1 b=two", {"a": "1", "b": "two"}),
        ("msg='hello world'", {"msg": "hello world"}),
        ("empty=", {"empty": ""}),
        ("url=http://x/?a=b", {"url": "http://x/?a=b"}),
        ('{"qemu_binfmt_architectures": ["aarch64"]}', {"qemu_binfmt_architectures": ["aarch64"]}),
        ('  {"n": 1, "flag": true}  ', {"n": 1, "flag": True}),
        ("{n: 1, names: [a, b]}", {"n": 1, "names": ["a", "b"]}),
    ],
)
def test_parse_extra_var(value, expected):
    assert parse_extra_var(value) == expected


def test_later_values_replace_earlier_keys():
    merged = parse_extra_vars(["a=1 b=1", '{"b": 2, "c": [3]}', "c=4"])
    assert merged == {"a": "1", "b": 2, "c": "4"}


def test_file_values(tmp_path, monkeypatch):
    (tmp_path / "vars.yml").write_text(
        "qemu_binfmt_architectures:\n  - aarch64\nsecret: !vault |\n  x\n"
    )
    (tmp_path / "vars.json").write_text(json.dumps({"docker_engine_users": ["ci"]}))
    (tmp_path / "empty.yml").write_text("")
    monkeypatch.chdir(tmp_path)
    # A vaulted value is known to be set, not lost: the file itself goes to ansible-playbook.
    assert parse_extra_var("@vars.yml") == {
        "qemu_binfmt_architectures": ["aarch64"],
        "secret": VAULTED,
    }
    assert parse_extra_var(f"@{tmp_path}/vars.json") == {"docker_engine_users": ["ci"]}
    assert parse_extra_var("@empty.yml") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("foo", "-e 'foo': expected KEY=VALUE, @FILE or a JSON object; 'foo' has no '='"),
        (
            "a=1 oops",
            "-e 'a=1 oops': expected KEY=VALUE, @FILE or a JSON object; 'oops' has no '='",
        ),
        ("1x=2", "-e '1x=2': '1x' is not a valid variable name"),
        ("my-var=2", "-e 'my-var=2': 'my-var' is not a valid variable name"),
        ('{"a b": 1}', "-e '{\"a b\": 1}': 'a b' is not a valid variable name"),
        ("[1, 2]", "-e '[1, 2]': expected a JSON object, got a list"),
        ('{"a": 1', "-e '{\"a\": 1': not a valid JSON object: Expecting ',' delimiter"),
        ("a='unclosed", '-e "a=\'unclosed": No closing quotation'),
        ("", "-e '': empty value"),
        ("@", "-e '@': expected a file name after '@'"),
    ],
)
def test_bad_extra_var_names_the_value(value, message):
    with pytest.raises(InputError) as caught:
        parse_extra_var(value)
    assert str(caught.value).startswith(message)


def test_missing_vars_file_names_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        parse_extra_var("@nope.yml")
    assert str(caught.value) == f"-e '@nope.yml': file '{tmp_path}/nope.yml' not found"


def test_vars_file_that_is_not_a_mapping(tmp_path):
    (tmp_path / "list.yml").write_text("- a\n- b\n")
    with pytest.raises(
        InputError, match=r"list\.yml holds a list, expected a mapping of variables"
    ):
        parse_extra_var(f"@{tmp_path}/list.yml")


def test_malformed_vars_file_names_file_and_line(tmp_path):
    (tmp_path / "bad.yml").write_text("a: 1\nb: [\n")
    with pytest.raises(InputError) as caught:
        parse_extra_var(f"@{tmp_path}/bad.yml")
    assert f"-e '@{tmp_path}/bad.yml': not valid YAML or JSON" in str(caught.value)
    assert f'"{tmp_path}/bad.yml", line 3' in str(caught.value)


def test_inventory_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    a:\n      pw: !vault |\n        x\n")
    (tmp_path / "fleet").mkdir()
    (tmp_path / "hosts.ini").write_text("[build_hosts]\na ansible_host=1.2.3.4\n")
    monkeypatch.chdir(tmp_path)
    assert check_inventory("hosts.yml") == tmp_path / "hosts.yml"
    assert check_inventory("fleet") == tmp_path / "fleet"
    assert check_inventory("hosts.ini") == tmp_path / "hosts.ini"


def test_missing_inventory_names_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        check_inventory("inventory/nope.yml")
    assert str(caught.value) == (
        f"inventory 'inventory/nope.yml' not found (looked for '{tmp_path}/inventory/nope.yml')"
    )


def test_malformed_yaml_inventory_is_refused(tmp_path):
    # Ansible would only warn, then run against no host at all.
    (tmp_path / "bad.yml").write_text("all: [: bad\n")
    with pytest.raises(InputError) as caught:
        check_inventory(str(tmp_path / "bad.yml"))
    assert str(caught.value).startswith(f"inventory '{tmp_path}/bad.yml' is not valid YAML")
    assert "line 1, column 7" in str(caught.value)
