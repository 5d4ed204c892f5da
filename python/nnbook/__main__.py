"""``python -m nnbook ...``: the same as the ``nnbook`` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
