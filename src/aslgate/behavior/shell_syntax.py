"""Parsing for the simulated shell: words and operators, comments and redirections, option tables.

Pure functions over strings (no world): `tokens` splits a command line, `split_options` separates a
command's options from its operands knowing which options take a value, `unwrap` sees through sudo,
timeout, env and the like. The commands themselves are in `shell.py`.
"""

from __future__ import annotations

import re
import shlex

from aslgate.behavior.world import host_of


def url_host(url: str) -> str:
    """The host of an URL as curl and wget read it: a missing scheme means http://."""
    return host_of(url if "://" in url else f"http://{url}") if url else ""


def looks_like_url(arg: str) -> bool:
    return "://" in arg or bool(re.match(r"(?:[\w.-]+@)?(?:[\w-]+\.)+[A-Za-z]{2,}(?::\d+)?(?:/|$)", arg))


def _words(spec: str) -> set[str]:
    return set(spec.split())


# options that take a value (so the value is not mistaken for a file or host): short letters, long names
VALUE_OPTIONS: dict[str, tuple[set[str], set[str]]] = {
    "scp": (set("PiocFlSJDX"), set()),
    "sftp": (set("PiocFlSJDXBbRs"), set()),
    "ssh": (set("pioclFLRDJEWBbemQS"), set()),
    "rsync": (
        set("efTB"),
        _words(
            "rsh rsync-path exclude include exclude-from include-from files-from filter port password-file "
            "bwlimit timeout contimeout log-file partial-dir temp-dir compare-dest link-dest backup-dir "
            "suffix chmod chown max-size min-size info debug out-format iconv"
        ),
    ),
    "nc": (set("pswiqIOTX"), set()),
    "curl": (
        set("TdFHoXueAbcDEKmrwxyzYCUQ"),
        _words(
            "upload-file data data-binary data-raw data-ascii data-urlencode form form-string header output "
            "request user url referer user-agent max-time proxy connect-timeout cookie cookie-jar cacert cert "
            "key json retry retry-delay retry-max-time limit-rate max-filesize speed-limit speed-time "
            "connect-to resolve interface local-port keepalive-time range output-dir write-out continue-at "
            "dns-servers proxy-user config trace trace-ascii stderr"
        ),
    ),
    "wget": (
        set("OoaAbeiPtTUwQ"),
        _words(
            "post-file post-data body-file body-data method header output-document user password user-agent "
            "directory-prefix timeout tries limit-rate wait"
        ),
    ),
    "tar": (set("fCbHKNTX"), _words("file directory exclude transform owner group mode")),
    "head": (set("nc"), _words("lines bytes")),
    "tail": (set("nc"), _words("lines bytes")),
    "grep": (set("efmABC"), _words("regexp file max-count include exclude")),
    "stat": (set("c"), _words("format printf")),
    "xxd": (set("lscg"), set()),
    "od": (set("NjtA"), set()),
    "base64": (set("w"), _words("wrap")),
    "du": (set("dBt"), _words("max-depth exclude")),
    "zstd": (set("oT"), set()),
    "gzip": (set("S"), _words("suffix")),
    "xz": (set("T"), set()),
    "cut": (set("dfcb"), set()),
    "sort": (set("ktoS"), set()),
    "xargs": (set("IndPLsaE"), set()),
}
VALUE_OPTIONS["ncat"] = VALUE_OPTIONS["netcat"] = VALUE_OPTIONS["nc"]
# wrappers that run the command after their own options, and which of their options take a value
WRAPPERS: dict[str, set[str]] = {
    "sudo": set("ugCDhpRrtTU"),
    "nice": {"n"},
    "timeout": {"s", "k"},
    "ionice": {"c", "n", "p"},
    "env": {"u", "C", "S"},
    "stdbuf": {"i", "o", "e"},
    "nohup": set(),
    "time": set(),
    "exec": set(),
    "command": set(),
}
KEYWORDS = ("if", "elif", "do", "while", "until", "!")  # dropped before a command (then/else: run())
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
OPERATORS = ("&&", "||", ";;", ">>", "|&", "&>", ">&", "|", ";", "&", "<", ">", "(", ")")
STDERR = "\x01"  # stands for a file-descriptor number before > (2> file), which shlex would split off
DEV_NET = re.compile(r"/dev/(?:tcp|udp)/([^/]+)/\d+")


