"""The project file (mtpipe.toml) and the reading options of the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ECHO, in_folder, terminal, write_tree

from pipeline.formats.frontmatter import FRONT_MATTER_KEYS
from pipeline.project import ProjectError, find, load, read_options


def test_settings_read_and_combined_with_the_command_line(tmp_path: Path) -> None:
    """The file's rules first, the command line's added; its keys unless the command
    line gives some."""
    config = tmp_path / "mtpipe.toml"
    config.write_text("protect = ['ACME-\\d+']\nfront_matter_keys = ['title', 'tagline']\n", encoding="utf-8")
    assert load(config) == {"protect": (r"ACME-\d+",), "front_matter_keys": ("title", "tagline")}
    options = read_options(config, ["<<[^>]*>>"])
    assert options.protect.patterns == (r"ACME-\d+", "<<[^>]*>>") and options.front_matter_keys == ("title", "tagline")
    assert read_options(config, (), ["summary", " "]).front_matter_keys == ("summary",)
    assert read_options(None).front_matter_keys == FRONT_MATTER_KEYS


@pytest.mark.parametrize(
    "text, message",
    [
        ("protekt = []\n", r"unknown settings \(protekt\); it may hold protect and front_matter_keys"),
        ("protect = 'x'\n", "protect in the project file .* must be a list of strings"),
        ("protect = [1]\n", "must be a list of strings"),
        ("protect = [\n", "is not valid TOML"),
        ("protect = ['(']\n", r"the protect rule '\(' is not a regular expression"),
        ("protect = " + "[" * 100_000 + "]" * 100_000 + "\n", r"is not valid TOML \(it nests too deep\)"),
        ("# " + "x" * 1_000_000 + "\n", "holds more than 1 MB, far more than a project file does"),
    ],
)
def test_a_bad_project_file_says_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "mtpipe.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError, match=message):
        read_options(config)


def test_found_in_an_input_folder_and_two_different_ones_refused(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/mtpipe.toml": "", "b/x.txt": "", "c/mtpipe.toml": ""})
    assert find([tmp_path / "a", tmp_path / "b", tmp_path / "b" / "x.txt"]) == (tmp_path / "a" / "mtpipe.toml").resolve()
    assert find([tmp_path / "b"]) is None and find([tmp_path / "b" / "x.txt"]) is None
    assert find([tmp_path / "c" / "article.md"]) == (tmp_path / "c" / "mtpipe.toml").resolve()  # beside an input file
    with pytest.raises(ProjectError, match="2 project files"):
        find([tmp_path / "a", tmp_path / "c"])


@pytest.mark.slow
def test_run_keeps_what_the_project_file_and_protect_name(tmp_path: Path) -> None:
    """End to end: a rule of the project file and one of --protect are kept verbatim,
    the file is listed as ignored, a front matter key of --front-matter-keys translated."""
    write_tree(
        tmp_path,
        {
            "in/mtpipe.toml": "protect = ['acme-\\d+']\n",
            "in/a.md": "---\ntagline: Un outil\ntitle: Le titre\n---\n\nLe ticket acme-x et acme-42 ou <<nom>> est prêt.\n",
        },
    )
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--protect", "<<[^>]*>>", "--front-matter-keys", "tagline", *ECHO)
    assert done.returncode == 0, terminal(done)
    english = (tmp_path / "out" / "a.en.md").read_text(encoding="utf-8")
    assert english == "---\ntagline: UN OUTIL\ntitle: Le titre\n---\n\nLE TICKET ACME-X ET acme-42 OU <<nom>> EST PRÊT.\n"
    assert "1 ignored" in terminal(done)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--protect", "("], "mtpipe: error: the protect rule '(' is not a regular expression"),
        (["--config", "nowhere.toml"], "mtpipe: error: cannot read the project file nowhere.toml"),
    ],
)
def test_bad_reading_options_are_one_sentence_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    write_tree(tmp_path, {"in/a.txt": "Le chat dort.\n"})
    done = in_folder(tmp_path, "run", "in", "-o", "out", *args, *ECHO)
    assert done.returncode == 2 and terminal(done).startswith(message) and terminal(done).count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_translate_takes_protect_rules(tmp_path: Path) -> None:
    done = in_folder(tmp_path, "translate", "--protect", r"\bv\d+\b", "--protect", "sort", *ECHO, stdin=b"La version v2 sort demain.\n")
    assert done.returncode == 0 and done.stdout == b"LA VERSION v2 sort DEMAIN.\n"


def test_the_help_names_the_default_front_matter_keys() -> None:
    """The help text spells the defaults out (the parser stays light): the same list."""
    from pipeline.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("run", "translate", "align"):
        [option] = [a for a in commands[name]._actions if a.dest == "front_matter_keys"]
        assert f"(default: {','.join(FRONT_MATTER_KEYS)})" in option.help


def test_an_endless_project_file_is_one_sentence() -> None:
    with pytest.raises(ProjectError, match="the project file /dev/zero holds more than 1 MB"):
        read_options(Path("/dev/zero"))
