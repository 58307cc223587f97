"""The environment option: parsing bash-like assignments, evaluating them, and bash's view."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from wheelfleet.environment import (
    Assignment,
    CommandSubstitutionError,
    EnvironmentSyntaxError,
    Literal,
    ShellExpansion,
    Variable,
    evaluate,
    parse_environment,
    parse_environment_table,
    to_shell,
)


def _pairs(assignments: tuple[Assignment, ...]) -> list[tuple[str, tuple[object, ...]]]:
    return [(a.name, a.parts) for a in assignments]


def test_plain_and_quoted_values() -> None:
    parsed = parse_environment("A=1 B='two words' C=\"three words\" D= E=x'y'\"z\"")
    assert _pairs(parsed) == [
        ("A", (Literal("1"),)),
        ("B", (Literal("two words"),)),
        ("C", (Literal("three words"),)),
        ("D", ()),
        ("E", (Literal("xyz"),)),
    ]


def test_variables_and_command_substitution_keep_their_order() -> None:
    (path, stamp, home) = parse_environment(
        'PATH=$PATH:/opt/bin STAMP="$(date -u +%Y) at ${HOST}" HOME2=`echo ~`'
    )
    assert path.parts == (Variable("PATH"), Literal(":/opt/bin"))
    assert stamp.parts == (ShellExpansion("$(date -u +%Y)"), Literal(" at "), Variable("HOST"))
    assert home.parts == (ShellExpansion("`echo ~`"),)
    assert not path.needs_shell
    assert stamp.needs_shell and home.needs_shell


def test_nested_substitutions_and_parameter_expansions_are_left_to_the_shell() -> None:
    (value, default, special) = parse_environment(
        'V="$(echo "$(uname -m)")" D=${VERSION:-1.0} S=$$'
    )
    assert value.parts == (ShellExpansion('$(echo "$(uname -m)")'),)
    assert default.parts == (ShellExpansion("${VERSION:-1.0}"),)
    assert special.parts == (ShellExpansion("$$"),)


def test_escapes_follow_bash() -> None:
    (plain, quoted, single) = parse_environment(r'A=a\ b B="x\"y\$z\q" C=' + r"'\n'")
    assert plain.parts == (Literal("a b"),)
    assert quoted.parts == (Literal('x"y$z\\q'),)
    assert single.parts == (Literal("\\n"),)


def test_multiline_strings_separate_assignments_like_spaces() -> None:
    parsed = parse_environment("\n  CFLAGS='-O2 -g'\n  LDFLAGS=-flto\n")
    assert [a.name for a in parsed] == ["CFLAGS", "LDFLAGS"]
    assert parse_environment("") == ()


def test_a_lone_dollar_is_literal() -> None:
    (price,) = parse_environment("PRICE='5 $' X=$")[:1]
    assert price.parts == (Literal("5 $"),)
    assert parse_environment("X=$")[0].parts == (Literal("$"),)


def test_table_values_read_as_if_double_quoted() -> None:
    parsed = parse_environment_table(
        {"PATH": "$PATH:/usr/local/bin", "CFLAGS": "-g -Wall", "QUOTE": 'say "hi"'}
    )
    assert _pairs(parsed) == [
        ("PATH", (Variable("PATH"), Literal(":/usr/local/bin"))),
        ("CFLAGS", (Literal("-g -Wall"),)),
        ("QUOTE", (Literal('say "hi"'),)),
    ]


def test_string_and_table_spellings_render_the_same() -> None:
    from_string = parse_environment("CFLAGS='-g -Wall' PATH=\"$PATH\":/opt")
    from_table = parse_environment_table({"CFLAGS": "-g -Wall", "PATH": "${PATH}:/opt"})
    assert from_string == from_table
    assert [str(a) for a in from_string] == ['CFLAGS="-g -Wall"', 'PATH="${PATH}:/opt"']


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("CFLAGS", "expected NAME=value, found 'CFLAGS'"),
        ("1A=x", "expected NAME=value"),
        ("A='open", "unterminated single quote"),
        ('A="open', "unterminated double quote"),
        ("A=$(date", "unterminated '$('"),
        ("A=`date", "unterminated backtick"),
        ("A=x;rm", "unquoted ';'"),
        ("A=x|y", "unquoted '|'"),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, words: str) -> None:
    with pytest.raises(EnvironmentSyntaxError, match="at character") as info:
        parse_environment(text)
    assert words in str(info.value)


def test_table_names_are_checked() -> None:
    with pytest.raises(EnvironmentSyntaxError, match="'MY-VAR' is not a variable name"):
        parse_environment_table({"MY-VAR": "1"})


def test_evaluate_applies_assignments_in_order() -> None:
    parsed = parse_environment("A=1 B=$A-$UNSET-${A}x A=2 C=$A PATH=$PATH:/extra")
    assert evaluate(parsed, {"PATH": "/usr/bin"}) == {
        "A": "2",
        "B": "1--1x",
        "C": "2",
        "PATH": "/usr/bin:/extra",
    }


def test_evaluate_refuses_command_substitution() -> None:
    parsed = parse_environment("OK=1 STAMP=$(date)")
    with pytest.raises(CommandSubstitutionError, match=r"STAMP: \$\(date\) needs a shell"):
        evaluate(parsed, {})


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_to_shell_gives_a_real_shell_the_same_values() -> None:
    text = (
        "GREETING='hello world' PATH=$PATH:/opt/tools BUILD=$(echo built-$GREETING) "
        'QUOTED="a \\"b\\" \\$c" LITERAL=\'$HOME\' ARCH=`echo x86` SUM=$((2+3))'
    )
    script = to_shell(parse_environment(text))
    names = ["GREETING", "PATH", "BUILD", "QUOTED", "LITERAL", "ARCH", "SUM"]
    script += "".join(f'printf "%s\\n" "${name}"\n' for name in names)
    result = subprocess.run(
        ["bash", "-c", script],
        env={"PATH": "/usr/bin:/bin", "HOME": "/root"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "hello world",
        "/usr/bin:/bin:/opt/tools",
        "built-hello world",
        'a "b" $c',
        "$HOME",
        "x86",
        "5",
    ]
    # Where no shell is needed, the controller's evaluation agrees with bash.
    plain = parse_environment("GREETING='hello world' PATH=$PATH:/opt/tools LITERAL='$HOME'")
    assert evaluate(plain, {"PATH": "/usr/bin:/bin"}) == {
        "GREETING": "hello world",
        "PATH": "/usr/bin:/bin:/opt/tools",
        "LITERAL": "$HOME",
    }