def split_options(cmd: str, args: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(operands, options in order) of a command line, knowing which options of `cmd` take a value."""
    short, long = VALUE_OPTIONS.get(cmd, (set(), set()))
    operands: list[str] = []
    options: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            operands += args[i + 1 :]
            break
        if a.startswith("--"):
            key, eq, val = a[2:].partition("=")
            if not eq and key in long and i + 1 < len(args):  # --upload-file FILE
                i += 1
                val = args[i]
            options.append((key, val))
        elif a.startswith("-") and len(a) > 1 and not a[1].isdigit():
            for j, ch in enumerate(a[1:]):
                if ch in short:  # -P 2222 or -P2222
                    rest = a[j + 2 :]
                    if not rest and i + 1 < len(args):
                        i += 1
                        rest = args[i]
                    options.append((ch, rest))
                    break
                options.append((ch, ""))
        else:
            operands.append(a)
        i += 1
    return operands, options


def option(options: list[tuple[str, str]], *keys: str) -> str | None:
    """The last value given to any of `keys`."""
    found = [v for k, v in options if k in keys]
    return found[-1] if found else None


def unwrap(cmd: str, args: list[str]) -> tuple[str, list[str]] | None:
    """The command run by a wrapper (sudo, timeout 60, nice -n 5, env -u X A=b, exec, ...), or None."""
    if cmd not in WRAPPERS:
        return None
    takes = WRAPPERS[cmd]
    rest = list(args)
    while rest and (rest[0].startswith("-") or (cmd == "env" and ASSIGNMENT.match(rest[0]))):
        opt = rest.pop(0)
        if opt.startswith("-") and not opt.startswith("--") and opt[-1] in takes and rest:
            rest.pop(0)  # the option's value: nice -n 5, sudo -u root, timeout -s KILL, env -u VAR
    if cmd == "timeout" and rest:
        rest.pop(0)  # the duration
    return (rest[0], rest[1:]) if rest else None


def prepare(command: str) -> str:
    """Quote-aware clean-up before shlex: comments, line continuations, newlines and `2>`.

    `#` starts a comment at the start of a word outside quotes; backslash-newline joins lines; a newline
    ends a statement; `N>` becomes a marker word when N is not 1 (`echo 5 > f` still writes 5 to f).
    """
    out: list[str] = []
    quote = ""
    i, n = 0, len(command)
    while i < n:
        c = command[i]
        at_word_start = i == 0 or command[i - 1] in " \t\n;|&()<>"
        if quote:
            if c == "\\" and quote == '"' and i + 1 < n:
                out.append(command[i : i + 2])
                i += 2
                continue
            quote = "" if c == quote else quote
            out.append(c)
        elif c == "\\" and i + 1 < n:
            if command[i + 1] != "\n":  # backslash-newline: the line goes on
                out.append(command[i : i + 2])
            i += 2
            continue
        elif c in "'\"":
            quote = c
            out.append(c)
        elif c == "#" and at_word_start:
            while i < n and command[i] != "\n":
                i += 1
            continue
        elif c == "\n":
            out.append(" ; ")
        elif c.isdigit() and at_word_start and i + 1 < n and command[i + 1] == ">":
            out.append("" if c == "1" else f" {STDERR} ")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def tokens(command: str) -> list[str]:
    """Shell words and operators; `)|` or `);` (which shlex joins) split into their operators."""
    lexer = shlex.shlex(prepare(command), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # handled by prepare, which knows about quotes
    out: list[str] = []
    for tok in lexer:
        ops = [tok]
        if tok and all(c in "();<>|&" for c in tok) and tok not in OPERATORS:
            ops = []
            while tok:
                op = next(o for o in OPERATORS if tok.startswith(o))
                ops.append(op)
                tok = tok[len(op) :]
        for op in ops:
            if op == ";" and (not out or out[-1] in ("|", "&&", "||", "(", ";", "|&")):
                continue  # an empty statement, or a line that ended with | or &&: the next line goes on
            out.append(op)
    return out
