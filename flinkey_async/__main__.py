"""``python -m flinkey_async sync``: the ``flinkey-async`` command, for when the script is not on
``PATH`` (a venv that is not activated)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
