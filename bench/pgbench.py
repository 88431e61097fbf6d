"""Database floors with pgbench: the same statement with no application in front."""

import re
import subprocess
from pathlib import Path

from django.conf import settings

SCRIPTS = Path(__file__).resolve().parent / "pgbench"


def run(
    script: str,
    *,
    seconds: int = 5,
    clients: int = 2,
    variables: dict | None = None,
    protocol: str = "simple",
) -> dict:
    """Transactions/s and mean latency (ms) of a pgbench script against the bench database;
    `protocol="prepared"` when the app prepares the statement too."""
    db = settings.DATABASES["default"]
    argv = [
        "pgbench",
        "-n",
        "-h",
        db["HOST"],
        "-p",
        str(db["PORT"] or 5432),
        "-U",
        db["USER"],
        "-c",
        str(clients),
        "-j",
        str(clients),
        "-T",
        str(seconds),
        "-M",
        protocol,
        "-f",
        str(SCRIPTS / script),
    ]
    for key, value in (variables or {}).items():
        argv += ["-D", f"{key}={value}"]
    argv.append(db["NAME"])
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=True,
        env={"PGPASSWORD": db["PASSWORD"], "PATH": "/usr/bin:/bin"},
    )
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))
    return {"tps": tps, "latency_ms": latency}
