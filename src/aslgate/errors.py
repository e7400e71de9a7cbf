"""The base of every error that is the user's to fix: the CLI prints it as one line and exits 2."""


class UserError(Exception):
    """Bad input or an unusable environment, explained in one line (no traceback)."""
