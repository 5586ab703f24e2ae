"""The man pages against --help (issue 16): no drift, no roff warnings.

Owns: for smtpsink(8), smtpsink-bench(1) and smtpsink-spool(1), built by
meson into build/docs/man/ (docs/man/man_page.py), that every option in a
program's --help is in its page and every option in the page is in --help
(smtpsink-spool: the global options, and each command's own in its
subsection against `smtpsink-spool COMMAND --help`, which must exit 0
without touching a spool), that the page's title names the program and
section, and that groff and man-db render each page without a warning.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, smtpsink_path

OPTION = re.compile(r"^\s*(--[a-z0-9][a-z0-9-]*)")


def build_dir():
    return smtpsink_path().resolve().parents[1]


def programs():
    b = build_dir()
    return {
        "smtpsink": (Path(os.environ.get("SMTPSINK_BIN") or b / "io" / "smtpsink"), "8"),
        "smtpsink-bench": (Path(os.environ.get("SMTPSINK_BENCH_BIN") or b / "bench" / "smtpsink-bench"), "1"),
        "smtpsink-spool": (Path(os.environ.get("SPOOL_TOOL_BIN") or b / "tools" / "spool" / "smtpsink-spool"),
                           "1"),
    }


def page_path(name, section):
    p = build_dir() / "docs" / "man" / ("%s.%s" % (name, section))
    assert p.exists(), "%s is not built (ninja -C build builds the man pages)" % p
    return p


def unroff(line):
    return re.sub(r"\\f[BIR]", "", line).replace("\\-", "-").replace("\\e", "\\")


def page_options(text):
    """{section: [options]}: "" for OPTIONS, a command's name for its .SS."""
    found, where, tag, commands = {}, None, False, False
    for line in text.split("\n"):
        if line.startswith(".SH "):
            where = "" if line == ".SH OPTIONS" else None
            commands = line == ".SH COMMANDS"
        elif line.startswith(".SS ") and commands:
            where = unroff(line[4:])
        elif line == ".TP":
            tag = True
            continue
        elif tag and where is not None:
            m = OPTION.match(unroff(line))
            assert m, "a .TP tag that is no option: %r" % line
            found.setdefault(where, []).append(m.group(1))
        tag = False
    return found


def help_options(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/")
    assert p.returncode == 0, (argv, p.returncode, p.stderr)
    return [m.group(1) for m in map(OPTION.match, p.stdout.split("\n")) if m], p.stdout


def same(got_help, got_page, what):
    missing, extra = set(got_help) - set(got_page), set(got_page) - set(got_help)
    assert not missing and not extra, "%s: in --help, not in the page: %s; in the page, not in --help: %s" % (
        what, sorted(missing), sorted(extra))
    assert len(got_page) == len(set(got_page)), "%s: an option twice in the page: %s" % (what, got_page)


@pytest.mark.parametrize("name", ["smtpsink", "smtpsink-bench", "smtpsink-spool"])
def test_page_matches_help(name):
    binary, section = programs()[name]
    text = page_path(name, section).read_text()
    assert text.startswith(".TH %s %s " % (name.upper().replace("-", "\\-"), section)), text[:80]
    opts = page_options(text)
    flags, out = help_options([str(binary), "--help"])
    same(flags, opts.pop(""), name)
    if name != "smtpsink-spool":
        assert not opts, opts
        assert len(flags) > 10, out
        return
    commands = re.findall(r"^  ([a-z]+) ", out.split("Commands:\n", 1)[1], re.M)
    assert len(commands) >= 15 and sorted(commands) == sorted(opts), (commands, sorted(opts))
    for cmd in commands:
        flags, _ = help_options([str(binary), cmd, "--help"])
        same(flags, opts[cmd], "%s %s" % (name, cmd))


@pytest.mark.parametrize("name", ["smtpsink", "smtpsink-bench", "smtpsink-spool"])
def test_page_renders_without_warnings(name):
    page = page_path(name, programs()[name][1])
    p = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert "OPTIONS" in p.stdout and "SEE ALSO" in p.stdout and "EXIT STATUS" in p.stdout, p.stdout[:2000]
    for section in ("DESCRIPTION", "EXAMPLES"):
        assert "\n%s\n" % section in p.stdout, "no %s in %s" % (section, name)


def test_prose_is_escaped(tmp_path):
    """man_page.py: prose cannot start a request, minus signs are escaped."""
    prose = tmp_path / "prose"
    prose.mkdir()
    (prose / "description.txt").write_text(".bp not a request\n'also text -- `bold`\n\n  --example\n")
    out = tmp_path / "x.1"
    subprocess.run(["python3", str(REPO / "docs" / "man" / "man_page.py"), "x", "1", "0", str(prose), str(out),
                    "--", "printf", ".SH NAME\\nx \\\\- y\\n.SH SYNOPSIS\\nx\\n.SH OPTIONS\\n"], check=True)
    text = out.read_text()
    assert "\n\\&.bp not a request\n\\&'also text \\-\\- \\fBbold\\fR\n" in text, text
    assert "\n.RS 4\n.nf\n\\-\\-example\n.fi\n.RE\n" in text, text
    assert text.index(".SH DESCRIPTION") < text.index(".SH OPTIONS"), text
