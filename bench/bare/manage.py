#!/usr/bin/env python
"""The bare floor's manage.py (``bench/bare``): a minimal Django project, separate from the portal."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bare_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
