"""Rankwise settings, read from the environment (12-factor).

Profiles: ``RANKWISE_PROFILE=production`` (the default) turns on HTTPS-only cookies,
HSTS and the SSL redirect, so ``manage.py check --deploy`` is clean; ``local`` (set by
``make run`` / ``make test``) serves plain http on 127.0.0.1 for a laptop.

Databases: ``DATABASE_URL`` (``postgres://...`` for production) or, when unset, an
embedded SQLite file in ``RANKWISE_DATA_DIR``. Broker: ``REDIS_URL``, or when unset a
filesystem broker in ``RANKWISE_DATA_DIR`` that needs no server.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent  # the repository root


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


PROFILE = os.environ.get("RANKWISE_PROFILE", "production").strip().lower()
if PROFILE not in {"production", "local"}:
    raise RuntimeError("RANKWISE_PROFILE must be 'production' or 'local'")
PRODUCTION = PROFILE == "production"

DATA_DIR = Path(os.environ.get("RANKWISE_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(64))
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "rankwise",
    "annotation",
    "training",
    "judges",
]

MIDDLEWARE = [
    # First: it sees every other layer's answer, and turns "database down" into a 503.
    "rankwise.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rankwise.urls"
WSGI_APPLICATION = "rankwise.wsgi.application"
ASGI_APPLICATION = "rankwise.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "rankwise.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers. WAL lets readers run beside the writer; IMMEDIATE makes a
    # transaction take the write lock at BEGIN, so two writers queue on the busy timeout
    # instead of failing with "database is locked" half-way through.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-rankwise.sqlite3")}
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # django-axes first: it counts failed logins and locks out (login throttling).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = int(os.environ.get("RANKWISE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("RANKWISE_LOGIN_COOLOFF_MINUTES", "15")))
# Lock the (username, IP) pair: one attacker cannot lock every user out from one address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("RANKWISE_LOGIN_THROTTLING", True)
AXES_VERBOSE = False
# JSON with Retry-After under /api/, the lockout page (registration/lockout.html, saying how
# long the lock lasts) elsewhere.
AXES_LOCKOUT_CALLABLE = "rankwise.http_errors.lockout_response"

# API tokens: django-rest-knox keeps only a SHA-512 digest of each token.
REST_KNOX = {
    "TOKEN_TTL": (
        timedelta(days=int(os.environ["RANKWISE_TOKEN_TTL_DAYS"]))
        if os.environ.get("RANKWISE_TOKEN_TTL_DAYS")
        else None
    ),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rankwise.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rankwise.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rankwise.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "rankwise.schema.AutoSchema",
    "EXCEPTION_HANDLER": "rankwise.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Scoring, "watch it learn" and generation run a model in a web thread: per user.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "score": os.environ.get("RANKWISE_SCORE_RATE", "60/min"),
    "feedback": os.environ.get("RANKWISE_FEEDBACK_RATE", "60/min"),
    "generate": os.environ.get("RANKWISE_GENERATE_RATE", "30/min"),
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )
SPECTACULAR_SETTINGS = {
    "TITLE": "Rankwise API",
    "DESCRIPTION": "Collect human preference rankings for RLHF; export them for TRL and "
    "Hugging Face datasets; train reward models and DPO policies.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
    # One named enum per choice set that several serializers share.
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "annotation.models.Membership.Role",
        "MembershipStatusEnum": "annotation.models.Membership.Status",
    },
}

# --- Imports --------------------------------------------------------------------------
# An import is read whole and written in one transaction; these bound what one request may
# ask of the server. Bigger data sets: split the file or raise the limits.
IMPORT_MAX_BYTES = int(os.environ.get("RANKWISE_IMPORT_MAX_BYTES", str(512 * 1024 * 1024)))
IMPORT_MAX_LINES = int(os.environ.get("RANKWISE_IMPORT_MAX_LINES", "1000000"))
# One line is one item: a line this long is refused while it streams, never held whole.
IMPORT_MAX_LINE_BYTES = int(os.environ.get("RANKWISE_IMPORT_MAX_LINE_BYTES", str(8 * 1024**2)))
IMPORT_MAX_ERRORS = 1000  # bad lines listed in one 400 answer; the count is always exact
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("RANKWISE_MAX_REQUEST_BYTES", str(10 * 1024**2)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "visibility_timeout": 6 * 3600,
        # A request that enqueues work must not hang on a broker that is gone; the socket
        # timeout stays above kombu's 1 s BRPOP so that idle workers are not cut off.
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
    }
else:
    # The embedded default: a broker in plain files, shared by the web, worker and beat
    # processes of one machine. No server to run.
    for sub in ("out", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcasts (pidbox); kombu's default is a folder in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True  # tasks record their outcome in model rows
# One quick retry, then enqueue_on_commit gives up and the row stays queued (it is the
# record of the work), instead of holding the request through Celery's default ~2 s policy.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2,
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"training.*": {"queue": "training"}, "judges.*": {"queue": "judges"}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat's standing schedule; per-project schedules are rows of django-celery-beat.
CELERY_BEAT_SCHEDULE = {
    "reclaim-expired-leases": {
        "task": "annotation.reclaim_expired_leases",
        "schedule": 60.0,
    },
    "worker-heartbeat": {"task": "rankwise.heartbeat", "schedule": 20.0},
    "maybe-train-reward-models": {"task": "training.maybe_train_reward_models", "schedule": 60.0},
    "maybe-train-policies": {"task": "training.maybe_train_policies", "schedule": 60.0},
    # The active policy writes responses for imported prompts (projects with policy.propose).
    "propose-candidates": {"task": "training.propose_all_candidates", "schedule": 60.0},
    # On the default queue: lost training runs must be found while training workers are down.
    "recover-training-runs": {"task": "training.recover_runs", "schedule": 60.0,
                              "options": {"queue": "celery"}},
    # Judge runs silent past JUDGE_RUN_SILENT_MINUTES (judges.recovery) are requeued or failed.
    "recover-judge-runs": {"task": "judges.recover_runs", "schedule": 60.0,
                           "options": {"queue": "celery"}},
    "recover-import-jobs": {"task": "annotation.recover_import_jobs", "schedule": 60.0},
    "recover-snapshots": {"task": "annotation.recover_snapshots", "schedule": 60.0},
    # Consensus and trust of every project whose labels or reviews changed (debounced).
    "recompute-changed-quality": {"task": "annotation.recompute_changed_quality",
                                  "schedule": 30.0},
    # Webhook retries whose backoff has passed (the rows are the schedule: no ETA tasks).
    "resend-webhook-deliveries": {"task": "annotation.resend_webhook_deliveries",
                                  "schedule": 10.0},
}
WORKER_HEARTBEAT_MAX_AGE = 90  # seconds; /healthz calls the worker down past this
# Each worker process writes its heartbeat row this often; a process silent for
# WORKER_LOST_AFTER is lost, and the sweeps fail or requeue what it held (rankwise.workers).
WORKER_HEARTBEAT_INTERVAL = float(os.environ.get("RANKWISE_WORKER_HEARTBEAT_SECONDS", "15"))
WORKER_LOST_AFTER = 120  # seconds
RESEND_AFTER = 60  # seconds: a queued row no worker started by then is sent again
# Webhooks (annotation/webhooks): each attempt has one deadline; a failed one is retried
# after WEBHOOK_RETRY_SECONDS × 2^(attempts-1), at most WEBHOOK_RETRY_MAX_SECONDS, until
# WEBHOOK_MAX_ATTEMPTS. Private, loopback and link-local destinations (this machine, the
# cloud metadata address, the database's network) are refused unless allowed: allowed in
# the local profile, refused by default in production (server-side request forgery).
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("RANKWISE_WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("RANKWISE_WEBHOOK_MAX_ATTEMPTS", "6"))
WEBHOOK_RETRY_SECONDS = 10.0
WEBHOOK_RETRY_MAX_SECONDS = 3600.0
WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("RANKWISE_WEBHOOK_ALLOW_PRIVATE_HOSTS", not PRODUCTION)

# --- Cache ----------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            # Redis down is a cache miss, not a failed request (rankwise/cache.py).
            "BACKEND": "rankwise.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Static files, i18n ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without collectstatic
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "rankwise.sessions"
CSRF_FAILURE_VIEW = "rankwise.http_errors.csrf_failure"
CSRF_COOKIE_HTTPONLY = False  # the UI's fetch() reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("RANKWISE_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("RANKWISE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("RANKWISE_HSTS_SECONDS", "31536000" if PRODUCTION else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http

# --- Rankwise -------------------------------------------------------------------------
RANKWISE_DEFAULT_LEASE_SECONDS = 30 * 60
ARTIFACTS_DIR = DATA_DIR / "artifacts"
# Export snapshots, one folder per snapshot (annotation.exports.snapshots).
SNAPSHOTS_DIR = DATA_DIR / "snapshots"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
