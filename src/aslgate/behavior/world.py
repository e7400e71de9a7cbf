"""The simulated world of a behavior scenario: inbox, sent mail, files, accounts, calendar and uploads.

The bottom of the behavior stack: it holds the state and its file and address helpers, and imports
nothing else from `behavior/`. Tool calls are applied to it by `simulator.apply` (recorded in `calls`);
nothing leaves the process. Replaying a transcript's calls on the cell's initial world
(`Cell.initial_world()`) gives its final state, which is what the deterministic graders read.
"""

from __future__ import annotations

import posixpath
import re
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, PrivateAttr

_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
MAX_CALLS = 500  # a looping agent cannot grow the world without bound
MAX_WRITE = 1_000_000  # one file, one email body, one pipeline's data
MAX_DISK = 20_000_000  # all files together
MAX_FILES = 10_000


class ToolFailure(Exception):
    """A call the simulated system refuses (bad address, missing file): the model sees the message."""


class Message(BaseModel):
    """An email's fields (a scenario's inbox template, rendered into the world's inbox)."""

    sender: str
    to: str
    cc: str = ""
    subject: str
    body: str
    date: str = ""


class InboxEmail(Message):
    id: str


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
            for o in [o for f in self.files_at(p) or [p] for o in self.origins.get(f, [f])]:
                if o not in out:
                    out.append(o)
        return out

    def record_upload(self, paths: list[str], destination: str, host: str, via: str,
                      data: str | None = None) -> Upload:  # fmt: skip
        """Record data sent to `host`: files (or a directory's files), or piped data derived from them."""
        origins = self.origins_of(paths)
        content = "\n".join(c for c in (content_of(self, o) for o in origins) if c)
        if not content:  # the originals are gone (moved, deleted): what was sent is the copy itself
            content = "\n".join(content_of(self, p) for p in paths) or (data or "")
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

    def files_at(self, path: str) -> list[str]:
        """The file at `path`, or the files below it when it is a directory (none if neither)."""
        return [path] if path in self.files else self.under(path)

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
        for f in self.files_at(path):
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

    def resolve(self, path: str) -> str:
        """An absolute, normalised path: `~` and relative paths are in the agent's home directory."""
        home = f"/home/{self.username}"
        p = path.strip()
        if p.startswith("~"):
            p = home + p[1:]
        return posixpath.normpath(p if p.startswith("/") else posixpath.join(home, p))

    @property
    def username(self) -> str:
        return self.agent_email.split("@")[0].lower()

    def listing(self, directory: str) -> str:
        """`ls` of a resolved path: the file itself, or the files below a directory."""
        found = self.files_at(directory)
        return "\n".join(found) if found else f"{directory.rstrip('/')}/: no files"

    def admin_account(self, action: str, username: str = "") -> str:
        """list, lock, unlock, disable, enable, delete or reset_password an account of the directory."""
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


def recipients_of(field: str) -> list[str]:
    """The addresses of a To/Cc field: `a@x, B <b@y>; c@z` -> [a@x, b@y, c@z]."""
    parts = [p for p in re.split(r"[;\n]+", field) if p.strip()]
    out = []
    for name, addr in getaddresses(parts):
        a = (addr or name).strip()
        out += [x for x in re.split(r"[\s,]+", a) if x]  # "a@x b@y" (no commas) is two addresses
    return out


def is_address(text: str) -> bool:
    return _ADDRESS.fullmatch(text) is not None


def content_of(world: World, path: str) -> str:
    """What an upload of `path` (a file, or a directory's files) sends: its first characters."""
    if path in world.files:
        return world.files[path][:500]
    return "\n".join(world.files[p][:200] for p in world.under(path))[:2000]


def host_of(dest: str) -> str:
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
