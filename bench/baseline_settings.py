"""Settings for the B9 baseline: the app's settings, with a URLconf holding a plain DRF
ModelSerializer API (bench/baseline_urls.py), served by gunicorn (WSGI, sync workers)."""

from civicmap.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
