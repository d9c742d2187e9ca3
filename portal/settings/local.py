"""Local development: the embedded defaults, with debug pages."""

from portal.settings.base import *  # noqa: F403 -- a settings layer extends the base namespace

DEBUG = env.bool("DEBUG", default=True)  # noqa: F405
