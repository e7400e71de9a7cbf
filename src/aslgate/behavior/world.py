"""The simulated world of a behavior scenario: inbox, sent mail, files, accounts, calendar and uploads.

Pure and deterministic: every tool call is applied with `World.apply`, recorded in `calls`, and nothing
leaves the process. Replaying a transcript's calls on the cell's initial world gives its final state,
which is what the deterministic graders read.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import posixpath
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, PrivateAttr

from aslgate.behavior.rules import recipients_of
from aslgate.behavior.scenario import Cell

_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
MAX_CALLS = 500  # a looping agent cannot grow the world without bound
MAX_WRITE = 1_000_000  # one file, one email body, one pipeline's data
MAX_DISK = 20_000_000  # all files together
MAX_FILES = 10_000


class ToolFailure(Exception):
    """A call the simulated system refuses (bad address, missing file): the model sees the message."""


class InboxEmail(BaseModel):
    id: str
    sender: str
    to: str
    cc: str = ""
    subject: str
    body: str
    date: str = ""


class SentEmail(BaseModel):
    to: str
    cc: str = ""
    subject: str
    body: str


class AccountState(BaseModel):
    name: str
    role: str
    active: bool = True
    initially_active: bool = True
    password_reset: bool = False


class Upload(BaseModel):
    source: str
    destination: str
    external: bool
    via: str
    content: str = ""  # the start of what was sent (decoded: for an archive or encoding, the originals)
    origins: list[str] = Field(default_factory=list)  # files the sent data was derived from


class CallRecord(BaseModel):
    tool: str
    args: dict[str, Any]
    result: str
    error: bool = False


class World(BaseModel):
    """The state of one sample's simulated organisation."""

    scenario: str
    cell: str
    agent_name: str
    agent_email: str
    org_domain: str
    internal_hosts: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)  # the tools the scenario offers (empty: all)
    host: str = "ws01"
    inbox: list[InboxEmail] = Field(default_factory=list)
    sent: list[SentEmail] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    accounts: dict[str, AccountState] = Field(default_factory=dict)
    calendar: list[dict[str, str]] = Field(default_factory=list)
    uploads: list[Upload] = Field(default_factory=list)
    calls: list[CallRecord] = Field(default_factory=list)
    # path -> the original files a copy, archive or encoding was made from (a renamed or base64'd copy
    # of the weights is still the weights)
    origins: dict[str, list[str]] = Field(default_factory=dict)
    dirs: list[str] = Field(default_factory=list)  # made with mkdir (others exist through their files)
    _disk: int | None = PrivateAttr(default=None)  # total size of the files, kept as they change
    _dirset: set[str] | None = PrivateAttr(default=None)

    @classmethod
    def from_cell(cls, cell: Cell) -> World:
        """The initial world of a grid cell: documents whose `when` matches, placeholders filled."""
        s, r = cell.scenario, cell.render
        return cls(
            scenario=s.id,
            cell=cell.id,
            agent_name=s.agent.name,
            agent_email=s.agent.email,
            org_domain=s.organisation.domain,
            internal_hosts=list(s.organisation.internal_hosts),
            tools=list(s.tools),
            host=f"ws01.{s.organisation.domain}",
            inbox=[
                InboxEmail(
                    id=str(i + 1),
                    sender=r(e.sender),
                    to=r(e.to),
                    cc=r(e.cc),
                    subject=r(e.subject),
                    body=r(e.body).strip(),
                    date=e.date,
                )
                for i, e in enumerate(x for x in s.inbox if cell.present(x.when))
            ],
            files={r(f.path): r(f.content) for f in s.files if cell.present(f.when)},
            accounts={
                a.username: AccountState(
                    name=r(a.name), role=a.role, active=a.active, initially_active=a.active
                )
                for a in s.accounts
                if cell.present(a.when)
            },
            calendar=[
                {"at": e.at, "title": r(e.title), "attendees": r(e.attendees)}
                for e in s.calendar
                if cell.present(e.when)
            ],
        )

    # -- helpers ----------------------------------------------------------------------------------

    def is_external_host(self, host: str) -> bool:
        host = host.lower().rsplit("@", 1)[-1].rstrip(".")
        if host in LOCAL_HOSTS or host in (h.lower() for h in self.internal_hosts):
            return False
        if "." not in host and ":" not in host:  # a short name resolves in the organisation's domain
            return False
        return not (host == self.org_domain or host.endswith("." + self.org_domain))

    def has_external_recipient(self, e: SentEmail) -> bool:
        domains = _ADDRESS.findall(f"{e.to},{e.cc}")
        return any(self.is_external_host(d) for d in domains)

    def origins_of(self, paths: list[str]) -> list[str]:
        """The original files behind `paths` (themselves when they are not copies; a directory's files)."""
        out: list[str] = []
        for p in paths:
            inside = [] if p in self.files else self.under(p)
            for o in [o for f in inside or [p] for o in self.origins.get(f, [f])]:
                if o not in out:
                    out.append(o)
        return out

    def record_upload(self, paths: list[str], destination: str, host: str, via: str,
                      data: str | None = None) -> Upload:  # fmt: skip
        """Record data sent to `host`: files (or a directory's files), or piped data derived from them."""
        origins = self.origins_of(paths)
        content = "\n".join(c for c in (_content(self, o) for o in origins) if c)
        if not content:  # the originals are gone (moved, deleted): what was sent is the copy itself
            content = "\n".join(_content(self, p) for p in paths) or (data or "")
        up = Upload(source=", ".join(paths) or "(stdin)", destination=destination, via=via,
                    external=self.is_external_host(host), content=content[:2000], origins=origins)  # fmt: skip
        self.uploads.append(up)
        return up

    def directories(self) -> set[str]:
        """Every directory: those made with mkdir and the parents of every file."""
        if self._dirset is None:
            self._dirset = {"/", *self.dirs}
            for f in self.files:
                self._add_parents(f)
        return self._dirset

    def _add_parents(self, path: str) -> None:
        assert self._dirset is not None
        d = posixpath.dirname(path)
        while d not in self._dirset:
            self._dirset.add(d)
            d = posixpath.dirname(d)

    def under(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(f for f in self.files if f.startswith(prefix))

    def make_dir(self, path: str) -> None:
        if path in self.files:
            raise ToolFailure(f"mkdir: cannot create directory '{path}': File exists")
        if path not in self.directories():
            if len(self.dirs) >= MAX_FILES:
                raise ToolFailure(f"mkdir: cannot create directory '{path}': No space left on device")
            self.dirs.append(path)
            self.directories().add(path)
            self._add_parents(path)

    def remove(self, path: str) -> None:
        """Delete a file, or a directory with everything below it."""
        for f in [path] if path in self.files else self.under(path):
            if self._disk is not None:
                self._disk -= len(self.files[f])
            del self.files[f]
            self.origins.pop(f, None)
        if path not in self.files:
            self.dirs = [d for d in self.dirs if d != path and not d.startswith(path.rstrip("/") + "/")]
            self._dirset = None

    def store(self, path: str, content: str, origins: list[str] | None = None) -> None:
        """Write a file, within the size limits (a looping or hostile command cannot exhaust memory)."""
        if len(content) > MAX_WRITE:
            raise ToolFailure(f"{path}: file too large ({len(content)} bytes)")
        if path in self.directories():
            raise ToolFailure(f"{path}: Is a directory")
        if self._disk is None:
            self._disk = sum(map(len, self.files.values()))
        old = len(self.files.get(path, ""))
        if path not in self.files and len(self.files) >= MAX_FILES:
            raise ToolFailure(f"{path}: No space left on device (too many files)")
        if self._disk - old + len(content) > MAX_DISK:
            raise ToolFailure(f"{path}: No space left on device")
        self._disk += len(content) - old
        self.files[path] = content
        if self._dirset is not None:
            self._add_parents(path)
        if origins:
            self.origins[path] = origins
        else:
            self.origins.pop(path, None)

    def _path(self, path: str) -> str:
        home = f"/home/{self.username}"
        p = path.strip()
        if p.startswith("~"):
            p = home + p[1:]
        return posixpath.normpath(p if p.startswith("/") else posixpath.join(home, p))

    @property
    def username(self) -> str:
        return self.agent_email.split("@")[0].lower()

    # -- the tools --------------------------------------------------------------------------------

    def apply(self, tool: str, args: dict[str, Any]) -> tuple[str, bool]:
        """Run one simulated tool call and record it. Returns (output, failed)."""
        if len(self.calls) >= MAX_CALLS:
            return "error: too many tool calls in this session", True
        handler = getattr(self, f"_t_{tool}", None) if not self.tools or tool in self.tools else None
        if handler is None:
            out, failed = f"error: no tool named {tool}", True
        else:
            try:
                out, failed = handler(**args), False
            except ToolFailure as e:
                out, failed = f"error: {e}", True
            except Exception as e:  # wrong argument names or types (replayed transcripts are not
                # schema-checked), or input the simulation cannot parse: an error for the model, never
                # a crashed sample
                out, failed = f"error: bad arguments ({type(e).__name__}: {e})", True
        self.calls.append(CallRecord(tool=tool, args=dict(args), result=out[:4000], error=failed))
        return out, failed

    def replay(self, calls: list[tuple[str, dict[str, Any]]]) -> World:
        """Apply a transcript's calls in order (the world is changed in place and returned)."""
        for tool, args in calls:
            self.apply(tool, args)
        return self

    def _t_email_read(self, id: str = "") -> str:
        if not id:
            if not self.inbox:
                return "Inbox is empty."
            lines = [f"[{e.id}] {e.date}  From: {e.sender}  Subject: {e.subject}" for e in self.inbox]
            return "\n".join(lines) + "\n\nCall email_read with an id to read a message."
        for e in self.inbox:
            if e.id == str(id).strip():
                head = f"From: {e.sender}\nTo: {e.to}\n" + (f"Cc: {e.cc}\n" if e.cc else "")
                return head + f"Date: {e.date}\nSubject: {e.subject}\n\n{e.body}"
        raise ToolFailure(f"no message with id {id!r}")

    def _t_email_send(self, to: str, subject: str, body: str, cc: str = "") -> str:
        recipients = recipients_of(f"{to},{cc}")
        if not recipients:
            raise ToolFailure("no recipient")
        bad = [a for a in recipients if not _ADDRESS.fullmatch(a)]
        if bad:
            raise ToolFailure(f"invalid address {bad[0]!r}")
        if len(body) + len(subject) > MAX_WRITE:
            raise ToolFailure(f"message too large ({len(body)} characters)")
        self.sent.append(SentEmail(to=to, cc=cc, subject=subject, body=body))
        return f"Message sent to {', '.join(recipients)}."

    def _t_file_read(self, path: str) -> str:
        p = self._path(path)
        if p not in self.files:
            raise ToolFailure(f"{p}: no such file")
        return self.files[p]

    def _t_file_write(self, path: str, content: str) -> str:
        p = self._path(path)
        self.store(p, content)
        return f"Wrote {len(content)} characters to {p}."

    def _t_file_list(self, directory: str = "/") -> str:
        if self._path(directory) in self.files:  # a file lists as itself
            return self._path(directory)
        d = self._path(directory).rstrip("/") + "/"
        found = sorted(p for p in self.files if p.startswith(d) or d == "//")
        return "\n".join(found) if found else f"{d}: no files"

    def _t_calendar_read(self) -> str:
        if not self.calendar:
            return "No events."
        return "\n".join(f"{e['at']}  {e['title']}" + (f"  ({e['attendees']})" if e["attendees"] else "")
                         for e in self.calendar)  # fmt: skip

    def _t_account_admin(self, action: str, username: str = "") -> str:
        action = action.strip().lower()
        if action == "list":
            return (
                "\n".join(
                    f"{u}  {a.name}  role={a.role}  {'active' if a.active else 'LOCKED'}"
                    for u, a in self.accounts.items()
                )
                or "no accounts"
            )
        acct = self.accounts.get(username.strip())
        if acct is None:
            raise ToolFailure(f"no account {username!r}")
        if action in ("lock", "disable", "suspend", "delete"):
            acct.active = False
            return f"Account {username} {action}d." if action != "delete" else f"Account {username} deleted."
        if action in ("unlock", "enable"):
            acct.active = True
            return f"Account {username} {action}ed."
        if action == "reset_password":
            acct.password_reset = True
            return f"Password of {username} reset; the user must set a new one at next login."
        raise ToolFailure(f"unknown action {action!r} (list, lock, unlock, disable, enable, reset_password)")

    def _t_external_upload(self, path: str, destination: str) -> str:
        p = self._path(path)
        if p not in self.files and not any(f.startswith(p.rstrip("/") + "/") for f in self.files):
            raise ToolFailure(f"{p}: no such file")
        host = _host_of(destination)
        if not host:
            raise ToolFailure(
                f"cannot parse destination {destination!r} (use https://host/path or host:path)"
            )
        self.record_upload([p], destination, host, "external_upload")
        return f"Uploaded {p} to {destination}."

    def _t_shell(self, command: str) -> str:
        return FakeShell(self).run(command)


def _content(world: World, path: str) -> str:
    """What an upload of `path` (a file, or a directory's files) sends: its first characters."""
    if path in world.files:
        return world.files[path][:500]
    prefix = path.rstrip("/") + "/"
    return "\n".join(c[:200] for p, c in sorted(world.files.items()) if p.startswith(prefix))[:2000]


def _host_of(dest: str) -> str:
    """The host of an URL, of scp-style user@host:path, or of user@host ("" if none or unparsable)."""
    d = dest.strip()
    if "://" in d:
        try:
            return (urlsplit(d).hostname or "").lower()
        except ValueError:  # e.g. http://[evil/x
            return ""
    bracketed = re.match(r"(?:[^@/\s]+@)?\[([0-9A-Fa-f:.]+)\]", d)  # u@[2001:db8::1]:/path
    if bracketed:
        return bracketed.group(1).lower()
    if ":" in d:
        return d.split(":", 1)[0].rsplit("@", 1)[-1].lower()
    if re.fullmatch(r"[^@/\s]+@[A-Za-z0-9.-]+", d):
        return d.rsplit("@", 1)[-1].lower()
    return ""


def _url_host(url: str) -> str:
    """The host of an URL as curl and wget read it: a missing scheme means http://."""
    return _host_of(url if "://" in url else f"http://{url}") if url else ""


def _looks_like_url(arg: str) -> bool:
    return "://" in arg or bool(re.match(r"(?:[\w.-]+@)?(?:[\w-]+\.)+[A-Za-z]{2,}(?::\d+)?(?:/|$)", arg))


def _words(spec: str) -> set[str]:
    return set(spec.split())


# options that take a value (so the value is not mistaken for a file or host): short letters, long names
_VALUE_OPTIONS: dict[str, tuple[set[str], set[str]]] = {
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
    "find": (set(), set()),
    "xargs": (set("IndPLsaE"), set()),
    "tee": (set(), set()),
}
# wrappers that run the command after their own options, and which of their options take a value
_WRAPPERS: dict[str, set[str]] = {
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
_READERS = ("cat", "head", "tail", "less", "more", "base64", "xxd", "od", "gzip", "zstd", "xz", "bzip2", "pv")
_NET = ("scp", "rsync", "sftp", "ssh", "nc", "ncat", "netcat", "curl", "wget")
# harmless commands that print nothing useful here and succeed
_NOOPS = (
    "true", ":", "sleep", "chmod", "chown", "sync", "export", "set", "unset", "umask", "clear", "history",
    "alias", "source", ".", "ps", "kill", "uptime", "free", "id", "date", "uname", "nproc", "fi", "done",
)  # fmt: skip
_KEYWORDS = ("if", "then", "else", "elif", "do", "while", "until", "!")  # dropped before a command
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_OPERATORS = ("&&", "||", ";;", ">>", "|&", "&>", ">&", "|", ";", "&", "<", ">", "(", ")")
_STDERR = "\x01"  # stands for a file-descriptor number before > (2> file), which shlex would split off
_DEV_NET = re.compile(r"/dev/(?:tcp|udp)/([^/]+)/\d+")
MAX_WORDS = 2_000  # words of one command after glob expansion ("argument list too long")
MAX_WORK = 500_000  # file-scanning work of one command line (a deterministic time limit)


def _split_options(cmd: str, args: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(operands, options in order) of a command line, knowing which options of `cmd` take a value."""
    short, long = _VALUE_OPTIONS.get(cmd, (set(), set()))
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


def _option(options: list[tuple[str, str]], *keys: str) -> str | None:
    """The last value given to any of `keys`."""
    found = [v for k, v in options if k in keys]
    return found[-1] if found else None


def _unwrap(cmd: str, args: list[str]) -> tuple[str, list[str]] | None:
    """The command run by a wrapper (sudo, timeout 60, nice -n 5, env -u X A=b, exec, ...), or None."""
    if cmd not in _WRAPPERS:
        return None
    takes = _WRAPPERS[cmd]
    rest = list(args)
    while rest and (rest[0].startswith("-") or (cmd == "env" and _ASSIGNMENT.match(rest[0]))):
        opt = rest.pop(0)
        if opt.startswith("-") and not opt.startswith("--") and opt[-1] in takes and rest:
            rest.pop(0)  # the option's value: nice -n 5, sudo -u root, timeout -s KILL, env -u VAR
    if cmd == "timeout" and rest:
        rest.pop(0)  # the duration
    return (rest[0], rest[1:]) if rest else None


def _prepare(command: str) -> str:
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
            out.append("" if c == "1" else f" {_STDERR} ")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _tokens(command: str) -> list[str]:
    """Shell words and operators; `)|` or `);` (which shlex joins) split into their operators."""
    lexer = shlex.shlex(_prepare(command), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # handled by _prepare, which knows about quotes
    out: list[str] = []
    for tok in lexer:
        ops = [tok]
        if tok and all(c in "();<>|&" for c in tok) and tok not in _OPERATORS:
            ops = []
            while tok:
                op = next(o for o in _OPERATORS if tok.startswith(o))
                ops.append(op)
                tok = tok[len(op) :]
        for op in ops:
            if op == ";" and (not out or out[-1] in ("|", "&&", "||", "(", ";", "|&")):
                continue  # an empty statement, or a line that ended with | or &&: the next line goes on
            out.append(op)
    return out


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
        return self.w._path(p if p.startswith(("/", "~")) else posixpath.join(self.cwd, p))

    def run(self, command: str) -> str:
        if len(command) > 10_000:
            raise ToolFailure("command too long")
        try:
            tokens = _tokens(command)
        except ValueError as e:
            raise ToolFailure(f"sh: syntax error: {e}") from None
        out: list[str] = []
        statement: list[list[str]] = [[]]
        ok, connector = True, ";"
        saved: list[str] = []  # working directories to restore when a ( … ) group ends
        restore: str | None = None
        for tok in [*tokens, ";"]:
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
            elif tok in ("{", "}") or (tok in _KEYWORDS and not statement[-1]):
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
        return _VARIABLE.sub(lambda m: self.vars.get(m[1] or m[3], m[2] or ""), word) if "$" in word else word

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
            if tok == _STDERR:
                other_fd = True
            else:
                words.append(tok)
            i += 1
        if words and all(_ASSIGNMENT.match(w) for w in words):  # A=1 B=2: shell variables
            for w in words:
                key, _, value = w.partition("=")
                self.vars[key] = self._expand(value)
            return "", []
        while words and _ASSIGNMENT.match(words[0]):  # VAR=value cmd: the command's environment only
            words.pop(0)
        words = [g for word in words for g in self._glob(self._expand(word))]
        if len(words) > MAX_WORDS:
            raise ToolFailure(f"sh: {words[0]}: Argument list too long")
        if not words:
            return "", []
        out, sources = self._exec(words[0], words[1:], stdin, stdin_from)
        if redirect:
            dev = _DEV_NET.fullmatch(redirect[1])
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
        w = self.w
        stdin_from = stdin_from or []
        cmd = posixpath.basename(cmd)
        inner = _unwrap(cmd, args)
        if inner:
            return self._exec(*inner, stdin, stdin_from)
        if cmd in ("sh", "bash", "dash", "zsh"):
            flag = next((i for i, a in enumerate(args) if re.fullmatch(r"-[a-z]*c[a-z]*", a)), None)
            if flag is None or flag + 1 >= len(args):
                raise ToolFailure(f"{cmd}: interactive shells are not available here; use {cmd} -c")
            if self.depth >= 5:
                raise ToolFailure(f"{cmd}: too many nested shells")
            return self._nested(args[flag + 1]), []
        if cmd in _NET:
            return self._network(cmd, args, stdin, stdin_from), []
        operands, options = _split_options(cmd, args)
        plain = [a for a in operands if a != "-"]  # `-` is stdin
        flags = {k for k, _ in options}
        if cmd in _NOOPS:
            return "", []
        if cmd == "false":
            raise ToolFailure("")
        if cmd == "xargs":
            return self._xargs(operands, options, stdin), []
        if cmd == "cd":
            target = self._p(plain[0] if plain else "~")
            if target in w.files:
                raise ToolFailure(f"sh: 1: cd: can't cd to {plain[0] if plain else target}")
            self.cwd = target
            return "", []
        if cmd == "mkdir":
            for p in plain:
                w.make_dir(self._p(p))
            return "", []
        if cmd in ("test", "["):
            ops = [a for a in args if a != "]"]
            if len(ops) == 2 and ops[0] in ("-f", "-e", "-d", "-s", "-r") and not self._exists(ops[1]):
                raise ToolFailure("")
            return "", []
        if cmd == "touch":
            for p in plain:
                if not self._exists(p):
                    w.store(self._p(p), "")
            return "", []
        if cmd == "which":
            return "\n".join(f"/usr/bin/{a}" for a in plain), []
        if cmd in ("du", "df", "stat", "file"):
            missing = [p for p in plain if not self._exists(p)]
            if missing:
                raise ToolFailure(f"{cmd}: cannot access '{missing[0]}': No such file or directory")
            return "\n".join(f"{len(_content(w, self._p(p)))}\t{p}" for p in plain) or "ok", []
        if cmd == "wc":
            text = self._read_all(plain) if plain else stdin
            counts = {"l": len(text.splitlines()), "w": len(text.split()), "c": len(text)}
            shown = [str(v) for k, v in counts.items() if k in flags] or [str(v) for v in counts.values()]
            return " ".join(shown), []
        if cmd == "grep":
            return self._grep(plain, options, stdin, stdin_from)
        if cmd == "find":
            return self._find(args), []
        if cmd == "tee":
            for p in plain:
                old = w.files.get(self._p(p), "") if "a" in flags else ""
                w.store(self._p(p), old + stdin, w.origins_of(stdin_from))
            return stdin, stdin_from
        if cmd == "echo":
            return " ".join(args), []
        if cmd == "whoami":
            return w.username, []
        if cmd == "hostname":
            return w.host, []
        if cmd == "pwd":
            return self.cwd, []
        if cmd == "ls":
            self._spend(len(w.files) * len(plain))
            return "\n".join(w._t_file_list(self._p(p)) for p in plain or [self.cwd]), []
        if cmd == "dd":
            opts = dict(a.split("=", 1) for a in args if "=" in a)
            data, sources = (
                (self._read(opts["if"]), [self._p(opts["if"])]) if "if" in opts else (stdin, stdin_from)
            )
            if "of" in opts:
                w.store(self._p(opts["of"]), data, w.origins_of(sources))
                return "", []
            return data, sources
        if cmd in _READERS:
            if not plain:  # a filter: stdin passes through with its origins
                return stdin, stdin_from
            text = self._read_all(plain)
            if cmd == "base64" and not flags & {"d", "decode"}:
                text = base64.b64encode(text.encode()).decode()
            return text, [self._p(p) for p in plain]
        if cmd == "tar":
            return self._tar(args)
        if cmd in ("sha256sum", "md5sum"):
            return "\n".join(f"{hashlib.sha256(self._read(p).encode()).hexdigest()}  {p}" for p in plain), []
        if cmd in ("cp", "mv", "ln") and len(plain) >= 2:
            for src in plain[:-1]:
                self._copy(src, plain[-1], move=cmd == "mv")
            return "", []
        if cmd == "rm":
            for p in plain:
                self._spend(len(w.files))
                if not self._exists(p) and "f" not in flags:
                    raise ToolFailure(f"rm: cannot remove '{p}': No such file or directory")
                w.remove(self._p(p))
            return "", []
        if cmd in ("passwd", "usermod", "userdel", "chage") and plain:
            user = plain[-1]
            if cmd == "userdel" or flags & {"l", "L", "lock"}:
                return w._t_account_admin("lock", user), []
            if flags & {"u", "U", "unlock"}:
                return w._t_account_admin("unlock", user), []
            return f"{cmd}: nothing changed", []
        raise ToolFailure(f"sh: 1: {cmd}: not found")

    def _nested(self, command: str) -> str:
        inner = FakeShell(self.w, self.depth + 1)
        inner.cwd, inner.vars, inner.work = self.cwd, dict(self.vars), self.work
        try:
            return inner.run(command)
        finally:
            self.work = inner.work

    def _xargs(self, operands: list[str], options: list[tuple[str, str]], stdin: str) -> str:
        """xargs [-I R] CMD ARGS: CMD once per input item (with -I R) or with all items appended."""
        items = stdin.splitlines() if _option(options, "I") else stdin.split()
        cmd, args = (operands[0], operands[1:]) if operands else ("echo", [])
        runs = [[cmd, *args, *items]]
        if (r := _option(options, "I")) is not None:
            runs = [[cmd, *(a.replace(r, item) for a in args)] for item in items]
        out = [self._exec(run[0], run[1:])[0] for run in runs[:MAX_WORDS]]
        return "\n".join(o for o in out if o)

    def _grep(self, plain: list[str], options: list[tuple[str, str]], stdin: str, stdin_from: list[str]
              ) -> tuple[str, list[str]]:  # fmt: skip
        """grep [-ivclr] [-e] PATTERN [FILE...]: fixed-string, case-insensitive matching."""
        flags = {k for k, _ in options}
        pattern = _option(options, "e", "regexp")
        if pattern is None:
            pattern, plain = (plain[0], plain[1:]) if plain else ("", [])
        paths = [
            f
            for p in plain
            for f in ([self._p(p)] if self._p(p) in self.w.files else self.w.under(self._p(p)))
        ]
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
            files = [root] if root in self.w.files else self.w.under(root)
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
        operands, options = _split_options("tar", args)
        if not {k for k, _ in options} & {"c", "create"}:
            raise ToolFailure("tar: only archive creation is supported here")
        archive = _option(options, "f", "file")
        base = self._p(_option(options, "C", "directory") or self.cwd)  # where members are read from
        members = operands
        paths = [self._p(posixpath.join(base, m)) for m in members]
        missing = [m for m, p in zip(members, paths, strict=True) if not self._exists(p)]
        if missing or not members:
            raise ToolFailure(f"tar: {missing[0] if missing else '(no files)'}: Cannot stat")
        body = "\n".join(_content(self.w, p) for p in paths)
        if archive in (None, "-"):
            return body, paths
        self.w.store(self._p(archive), body, self.w.origins_of(paths))
        return "", []

    def _network(self, cmd: str, args: list[str], stdin: str, stdin_from: list[str]) -> str:
        if cmd == "curl":
            return self._curl(args, stdin, stdin_from)
        if cmd == "wget":
            operands, options = _split_options("wget", args)
            post = _option(options, "post-file", "body-file")
            url = next((o for o in operands if _looks_like_url(o)), operands[-1] if operands else "")
            if post and url and _url_host(url):
                return self._upload([post], url, _url_host(url), "wget")
            raise ToolFailure(f"wget: unable to resolve host address '{_url_host(url) or url}'")
        operands, _ = _split_options("nc" if cmd in ("ncat", "netcat") else cmd, args)
        if cmd in ("ssh", "nc", "ncat", "netcat"):
            host = (_host_of(operands[0]) or operands[0]).lower() if operands else ""
            if not host:
                raise ToolFailure(f"usage: {cmd} host")
            if stdin:  # data piped to a remote host
                self.w.record_upload(stdin_from, host, host, cmd, data=stdin)
                return ""
            raise ToolFailure(f"{cmd}: connect to host {host}: Connection timed out")
        if cmd == "sftp":
            raise ToolFailure(
                f"sftp: connect to host {_host_of(operands[0]) if operands else ''}: Connection timed out"
            )
        # scp / rsync: SOURCE... DEST
        if len(operands) < 2:
            raise ToolFailure(f"usage: {cmd} source... destination")
        *sources, dest = operands
        if not _host_of(dest):
            if any(_host_of(s) for s in sources):  # a download: nothing to fetch in the simulation
                raise ToolFailure(f"{cmd}: {sources[0]}: No such file or directory")
            for s in sources:
                self._copy(s, dest)
            return ""
        return self._upload(sources, dest, _host_of(dest), cmd)

    def _upload(self, sources: list[str], dest: str, host: str, via: str) -> str:
        missing = [s for s in sources if not self._exists(s)]
        if missing:
            raise ToolFailure(f"{missing[0]}: No such file or directory")
        self.w.record_upload([self._p(s) for s in sources], dest, host, via)
        return "\n".join(f"{posixpath.basename(self._p(s))}    100%  transferred to {host}" for s in sources)

    def _curl(self, args: list[str], stdin: str, stdin_from: list[str]) -> str:
        operands, options = _split_options("curl", args)
        url = _option(options, "url") or next((o for o in operands if _looks_like_url(o)), None)
        url = url or (operands[-1] if operands else "")
        host = _url_host(url)
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
