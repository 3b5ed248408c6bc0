"""Settings for every environment, read from the process environment.

With no environment at all this is the embedded default used by ``make run``: SQLite in the
project folder and a Celery broker on the file system, so a fresh machine needs no servers.
``config.settings_production`` tightens the security settings on top of this module.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env(
    "SECRET_KEY",
    default="django-insecure-greenlight-embedded-default-never-use-in-production",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "axes",
    "releases",
    "approvals",
    "monitoring",
    "gate",
    "chat",
    "workspace",
    "subscriptions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.SignedInPagesMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "lib.htmx.live_refresh",
            ],
        },
    },
]

# Content-Security-Policy: scripts and styles come only from this site's own files. No inline
# <script>, no on…= handlers, no style attributes or <style> elements (htmx's indicator styles
# live in greenlight.css), no plugins, and no page of ours in someone else's frame.
# CSP_REPORT_ONLY=1 reports violations to the browser console without enforcing them.
CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if env.bool("CSP_REPORT_ONLY", default=False):
    SECURE_CSP_REPORT_ONLY = CONTENT_SECURITY_POLICY
else:
    SECURE_CSP = CONTENT_SECURITY_POLICY

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves the web process, a worker and beat at once: wait for the
    # write lock instead of failing with "database is locked", and take it at BEGIN.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The app's queries are many and short. PostgreSQL compiles a query to machine code once its
    # estimated cost passes jit_above_cost, and the "needs my action" queries over 10,000
    # releases do: about 230 ms of compiling for a query that then runs in 20 ms.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Signing in -----------------------------------------------------------------------------
# django-axes counts failed logins (on /login/ and /admin/login/) in the database, per username
# and client address: after AXES_FAILURE_LIMIT failures that pair is locked out for
# LOGIN_LOCKOUT_MINUTES, wrong or right password alike. A success before then resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Successful logins are not logged row by row; failures are (AccessAttempt, in the admin).
AXES_DISABLE_ACCESS_LOG = True
# Behind a load balancer the client's address is the last one it adds to X-Forwarded-For:
# LOGIN_PROXY_COUNT=1 there, 0 (REMOTE_ADDR) when clients connect directly.
AXES_IPWARE_PROXY_COUNT = env.int("LOGIN_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# A session ends after SESSION_IDLE_TIMEOUT seconds in which its person did nothing: each page
# they open or action they take renews it (config/middleware.py, at most once a minute); the
# background refreshes of an open page do not.
SESSION_ENGINE = "config.sessions"
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=8 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Email goes through Django's mailers; the console backend prints it unless EMAIL_URL points at
# an SMTP server (smtp+tls://user:password@host:587).


def mailers_from_url(url: str) -> dict:
    """Django's ``MAILERS`` from one URL: ``smtp://``/``smtp+tls://``/``smtp+ssl://`` with the
    server and credentials, or ``consolemail://``, ``filemail:///path``, ``memorymail://``,
    ``dummymail://``. Each backend is given only the options it takes: Django refuses a mailer
    configured with options it does not know."""
    if not url:
        return {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    email = env.email_url_config(url)
    backend = email["EMAIL_BACKEND"]
    options: dict = {}
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        options = {
            "host": email.get("EMAIL_HOST"),
            "port": email.get("EMAIL_PORT"),
            "username": email.get("EMAIL_HOST_USER"),
            "password": email.get("EMAIL_HOST_PASSWORD"),
            "use_tls": email.get("EMAIL_USE_TLS", False),
            "use_ssl": email.get("EMAIL_USE_SSL", False),
            "timeout": 10,
        }
    elif backend == "django.core.mail.backends.filebased.EmailBackend":
        options = {"file_path": "/" + email["EMAIL_FILE_PATH"].lstrip("/")}
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


MAILERS = mailers_from_url(env("EMAIL_URL", default=""))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="greenlight@localhost")
# Absolute address of this app, used in links inside notifications.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Slack's Web API (chat/slack.py); another address only for a stand-in.
SLACK_API_URL = env("SLACK_API_URL", default="https://slack.com/api/")

# Outbound requests (lib/outbound.py) reach only public addresses. Networks (CIDR) and host
# names listed here may be reached too: self-hosted CI or monitoring in a private network,
# e.g. OUTBOUND_ALLOWED_NETWORKS=10.20.0.0/16,jenkins.internal. The local development server
# allows its own machine, whose demo health check reads this very app; production allows
# nothing unless told (settings_production.py).
OUTBOUND_ALLOWED_NETWORKS = env.list(
    "OUTBOUND_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"] if DEBUG else []
)

# A provider that cannot be reached is tried twice more, after this many seconds and then twice
# as many: a connection that was never made cannot have had a side effect.
OUTBOUND_RETRY_DELAY = env.float("OUTBOUND_RETRY_DELAY", default=0.5)

# An open dashboard or release page asks this often (seconds) whether anything it shows changed;
# an unchanged page costs one small query and a 204.
LIVE_REFRESH_SECONDS = env.int("LIVE_REFRESH_SECONDS", default=3)

# --- Celery -------------------------------------------------------------------------------
# Without REDIS_URL the broker is kombu's file-system transport: no server to install, fine for
# trying the app (a hard-killed worker loses the message it held). Production uses Redis.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Every retry delay and task time limit stays below this (see CELERY_TASK_TIME_LIMIT).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# What a task prints (the console email backend's mails, say) is information, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Periodic work; django-celery-beat copies these into its tables. Every task is safe to run twice.
CELERY_BEAT_SCHEDULE = {
    "schedule-release-trains": {"task": "releases.tasks.schedule_trains", "schedule": 15 * 60},
    "remind-code-freeze": {"task": "releases.tasks.remind_code_freeze", "schedule": 5 * 60},
    # Notification emails whose retries all failed go out once the mail server is back.
    "send-unsent-emails": {"task": "releases.tasks.send_unsent_emails", "schedule": 15 * 60},
    # The post-release health window (monitoring.services.health): breaches whose hold time has
    # passed, and windows that are over. The entry keeps its older name so that django-celery-beat
    # updates its stored row instead of keeping one that names a task which no longer exists.
    "complete-healthy-releases": {
        "task": "monitoring.tasks.watch_health_windows",
        "schedule": env.float("HEALTH_WATCH_SECONDS", default=10.0),
    },
    # Sign-off reminders are due hours ahead; five minutes late is still on time.
    "sign-off-reminders": {"task": "approvals.tasks.send_sign_off_reminders", "schedule": 5 * 60},
    # Scopes follow their trackers; commit ranges and Jira versions that failed are tried again.
    "sync-tracker-scope": {
        "task": "monitoring.tasks.sync_tracker_scope",
        "schedule": env.float("TRACKER_SYNC_SECONDS", default=15 * 60.0),
    },
    # A Go resting on a sign-off that expired is pulled back; the deploy itself also rechecks
    # readiness, so a minute's delay here never lets a lapsed Go ship.
    "withdraw-lapsed-approvals": {
        "task": "approvals.tasks.withdraw_lapsed_approvals",
        "schedule": 60,
    },
    # Deploys waiting at the gate: blocked GitLab deployments, and the answers that the clock
    # alone changes (a freeze ends, the deploy window opens).
    "answer-deploy-gates": {"task": "gate.tasks.watch_gates", "schedule": 60},
}
# The poller's dispatcher (monitoring.services.polling): claims the checks that are due and
# enqueues one fetch per (integration, request). Its fetch tasks set their own time limits
# (120 s), below the visibility timeout.
POLL_DISPATCH_SECONDS = env.float("POLL_DISPATCH_SECONDS", default=5.0)
# How long a claimed check waits for a sign of life from the fetch that claimed it before the
# dispatcher claims it again for another worker (monitoring.services.polling.LEASE_SECONDS).
POLL_LEASE_SECONDS = env.int("POLL_LEASE_SECONDS", default=30)
# Outgoing webhook deliveries whose task was lost (a broker outage, a restart) are sent again.
CELERY_BEAT_SCHEDULE["resend-stalled-webhooks"] = {
    "task": "subscriptions.tasks.resend_stalled_webhooks",
    "schedule": 5 * 60,
}
# The feature flags of active releases, as their release pages show them.
CELERY_BEAT_SCHEDULE["read-feature-flags"] = {
    "task": "monitoring.tasks.read_active_flags",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["dispatch-due-checks"] = {
    "task": "monitoring.tasks.dispatch_due_checks",
    "schedule": POLL_DISPATCH_SECONDS,
}
# Fetches wait on providers, not on our CPU: they go to their own queue, served by a worker
# with a thread pool (`make run`, the `poller` service in docker-compose.yml). Everything else
# stays on the default queue.
POLL_QUEUE = "polling"
CELERY_TASK_ROUTES = {"monitoring.tasks.poll_group": {"queue": POLL_QUEUE}}
# On a warm shutdown, late-acknowledged tasks still running go back to the queue.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10.0

# --- Cache ---------------------------------------------------------------------------------
# Shared by every web process, so API rate limits hold across gunicorn workers: Redis when
# REDIS_URL is set, otherwise files under var/ (one machine, no server to run).
# A cache that cannot be reached is an empty cache (config/cache.py): pages render uncached and
# rate limits are skipped, each with a warning, rather than failing. The short timeouts keep a
# Redis that hangs from holding every request.
CACHE_TIMEOUTS = {
    "socket_connect_timeout": env.float("CACHE_CONNECT_TIMEOUT", default=0.5),
    "socket_timeout": env.float("CACHE_TIMEOUT", default=1.0),
}


def caches_for(redis_url: str) -> dict:
    if not redis_url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(VAR_DIR / "cache"),
            }
        }
    return {
        "default": {
            "BACKEND": "config.cache.ForgivingRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "greenlight",
            "OPTIONS": dict(CACHE_TIMEOUTS),
        }
    }


CACHES = caches_for(REDIS_URL)

# --- REST API -----------------------------------------------------------------------------
# Conventions in lib/rest/; what a bearer token is in releases/api/tokens.py.
REST_FRAMEWORK = {
    # Tokens first: a request without credentials then gets 401 with a Bearer challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "releases.api.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["lib.rest.parsers.JSONBodyParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "lib.rest.renderers.BrowsableRenderer",
    ],
    "DEFAULT_METADATA_CLASS": "lib.rest.renderers.Metadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["lib.rest.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "lib.rest.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "lib.rest.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["releases.api.tokens.TokenRateThrottle"],
    # Per token; one runaway CI loop hits its own limit, not everyone's.
    "DEFAULT_THROTTLE_RATES": {"token": env("API_TOKEN_RATE", default="600/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Greenlight API",
    "DESCRIPTION": (
        "Release coordination: projects, releases, scope, checklists, readiness, sign-offs, "
        "decisions, checks, incidents. The same services and permissions as the web pages.\n\n"
        "Authenticate with a browser session or `Authorization: Bearer <token>`: a personal "
        "token acts as its user; a project token (for CI and incident tools) reads its project, "
        "creates releases, adds scope while planning and reports check results and incidents. "
        "Anything outside your projects "
        'answers 404. Errors are `{"detail": "…"}` or field errors; a refused transition '
        "is 409 with the reason."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "lib.rest.schema.add_error_responses",
        "lib.rest.schema.allow_blank_urls",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ReleaseStatusEnum": "releases.models.Status",
        "SeverityEnum": "releases.models.Severity",
        "IncidentSourceEnum": "releases.models.IncidentSource",
        "ReportedIncidentSourceEnum": "releases.models.REPORTED_SOURCES",
        # The name the tracker sources' enum had before incidents had a source too.
        "SourceEnum": "monitoring.models.ScopeSource.Source",
        "ReleaseKindEnum": "releases.models.ReleaseKind",
        "HealthEnum": "releases.models.Health",
        "RoleEnum": "releases.models.Role",
        "SigningRoleEnum": "approvals.serializers.SIGNING_ROLE_CHOICES",
        "PhaseEnum": "releases.models.Phase",
        "OverrideByEnum": "approvals.models.OverrideBy",
        "ScopeItemKindEnum": "releases.models.ScopeItem.Kind",
        "RiskEnum": "releases.models.ScopeItem.Risk",
        "ScopeItemStateEnum": "releases.models.ScopeItem.State",
        "ChangeRequestActionEnum": "releases.models.ScopeChangeRequest.Action",
        "ChangeRequestStateEnum": "releases.models.ScopeChangeRequest.State",
        "RecurrenceEnum": "releases.models.FreezeWindow.Recurrence",
        "WeekdayEnum": "releases.models.FreezeWindow.Weekday",
        "GoNoGoEnum": "approvals.models.SignOff.Decision",
        "CheckStatusEnum": "monitoring.models.CheckStatus",
        "CheckPhaseEnum": "monitoring.models.CheckPhase",
        "ComparatorEnum": "monitoring.models.Comparator",
        "IntegrationKindEnum": "monitoring.models.IntegrationKind",
        "WebhookEventEnum": "subscriptions.models.Event",
        "WebhookDeliveryStateEnum": "subscriptions.models.Delivery.State",
    },
}

# --- Secrets at rest ----------------------------------------------------------------------
# Comma-separated Fernet keys, newest first; rotation prepends a key (see rotate_secrets).
FERNET_KEYS = env.list(
    "FERNET_KEYS",
    default=["ZGV2LW9ubHkta2V5LWdyZWVubGlnaHQtMzJieXRlcyE="],
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
