"""Production mail goes through the operator's mail server, set from the environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smtp_server_and_credentials_come_from_the_environment():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicmap.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.stadt.example",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "civicmap",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": "1",
        "EMAIL_TIMEOUT": "12",
    }
    code = (
        "import django, json; django.setup(); from django.core.mail import get_connection;"
        "c = get_connection(); print(json.dumps([c.host, c.port, c.username, c.password,"
        " c.use_tls, c.use_ssl, c.timeout]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    connection = json.loads(out.stdout.strip().splitlines()[-1])
    assert connection == ["mail.stadt.example", 587, "civicmap", "s3cret", True, False, 12]
