#!/usr/bin/env python3
"""docs/man/man_page.py - put one man page together at build time.

Owns: the page's frame (.TH from the program, section and version), the
generated part, which the program itself prints from its option rows
(`PROG --help-man`: NAME, SYNOPSIS, OPTIONS and, for smtpsink-spool, each
command's options; cli/cli_man.c), and the hand-written prose sections of
docs/man/PROG/*.txt placed around it.  So the options in the page are the
parser's own and cannot drift from --help; only the prose is written by
hand.

Prose markup (small on purpose): paragraphs apart by blank lines; a line
indented by two spaces is literal (examples); "- " starts a bullet item;
"@ TERM" on its own line starts a tagged paragraph (.TP) for TERM; `x`
is bold.  Everything else is escaped, so prose cannot inject requests.

Usage: man_page.py PROG SECTION VERSION PROSE_DIR OUTPUT -- COMMAND...
"""
import datetime
import os
import re
import subprocess
import sys

# Sections after OPTIONS (and COMMANDS), in man-pages(7) order: file name, title.
TAIL = [("config", "CONFIG FILE"), ("files", "FILES"), ("environment", "ENVIRONMENT"),
        ("signals", "SIGNALS"), ("exit-status", "EXIT STATUS"), ("examples", "EXAMPLES"),
        ("see-also", "SEE ALSO")]


def escape(text):
    """Plain text as roff: backslashes and minus signs escaped, `x` bold."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    return "\\&" + text if text[:1] in (".", "'") else text


def prose(text):
    """The markup above as roff requests."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.split("\n")
        if lines[0].startswith("@ "):
            out += [".TP", "\\fB" + escape(lines[0][2:]) + "\\fR"] + [escape(l.strip()) for l in lines[1:]]
        elif all(l.startswith("  ") for l in lines):
            out += [".PP", ".RS 4", ".nf"] + [escape(l[2:]) for l in lines] + [".fi", ".RE"]
        elif lines[0].startswith("- "):
            for l in lines:
                if l.startswith("- "):
                    out += [".IP \\(bu 2", escape(l[2:])]
                else:
                    out.append(escape(l.strip()))
        else:
            out += [".PP"] + [escape(l.strip()) for l in lines]
    return "\n".join(out) + "\n"


def section(prose_dir, name, title):
    path = os.path.join(prose_dir, name + ".txt")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return ".SH " + title + "\n" + prose(f.read())


def main(argv):
    sep = argv.index("--")
    prog, sect, version, prose_dir, output = argv[1:sep]
    generated = subprocess.run(argv[sep + 1:], check=True, capture_output=True, text=True).stdout
    head, opts = generated.split(".SH OPTIONS\n", 1)
    stamp = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or None
    date = datetime.datetime.fromtimestamp(stamp or datetime.datetime.now().timestamp(), datetime.timezone.utc)
    manual = "System Manager's Manual" if sect == "8" else "User Commands"
    title = escape(prog.upper())
    page = (f'.TH {title} {sect} "{date:%Y-%m-%d}" "smtpsink {version}" "{manual}"\n'
            + head + section(prose_dir, "description", "DESCRIPTION") + ".SH OPTIONS\n" + opts
            + "".join(section(prose_dir, name, title) for name, title in TAIL))
    with open(output, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main(sys.argv)
