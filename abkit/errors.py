"""User-facing errors: the CLI prints their message as one line and exits with code 2."""


class AbkitError(Exception):
    """A problem the user can fix (bad input, bad spec, busy database); message is one line."""
