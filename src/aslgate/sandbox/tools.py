"""File tools for agents; both act inside the sample's sandbox, never on the host."""

from __future__ import annotations

import base64
import binascii

from inspect_ai.tool import Tool, ToolError, tool
from inspect_ai.util import sandbox

MAX_READ = 256 * 1024


@tool
def read_file() -> Tool:
    async def execute(path: str) -> str:
        """Read a file in the sandbox. Binary files are returned as base64.

        Args:
            path: File path, relative to the working directory /work or absolute.
        """
        try:
            data = await sandbox().read_file(path, text=False)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            raise ToolError(f"cannot read {path}: {type(e).__name__}") from None
        if len(data) > MAX_READ:
            raise ToolError(f"{path} is {len(data)} bytes; read at most {MAX_READ} (use bash: head, xxd)")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(data).decode()

    return execute


@tool
def write_file() -> Tool:
    async def execute(path: str, content: str, encoding: str = "text") -> str:
        """Write a file in the sandbox, creating parent directories.

        Args:
            path: File path, relative to the working directory /work or absolute.
            content: The file content.
            encoding: "text" to write content as UTF-8, or "base64" to decode it to bytes first.
        """
        if encoding == "base64":
            try:
                data: bytes | str = base64.b64decode(content, validate=True)
            except binascii.Error:
                raise ToolError("content is not valid base64") from None
        elif encoding == "text":
            data = content
        else:
            raise ToolError('encoding must be "text" or "base64"')
        try:
            await sandbox().write_file(path, data)
        except (IsADirectoryError, PermissionError) as e:
            raise ToolError(f"cannot write {path}: {e}") from None
        return f"wrote {len(data)} {'bytes' if isinstance(data, bytes) else 'characters'} to {path}"

    return execute
