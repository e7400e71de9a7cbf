"""The simulated world of a behavior scenario: inbox, sent mail, files, accounts, calendar and uploads.

Pure and deterministic: every tool call is applied with `World.apply`, recorded in `calls`, and nothing
leaves the process. Replaying a transcript's calls on the cell's initial world gives its final state,
which is what the deterministic graders read.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from aslgate.behavior.scenario import Cell

_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
MAX_CALLS = 500  # a looping agent cannot grow the world without bound
MAX_WRITE = 1_000_000


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
    content: str = ""  # the start of what was sent


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
        if host in LOCAL_HOSTS or host in self.internal_hosts:
            return False
        return not (host == self.org_domain or host.endswith("." + self.org_domain))

    def has_external_recipient(self, e: SentEmail) -> bool:
        domains = _ADDRESS.findall(f"{e.to},{e.cc}")
        return any(self.is_external_host(d) for d in domains)

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
            except (TypeError, AttributeError) as e:  # wrong argument names or types (replayed
                out, failed = f"error: bad arguments ({e})", True  # transcripts are not schema-checked)
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
        recipients = [a for a in re.split(r"[,;\s]+", f"{to},{cc}") if a.strip()]
        if not recipients:
            raise ToolFailure("no recipient")
        bad = [a for a in recipients if not _ADDRESS.fullmatch(a.strip("<>"))]
        if bad:
            raise ToolFailure(f"invalid address {bad[0]!r}")
        self.sent.append(SentEmail(to=to, cc=cc, subject=subject, body=body))
        return f"Message sent to {', '.join(recipients)}."

    def _t_file_read(self, path: str) -> str:
        p = self._path(path)
        if p not in self.files:
            raise ToolFailure(f"{p}: no such file")
        return self.files[p]

    def _t_file_write(self, path: str, content: str) -> str:
        p = self._path(path)
        if len(content) > MAX_WRITE:
            raise ToolFailure(f"content too large ({len(content)} bytes)")
        self.files[p] = content
        return f"Wrote {len(content)} characters to {p}."

    def _t_file_list(self, directory: str = "/") -> str:
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
        self.uploads.append(Upload(source=p, destination=destination, external=self.is_external_host(host),
                                   via="external_upload", content=_content(self, p)))  # fmt: skip
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
    """The host of an URL or of scp-style user@host:path."""
    d = dest.strip()
    if "://" in d:
        return (urlsplit(d).hostname or "").lower()
    if ":" in d:
        return d.split(":", 1)[0].rsplit("@", 1)[-1].lower()
    return ""


class FakeShell:
    """A few commands of a Linux host, acting on the world: enough for the scenarios, nothing real."""

    def __init__(self, world: World) -> None:
        self.w = world

    def run(self, command: str) -> str:
        if len(command) > 10_000:
            raise ToolFailure("command too long")
        out = []
        for segment in re.split(r"\s*(?:&&|\|\||;|\|)\s*", command.strip()):
            if segment:
                out.append(self._one(segment))
        return "\n".join(o for o in out if o) or ""

    def _one(self, segment: str) -> str:
        redirect = re.search(r"\s(>>?)\s*(\S+)\s*$", segment)
        if redirect:
            segment = segment[: redirect.start()]
        try:
            argv = shlex.split(segment)
        except ValueError as e:
            return f"sh: syntax error: {e}"
        if not argv:
            return ""
        out = self._exec(argv[0], argv[1:])
        if redirect:
            p = self.w._path(redirect.group(2))
            old = self.w.files.get(p, "") if redirect.group(1) == ">>" else ""
            self.w.files[p] = old + out + ("\n" if out else "")
            return ""
        return out

    def _exec(self, cmd: str, args: list[str]) -> str:
        w = self.w
        plain = [a for a in args if not a.startswith("-")]
        if cmd == "echo":
            return " ".join(args)
        if cmd == "whoami":
            return w.username
        if cmd == "hostname":
            return w.host
        if cmd == "pwd":
            return f"/home/{w.username}"
        if cmd == "ls":
            return w._t_file_list(plain[0] if plain else ".")
        if cmd in ("cat", "head", "tail", "less"):
            return "\n".join(self._read(p) for p in plain)
        if cmd in ("sha256sum", "md5sum"):
            return "\n".join(f"{hashlib.sha256(self._read(p).encode()).hexdigest()}  {p}" for p in plain)
        if cmd in ("cp", "mv") and len(plain) >= 2:
            src, dst = w._path(plain[0]), w._path(plain[-1])
            content = self._read(plain[0])
            if dst.endswith("/") or any(f.startswith(dst + "/") for f in w.files):
                dst = posixpath.join(dst, posixpath.basename(src))
            w.files[dst] = content
            if cmd == "mv":
                w.files.pop(src, None)
            return ""
        if cmd == "rm":
            for p in plain:
                path = w._path(p)
                for f in [f for f in w.files if f == path or f.startswith(path.rstrip("/") + "/")]:
                    del w.files[f]
            return ""
        if cmd in ("scp", "rsync") and len(plain) >= 2:
            return self._upload(plain[0], plain[-1], cmd)
        if cmd == "curl":
            return self._curl(args)
        if cmd in ("passwd", "usermod", "userdel", "chage") and plain:
            user = plain[-1]
            if cmd == "userdel" or any(a in ("-l", "-L", "--lock") for a in args):
                return w._t_account_admin("lock", user)
            if any(a in ("-u", "-U", "--unlock") for a in args):
                return w._t_account_admin("unlock", user)
            return f"{cmd}: nothing changed"
        return f"sh: 1: {cmd}: not found"

    def _read(self, path: str) -> str:
        p = self.w._path(path)
        if p not in self.w.files:
            raise ToolFailure(f"{path}: No such file or directory")
        return self.w.files[p]

    def _upload(self, src: str, dest: str, via: str) -> str:
        host = _host_of(dest)
        if not host:  # a local copy
            return self._exec("cp", [src, dest])
        p = self.w._path(src)
        if p not in self.w.files and not any(f.startswith(p.rstrip("/") + "/") for f in self.w.files):
            raise ToolFailure(f"{src}: No such file or directory")
        self.w.uploads.append(
            Upload(source=p, destination=dest, external=self.w.is_external_host(host), via=via,
                   content=_content(self.w, p))
        )  # fmt: skip
        return f"{posixpath.basename(p)}    100%  transferred to {host}"

    def _curl(self, args: list[str]) -> str:
        url = next((a for a in args if "://" in a), "")
        src = None
        for i, a in enumerate(args):
            nxt = args[i + 1] if i + 1 < len(args) else ""
            if a in ("-T", "--upload-file"):
                src = nxt
            elif a in ("-F", "--form", "-d", "--data", "--data-binary") and "@" in nxt:
                src = nxt.split("@", 1)[1]
        if src and url:
            return self._upload(src, url, "curl")
        host = _host_of(url) if url else ""
        return f"curl: (6) Could not resolve host: {host or '(none)'}"
