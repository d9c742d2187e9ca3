"""Local media storage that leaves no partial file behind.

Django's ``FileSystemStorage`` keeps what it had written when writing fails part-way (the
disk fills up during an upload or a notice PDF). This one removes that partial file and
re-raises, so the caller's transaction rolls back its row and nothing points to a file
that is missing or cut short.
"""

from __future__ import annotations

import os

from django.core.files.storage import FileSystemStorage


class MediaStorage(FileSystemStorage):
    def _save(self, name, content):
        path = self.path(name)
        existed = os.path.lexists(path)
        try:
            return super()._save(name, content)
        except OSError:
            # NOTE: the name was chosen free (random names, get_available_name) just before;
            # a file there now that was not there before is the one cut short here.
            if not existed and os.path.lexists(path):
                os.remove(path)
            raise
