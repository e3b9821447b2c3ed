#!/usr/bin/env python
"""Django's command-line utility for Rankwise."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The site package lives in platform/ (which must not itself be importable as `platform`).
sys.path.insert(0, str(ROOT / "platform"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
