import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, the URL patterns) lives as long as the process:
# it goes to the collector's permanent generation, so no collection walks it again, and the
# youngest generation is collected every 5,000 new objects instead of 700 (a page makes tens of
# thousands, nearly all freed by their reference counts before a collection would look at them).
gc.collect()
gc.freeze()
gc.set_threshold(5000, 10, 10)
