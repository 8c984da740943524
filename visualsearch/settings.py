"""The one settings module. Everything configurable comes from the environment.

Every variable is listed, with its default, in the README's configuration table. A bad value stops
start-up with a message that names the variable.

Importing this module has no side effects: it starts no process, opens no connection and creates
no file. ``EMBEDDED_POSTGRES`` and ``LOCAL_REDIS`` tell the entry points what to start
(``visualsearch.infra.services_ensure``).
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from visualsearch import infra

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be >= {minimum}")
    return value


def env_float(name: str, default: float, *, low: float | None = None, high: float | None = None):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ImproperlyConfigured(f"{name}={value} must be within [{low}, {high}]")
    return value


def env_decimal(name: str, default: str, *, minimum: Decimal | None = None) -> Decimal:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return Decimal(default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a decimal number") from None
    if not value.is_finite():
        raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be >= {minimum}")
    return value


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var")
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when REQUIRE_SECRET_KEY=1")
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = [
    h.strip()
    for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "storages",
    "catalog",
    "visualsearch",
    "dedupe",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "visualsearch.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "visualsearch.urls"
WSGI_APPLICATION = "visualsearch.wsgi.application"
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
                "catalog.context_processors.navigation",
            ]
        },
    }
]

# ----------------------------------------------------------------------------- HTTPS & headers
# HTTPS=1: the site is served over TLS (directly or behind a proxy that sets X-Forwarded-Proto):
# Secure cookies, HSTS for a year, HTTP redirected to HTTPS.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data: blob:{' https:' if env_str('AWS_STORAGE_BUCKET_NAME') else ''}; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)
PERMISSIONS_POLICY = env_str(
    "PERMISSIONS_POLICY",
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
)

# ----------------------------------------------------------------------------- database
DATABASE_URL = env_str("DATABASE_URL")
# No DATABASE_URL: the embedded PostgreSQL in VAR_DIR/pg, which the entry points start (and whose
# database they create); its unix socket dir is read from postmaster.pid, or guessed.
EMBEDDED_POSTGRES = not DATABASE_URL
if DATABASE_URL:
    import dj_database_url

    # Connections stay open between requests and jobs; each is checked before its first use, so
    # one that a database restart broke is replaced instead of failing that request or job.
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
else:
    _db = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env_str("DATABASE_NAME", "marketplace"),
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(infra.embedded_postgres_socket_dir(VAR_DIR / "pg")),
        "PORT": "",
    }
# The entry points check the server's `vector` extension (>= 0.8) unless this is set.
SKIP_PGVECTOR_CHECK = env_bool("SKIP_PGVECTOR_CHECK", False)
_db.setdefault("TEST", {})
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ----------------------------------------------------------------------------- queue
_local_redis_url = infra.local_redis_socket_url(VAR_DIR / "redis")
DRAMATIQ_BROKER_URL = env_str("DRAMATIQ_BROKER_URL") or _local_redis_url
DRAMATIQ_NAMESPACE = env_str("DRAMATIQ_NAMESPACE", "dramatiq")
DRAMATIQ_BROKER = {
    "BROKER": (
        "dramatiq.brokers.rabbitmq.RabbitmqBroker"
        if DRAMATIQ_BROKER_URL.startswith("amqp")
        else "dramatiq.brokers.redis.RedisBroker"
    ),
    "OPTIONS": {"url": DRAMATIQ_BROKER_URL}
    | ({} if DRAMATIQ_BROKER_URL.startswith("amqp") else {"namespace": DRAMATIQ_NAMESPACE}),
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
JOB_MAX_RETRIES = env_int("JOB_MAX_RETRIES", 3, minimum=0)

# ----------------------------------------------------------------------------- cache
# Throttles and the log-in limit count in this cache, so it must be shared by every process:
# the local Redis (its database 1: clearing the cache never touches the queues), a redis:// broker
# as it is, or CACHE_URL.
if DRAMATIQ_BROKER_URL.startswith(("redis://", "rediss://")):
    _cache_default = DRAMATIQ_BROKER_URL
else:
    _cache_default = _local_redis_url + "?db=1"
CACHE_URL = env_str("CACHE_URL", _cache_default)
# The queue or the cache uses the local Redis in VAR_DIR/redis, which the entry points start.
LOCAL_REDIS = _local_redis_url in (DRAMATIQ_BROKER_URL, CACHE_URL.partition("?")[0])
CACHES = {
    "default": {
        "BACKEND": "visualsearch.cache.ResilientRedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", DRAMATIQ_NAMESPACE),
    }
}

# ----------------------------------------------------------------------------- media & static
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # collectstatic fills it; services_ensure creates it if missing
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
    AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", True)
    AWS_S3_FILE_OVERWRITE = False
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# ----------------------------------------------------------------------------- uploads
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000, minimum=64)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES
DEMO_PRICE_CURRENCY = "EUR"

# ----------------------------------------------------------------------------- search
EMBED_THREADS = env_int("EMBED_THREADS", 0, minimum=0)  # 0 → torch default
EMBED_BATCH_SIZE = env_int("EMBED_BATCH_SIZE", 32, minimum=1)
# m=24, ef_construction=128, ef_search=200: chosen for recall@10 ≥ 0.98 at 1M vectors on held-out
# queries (docs/benchmarks.md, search_bench); an existing space keeps the index it was built with.
HNSW_M = env_int("HNSW_M", 24, minimum=2)
HNSW_EF_CONSTRUCTION = env_int("HNSW_EF_CONSTRUCTION", 128, minimum=4)
HNSW_EF_SEARCH = env_int("HNSW_EF_SEARCH", 200, minimum=1)
# pgvector's iterative scans stop after this many index tuples (its default is 20,000: about what
# SEARCH_CANDIDATES=200 need at 1% selectivity, so a more selective filter would be cut short);
# set per query with SET LOCAL.
HNSW_MAX_SCAN_TUPLES = env_int("HNSW_MAX_SCAN_TUPLES", 100_000, minimum=1)
SEARCH_CANDIDATES = env_int("SEARCH_CANDIDATES", 200, minimum=10)
# A filtered search whose filters leave at most this many vector rows (planner estimate) sorts
# those rows exactly instead of walking the HNSW index (visualsearch.search.NearestQuery); 0
# always walks the index.
SEARCH_EXACT_MAX_ROWS = env_int("SEARCH_EXACT_MAX_ROWS", 20_000, minimum=0)
MODELS_DIR = env_path("MODELS_DIR", VAR_DIR / "models")
# Zero-shot attributes under this confidence count as unknown (not shown, faceted or matched).
ATTRIBUTE_MIN_CONFIDENCE = env_float("ATTRIBUTE_MIN_CONFIDENCE", 0.5, low=0.0, high=1.0)
# Hybrid text search weights (visualsearch.fusion); defaults are fusion.DEFAULT_WEIGHTS. The
# keyword weight (0.6) was chosen on validation through the search service
# (visualsearch/lab/fusion_sweep.py; docs/benchmarks.md, "The keyword weight of hybrid text search").
FUSION_IMAGE_WEIGHT = env_float("FUSION_IMAGE_WEIGHT", 0.5, low=0.0)
FUSION_TITLE_WEIGHT = env_float("FUSION_TITLE_WEIGHT", 0.3, low=0.0)
FUSION_KEYWORD_WEIGHT = env_float("FUSION_KEYWORD_WEIGHT", 0.6, low=0.0)
FUSION_KEYWORD_K = env_float("FUSION_KEYWORD_K", 1.0, low=1e-6)
# Full-text search also tries each query word's other compound spellings ("tshirts" finds
# "T-Shirt", "hand bag" finds "Handbag"; catalog.keywords); false matches words as typed only.
SEARCH_KEYWORD_SPELLINGS = env_bool("SEARCH_KEYWORD_SPELLINGS", True)
# A query word no listing's title or category uses is replaced by the nearest catalog word
# within Elasticsearch's AUTO edit distance ("jeasn" → "jeans"; catalog.spelling), and the answer
# says what was searched; false searches the words as typed. The catalog's words are re-read
# from the database at most this often (seconds).
SEARCH_SPELLING = env_bool("SEARCH_SPELLING", True)
SEARCH_SPELLING_LEXICON_SECONDS = env_float("SEARCH_SPELLING_LEXICON_SECONDS", 300.0, low=0.0)
# A rare English word is corrected to a catalog word one edit away that is this many times as
# common in English ("blu" → "blue"); 0 leaves every English word as typed. Chosen on validation
# (docs/benchmarks.md, "Spelling correction").
SEARCH_SPELLING_ENGLISH_RATIO = env_float("SEARCH_SPELLING_ENGLISH_RATIO", 50.0, low=0.0)
# Hybrid text search's facet term: this weight times P(the colour the query names) · P(the item
# type it names) of each candidate, from the space's heads reading its photo and its title
# (visualsearch.search.facet_term); a ranking term only. 0.1 was chosen on validation
# (docs/benchmarks.md, "The facet term of hybrid text search"); 0 turns it off.
FUSION_FACET_WEIGHT = env_float("FUSION_FACET_WEIGHT", 0.1, low=0.0)
# The category vote (visualsearch.search.category_vote) for photo queries: the weight of the
# share of a query's top 10 results in each candidate's catalog category. 1.0 was chosen on
# validation (visualsearch/lab/fusion_sweep.py photo; docs/benchmarks.md, "The category vote").
SEARCH_CATEGORY_VOTE_WEIGHT = env_float("SEARCH_CATEGORY_VOTE_WEIGHT", 1.0, low=0.0)
# How many of the top results vote (leave-one-out; copies of the query photo do not vote), and
# whether a voter's vote is discounted by its rank (1/log2(rank + 1)); 10 and on were chosen on
# validation (docs/benchmarks.md, "The category vote").
SEARCH_CATEGORY_VOTE_TOP = env_int("SEARCH_CATEGORY_VOTE_TOP", 10, minimum=1)
SEARCH_CATEGORY_VOTE_DISCOUNT = env_bool("SEARCH_CATEGORY_VOTE_DISCOUNT", True)
# Photo queries' type re-rank reads each candidate's item type from its photo and, where the
# space's type head has title evidence, the type its title names (docs/benchmarks.md, "Title
# evidence"); the relevance and the floor still read the photo alone.
SEARCH_TYPE_RERANK_TITLES = env_bool("SEARCH_TYPE_RERANK_TITLES", True)
# A photo query that is not a studio shot (its border is not light and colourless) is searched
# by its subject: the crop the space finds most like its training photos (visualsearch.subject).
# On: chosen on validation with simulated shopper photos (docs/benchmarks.md, "Shopper photos").
SEARCH_SUBJECT_CROP = env_bool("SEARCH_SUBJECT_CROP", True)
# ... and the product in that crop is cut out onto white (OpenCV's GrabCut) when the space finds
# the cutout more like its training photos than the crop (visualsearch.subject.cutout). On:
# chosen on validation (docs/benchmarks.md, "Shopper photos: the product cut out").
SEARCH_SUBJECT_CUTOUT = env_bool("SEARCH_SUBJECT_CUTOUT", True)
# A photo searched by its subject (a crop or a cutout: a shopper's photo) gets the relevance
# calibration and floor fitted on such queries (the heads' "subject", ``manage.py subject_fit``),
# where the space has one: their cosines run lower than a catalog shot's, and the photo floor
# told one in ten of them "no good match" (docs/benchmarks.md, "Shopper photos: a floor of
# their own"). A subject outside the training domain keeps the raw channel's floor.
SEARCH_SUBJECT_RELEVANCE = env_bool("SEARCH_SUBJECT_RELEVANCE", True)

# ----------------------------------------------------------------------------- dedupe
DEDUPE_NEIGHBOURS = env_int("DEDUPE_NEIGHBOURS", 10, minimum=1)
DEDUPE_REVIEW_THRESHOLD = env_float("DEDUPE_REVIEW_THRESHOLD", 0.5, low=0.0, high=1.0)
DEDUPE_AUTOHIDE_THRESHOLD = env_float("DEDUPE_AUTOHIDE_THRESHOLD", 0.0, low=0.0, high=1.0)
DEDUPE_MIN_PRICE_CHANGE = env_decimal("DEDUPE_MIN_PRICE_CHANGE", "0.05", minimum=Decimal(0))
DEDUPE_SCAN_ON_EMBED = env_bool("DEDUPE_SCAN_ON_EMBED", True)
DEDUPE_SCAN_BATCH = env_int("DEDUPE_SCAN_BATCH", 50, minimum=1)
# Seconds during which a moderator's decision can be undone (0 = never).
DEDUPE_UNDO_SECONDS = env_int("DEDUPE_UNDO_SECONDS", 900, minimum=0)

# ----------------------------------------------------------------------------- auth & API
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    # The schema reads who may call each operation and which errors it answers from the views.
    "DEFAULT_SCHEMA_CLASS": "catalog.api_schema.AutoSchema",
    # Token first: a request without credentials where they are needed gets 401 with
    # "WWW-Authenticate: Token", not a bare 403 (the first class names the challenge).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # DRF's JSON parser with a nesting limit (catalog.parsers): deep nesting is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "catalog.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    # One error shape everywhere: {"errors": {field: [messages]}} (catalog.api_errors).
    "EXCEPTION_HANDLER": "catalog.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "search": env_str("THROTTLE_SEARCH", "120/min"),
        "upload": env_str("THROTTLE_UPLOAD", "60/min"),
        "login": env_str("THROTTLE_LOGIN", "20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Marketplace visual search API",
    "DESCRIPTION": "Products, visual and text search, and duplicate moderation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files are served from the package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
