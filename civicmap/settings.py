"""civicmap settings. Every value comes from the environment; defaults suit a local run."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def _str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _optional(name: str) -> str | None:
    return os.environ.get(name) or None


# --- environment: every variable read here, typed, with a production-safe default --------------
# Nothing below this block reads the environment. Names with a leading underscore are read here
# but applied further down only under a condition (HTTPS, S3); they are no Django settings.
DEBUG = _bool("DEBUG", False)
SECRET_KEY = _str("SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
ALLOWED_HOSTS = _list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")
DATABASE_URL = _str("DATABASE_URL", "postgis://civicmap:civicmap@127.0.0.1:5432/civicmap")
CELERY_BROKER_URL = _str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", False)
MEDIA_ROOT = Path(_str("MEDIA_ROOT", str(BASE_DIR / "media")))
SERVE_MEDIA = _bool("SERVE_MEDIA", True)
STATIC_ROOT = Path(_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# `make backup` (manage.py core_backup) writes its archives here (docs/operations.md).
BACKUP_DIR = Path(_str("BACKUP_DIR", str(BASE_DIR / "var" / "backups")))
TIME_ZONE = _str("TIME_ZONE", "Europe/Berlin")
LANGUAGE_CODE = _str("LANGUAGE_CODE", "de")
# Public holidays for working-day deadlines: country and subdivision for `holidays`.
HOLIDAY_COUNTRY = _str("HOLIDAY_COUNTRY", "DE")
HOLIDAY_SUBDIVISION = _str("HOLIDAY_SUBDIVISION", "SN")
MAP_TILE_URL = _str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = _str(
    "MAP_TILE_ATTRIBUTION",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>-Mitwirkende',
)
MAP_CENTER = [float(v) for v in _list("MAP_CENTER", "51.0504,13.7373")]
# Above this many points, the public and dispatcher maps draw vector tiles instead of markers.
MAP_VECTOR_TILES_ABOVE = _int("MAP_VECTOR_TILES_ABOVE", 5000)
DATA_ATTRIBUTION = _str(
    "DATA_ATTRIBUTION",
    "Geodaten: Landeshauptstadt Dresden, opendata.dresden.de, Datenlizenz Deutschland – "
    "Namensnennung – Version 2.0 (https://www.govdata.de/dl-de/by-2-0). Daten umgewandelt "
    "(WKT → GeoJSON) bzw. abgeleitet (Stadtbezirke/Ortschaften/Stadtgrenze aus Stadtteilen "
    "und Wahlbezirken zusammengefasst).",
)
EMAIL_BACKEND = _str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = _str("DEFAULT_FROM_EMAIL", "civicmap <noreply@civicmap.local>")
# With EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend: the mail server to send through.
EMAIL_HOST = _str("EMAIL_HOST", "localhost")
EMAIL_PORT = _int("EMAIL_PORT", 25)
EMAIL_HOST_USER = _str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = _bool("EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
EMAIL_TIMEOUT = _int("EMAIL_TIMEOUT", 30)  # seconds; a hung server must not hold a worker
SITE_URL = _str("SITE_URL", "http://127.0.0.1:8000")
PHOTO_MAX_BYTES = _int("PHOTO_MAX_BYTES", 20 * 1024 * 1024)
PHOTO_MAX_PIXELS = _int("PHOTO_MAX_PIXELS", 50_000_000)
PHOTO_PUBLIC_MAX_PX = _int("PHOTO_PUBLIC_MAX_PX", 1600)
PHOTO_THUMB_MAX_PX = _int("PHOTO_THUMB_MAX_PX", 320)
# Threads of OpenCV's face/plate detection per photo worker process: 1, so that photo workers
# scale by processes (`--concurrency` = cores); more only for a single-process worker.
PHOTO_DETECTION_THREADS = _int("PHOTO_DETECTION_THREADS", 1)
LOG_LEVEL = _str("LOG_LEVEL", "INFO")
# iCalendar feeds of public events (http(s) URLs or .ics paths), refreshed hourly by Celery beat.
EVENT_FEEDS = _list("EVENT_FEEDS", "")
# Open311 GeoReport v2: the one jurisdiction served (checked when a client sends one), what the
# discovery document tells clients, and how many POSTs a client may make per API key and per IP.
OPEN311_JURISDICTION_ID = _str("OPEN311_JURISDICTION_ID", "dresden.de")
OPEN311_CONTACT = _str("OPEN311_CONTACT", "civicmap operators, " + SITE_URL)
OPEN311_KEY_SERVICE = _str(
    "OPEN311_KEY_SERVICE", "API keys are issued by the operators of this installation."
)
OPEN311_POST_RATE_PER_KEY = _str("OPEN311_POST_RATE_PER_KEY", "300/hour")
OPEN311_POST_RATE_PER_IP = _str("OPEN311_POST_RATE_PER_IP", "600/hour")
# Live dispatcher map: Redis for pub/sub (default: the broker) and the channel (default: named
# after the database, so two installations on one Redis do not see each other's updates).
LIVE_REDIS_URL = _str("LIVE_REDIS_URL", CELERY_BROKER_URL)
LIVE_CHANNEL = _str("LIVE_CHANNEL", "")
# Escalation: tell dispatchers about a report without a crew after this many minutes.
UNASSIGNED_NOTIFY_MINUTES = _int("UNASSIGNED_NOTIFY_MINUTES", 60)
# Hotspot clustering needs metres: a metric projection covering the city (UTM 33N for Saxony).
HOTSPOT_SRID = _int("HOTSPOT_SRID", 25833)
# Privacy and abuse limits (issue 9). Contact data and photo originals are erased this many days
# after a report is closed; the rest of the report stays (the public copies are redacted).
RETENTION_DAYS = _int("RETENTION_DAYS", 90)
# A resident's photo taken farther than this from the pin, or longer ago than this before the
# submission, flags the report for the dispatcher (it is still accepted).
PHOTO_PLAUSIBLE_METERS = _float("PHOTO_PLAUSIBLE_METERS", 150)
PHOTO_PLAUSIBLE_DAYS = _float("PHOTO_PLAUSIBLE_DAYS", 7)
# Submissions per client IP and per e-mail address, and public "inappropriate" flags per IP
# (DRF rate syntax, "n/second|minute|hour|day"; empty: no limit). Confirmations: REPORT_SUBMIT_RATE.
REPORT_SUBMIT_RATE_PER_IP = _str("REPORT_SUBMIT_RATE_PER_IP", "30/hour")
REPORT_SUBMIT_RATE_PER_EMAIL = _str("REPORT_SUBMIT_RATE_PER_EMAIL", "10/hour")
REPORT_FLAG_RATE_PER_IP = _str("REPORT_FLAG_RATE_PER_IP", "10/hour")
REPORT_SUBMIT_RATE = _str("REPORT_SUBMIT_RATE", "60/hour")  # confirmation mails per client
# Work still to do after a commit (reports.outbox, photo processing): the Celery beat sweep runs
# every OUTBOX_SWEEP_SECONDS and sends again what has been pending longer than
# OUTBOX_SWEEP_AGE_SECONDS; a failed item waits OUTBOX_RETRY_SECONDS x 2^(attempts-1) and is given
# up (kept, with its error) after OUTBOX_MAX_ATTEMPTS.
OUTBOX_SWEEP_SECONDS = _float("OUTBOX_SWEEP_SECONDS", 60)
OUTBOX_SWEEP_AGE_SECONDS = _float("OUTBOX_SWEEP_AGE_SECONDS", 180)
OUTBOX_RETRY_SECONDS = _float("OUTBOX_RETRY_SECONDS", 30)
OUTBOX_MAX_ATTEMPTS = _int("OUTBOX_MAX_ATTEMPTS", 10)
# The longest a task may run (hard limit, seconds); the broker gives an unacknowledged message
# to another worker after the visibility timeout, by default a minute after that.
CELERY_TASK_TIME_LIMIT = _int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_VISIBILITY_TIMEOUT = _int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 60)
# Production hardening: HTTPS=1 behind TLS turns on HSTS, secure cookies and the SSL redirect.
HTTPS = _bool("HTTPS", False)
SECURE_COOKIES = _bool("SECURE_COOKIES", not DEBUG and HTTPS)
_SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", True)
_SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 31536000)
_SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
_SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", True)
# Extra image sources for the Content-Security-Policy (core.middleware).
CSP_IMG_EXTRA = _list("CSP_IMG_EXTRA", "")
# Database: psycopg's connection pool (DATABASE_POOL) and an optional read replica.
DATABASE_POOL = _bool("DATABASE_POOL", True)
DATABASE_REPLICA_URL = _str("DATABASE_REPLICA_URL", "")
# A few hot fixed queries (the duplicate check) run as server-side prepared statements
# (core.prepared); 0 for a pooler that cannot keep them (pgbouncer in transaction mode).
DATABASE_PREPARED = _bool("DATABASE_PREPARED", True)
# Vector tiles are cached in Redis, shared by web and Celery processes; "" turns the cache off.
TILE_CACHE_URL = _str("TILE_CACHE_URL", LIVE_REDIS_URL)
# The default cache, where every rate limit counts: Redis shared by all web processes (falls
# back to each process's memory while Redis is unreachable, core.cache); "" = memory only.
CACHE_URL = _str("CACHE_URL", LIVE_REDIS_URL)
# Key prefix of that cache (default: named after the database, like the tile cache).
CACHE_KEY_PREFIX = _str("CACHE_KEY_PREFIX", "")
# The public map's pages and popups are answered by a thin ASGI handler on an asyncio pool
# (api/fastpath.py, civicmap/asgi.py) instead of Django's request cycle; 0 switches it off.
MAP_FAST_PATH = _bool("MAP_FAST_PATH", True)
MAP_FAST_PATH_POOL_SIZE = _int("MAP_FAST_PATH_POOL_SIZE", 8)
# S3-compatible object storage for photos (docs/scaling.md); both buckets or neither.
STORAGE_S3_BUCKET = _str("STORAGE_S3_BUCKET", "")
STORAGE_S3_PRIVATE_BUCKET = _str("STORAGE_S3_PRIVATE_BUCKET", "")
_S3_ENDPOINT_URL = _optional("STORAGE_S3_ENDPOINT_URL")
_S3_REGION = _optional("STORAGE_S3_REGION")
_S3_ACCESS_KEY_ID = _optional("STORAGE_S3_ACCESS_KEY_ID")
_S3_SECRET_ACCESS_KEY = _optional("STORAGE_S3_SECRET_ACCESS_KEY")
_S3_ADDRESSING_STYLE = _optional("STORAGE_S3_ADDRESSING_STYLE")
_S3_PUBLIC_ACL = _optional("STORAGE_S3_PUBLIC_ACL")
_S3_PUBLIC_DOMAIN = _optional("STORAGE_S3_PUBLIC_DOMAIN")
# Login throttling (django-axes, every login surface): a user name or a client address is locked
# after this many failed logins in a row, for this many minutes.
LOGIN_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = _int("LOGIN_LOCKOUT_MINUTES", 15)
# Crew day plans (crews.planning): at most this many tickets a day (late and due-soon first,
# then the nearest to the depot), the route solver's time limit, and how long a plan is
# shown again while the crew's queue has not changed.
CREW_PLAN_MAX_TICKETS = _int("CREW_PLAN_MAX_TICKETS", 40)
CREW_PLAN_SOLVER_SECONDS = _int("CREW_PLAN_SOLVER_SECONDS", 5)
CREW_PLAN_FRESH_MINUTES = _int("CREW_PLAN_FRESH_MINUTES", 30)
# ---------------------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "axes",
    "civicmap",
    "core",
    "districts",
    "reports",
    "crews",
    "events",
    "api",
    "frontend",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A NUL in a path, parameter or form field: a readable 400 before any view (core.errors).
    "core.errors.InputGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "civicmap.urls"
WSGI_APPLICATION = "civicmap.wsgi.application"
ASGI_APPLICATION = "civicmap.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.site",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Under ASGI every request runs in its own thread, so a per-thread persistent connection is
# reconnected on every request (~10 ms); psycopg's pool keeps connections across requests.
if DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 8, "timeout": 10}}
# Optional read replica: map GeoJSON, vector tiles and event search read from it
# (`core.db_router.read_alias`); the router keeps writes and migrations on the primary.
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    DATABASES["replica"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.db_router.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "core.cache.FailoverRedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX or f"cache:{DATABASES['default']['NAME']}",
    }
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "tiles": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": TILE_CACHE_URL,
        "KEY_PREFIX": f"tiles:{DATABASES['default']['NAME']}",
        "TIMEOUT": 600,
    }
    if TILE_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
MEDIA_URL = "/media/"
STORAGES = {
    # Public, metadata-free copies only; this is what /media/ serves.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "public", "base_url": MEDIA_URL},
    },
    # Originals as uploaded (with EXIF); never reachable through a public URL.
    "private": {
        "BACKEND": "core.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "private", "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# S3-compatible object storage (extra `s3`: django-storages; docs/scaling.md): public copies in
# STORAGE_S3_BUCKET (readable by a bucket policy, or STORAGE_S3_PUBLIC_ACL=public-read), originals
# in STORAGE_S3_PRIVATE_BUCKET (no public read, no URL; staff views stream them). Keys: else
# boto3's usual chain (AWS_* variables, instance role).
if STORAGE_S3_BUCKET or STORAGE_S3_PRIVATE_BUCKET:
    if not STORAGE_S3_BUCKET or STORAGE_S3_PRIVATE_BUCKET in ("", STORAGE_S3_BUCKET):
        raise ImproperlyConfigured(
            "S3 storage needs both STORAGE_S3_BUCKET (public copies) and "
            "STORAGE_S3_PRIVATE_BUCKET (originals), two different buckets."
        )
    _s3 = {
        "endpoint_url": _S3_ENDPOINT_URL,
        "region_name": _S3_REGION,
        "access_key": _S3_ACCESS_KEY_ID,
        "secret_key": _S3_SECRET_ACCESS_KEY,
        "addressing_style": _S3_ADDRESSING_STYLE,
        "file_overwrite": False,  # a re-rendered copy gets a new name, as on local disk
    }
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **_s3,
            "bucket_name": STORAGE_S3_BUCKET,
            "default_acl": _S3_PUBLIC_ACL,
            "querystring_auth": False,  # plain, cacheable URLs of public copies
            "custom_domain": _S3_PUBLIC_DOMAIN,
        },
    }
    STORAGES["private"] = {
        "BACKEND": "core.storage_s3.PrivateS3Storage",
        "OPTIONS": {**_s3, "bucket_name": STORAGE_S3_PRIVATE_BUCKET},  # no ACL: bucket default
    }
    SERVE_MEDIA = False  # nothing local to serve under /media/
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = PHOTO_MAX_BYTES * 6

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if HTTPS:
    SECURE_SSL_REDIRECT = _SECURE_SSL_REDIRECT
    SECURE_HSTS_SECONDS = _SECURE_HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE_HSTS_INCLUDE_SUBDOMAINS
    SECURE_HSTS_PRELOAD = _SECURE_HSTS_PRELOAD
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (core.middleware.ContentSecurityPolicyMiddleware): scripts and
# styles only from this site (inline blocks need the per-request nonce), images from this site,
# data: URIs and the tile server.

LOGIN_URL = "/accounts/login/"

# Login throttling: the axes backend first refuses a locked-out user name or address; then the
# usual check. Attempts are kept in the database (shared by every process, listed in the admin,
# where staff unlock them), a lock is per user name and per address, and each refused attempt
# during a lock restarts it (frontend.auth tells the client until when).
AUTHENTICATION_BACKENDS = [
    "frontend.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "frontend.auth.lockout_response"
AXES_USERNAME_CALLABLE = "frontend.auth.login_username"
AXES_HTTP_RESPONSE_CODE = 429

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # No HTTP Basic: a password on every request cannot be throttled like a login, and no
        # client needs it (crews use tokens, Open311 clients their api_key).
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"report_submit": REPORT_SUBMIT_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "civicmap API",
    "DESCRIPTION": "Civic issue reports, routed by location to the crew that serves them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Error answers, Open311 documents, map layers and tiles: see api/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess",
    ],
}

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": tuple(MAP_CENTER),
    "DEFAULT_ZOOM": 12,
    "TILES": [("OpenStreetMap", MAP_TILE_URL, {"attribution": MAP_TILE_ATTRIBUTION})],
    "ATTRIBUTION_PREFIX": "Leaflet",
}

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# Loss-free delivery: a task is acknowledged only when it is done, and given back to the broker
# when its worker process dies; a worker takes one message at a time. An unacknowledged message
# (its worker was killed) goes to another worker after the visibility timeout, a little above the
# longest task (CELERY_TASK_TIME_LIMIT). What is lost anyway (Redis restarted without its data)
# is sent again by the outbox sweep: the work is a row in PostgreSQL.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # A web process with the broker down fails fast (the sweep sends the message later).
    "socket_connect_timeout": 2,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues by kind of work, so each can get its own workers (scale-out: docs/scaling.md): photos
# (CPU-heavy, acks_late + prefetch 1 above), notifications (e-mail), imports (feeds).
CELERY_TASK_ROUTES = {
    "reports.tasks.report_photo_process_task": {"queue": "photos"},
    "events.tasks.event_feed_import_task": {"queue": "imports"},
    "events.tasks.events_refresh_feeds_task": {"queue": "imports"},
}
CELERY_BEAT_SCHEDULE = {
    "events-refresh-feeds": {
        "task": "events.tasks.events_refresh_feeds_task",
        "schedule": crontab(minute=7),
    },
    "events-archive": {
        "task": "events.tasks.events_archive_task",
        "schedule": crontab(minute=37),
    },
    "crews-escalate": {
        "task": "crews.tasks.escalation_run_task",
        "schedule": crontab(minute="*/5"),
    },
    "reports-outbox-sweep": {
        "task": "reports.tasks.outbox_sweep_task",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
    "reports-retention": {
        "task": "reports.tasks.retention_run_task",
        "schedule": crontab(minute=23, hour=3),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# GDAL 3.6 (Debian 12) cannot block file/network access in spatial references. GDAL only ever
# reads boundary files an administrator imports; no user input reaches it.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
