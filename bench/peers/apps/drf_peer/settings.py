"""startproject's settings, with DRF and simplejwt as their docs add them: JWTAuthentication as
the default authentication class, IsAuthenticated as the default permission, simplejwt's
``token_blacklist`` app installed. PEER_ALGORITHM picks HS256 (simplejwt's default, signed with
SECRET_KEY) or EdDSA (SIGNING_KEY and VERIFYING_KEY, PEM).

The database keeps its connections (CONN_MAX_AGE=600), not Django's default of a new connection
per request. The password hash is Gatehouse's argon2id (7 MiB x 5 x 1) through a subclass of
Django's Argon2PasswordHasher, or with PEER_HASH=default Django's own (PBKDF2-SHA256)."""

import os

SECRET_KEY = os.environ["PEER_SECRET"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "drf_peer.urls"

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
    },
]

WSGI_APPLICATION = "drf_peer.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["PEER_DB_NAME"],
        "USER": os.environ["PEER_DB_USER"],
        "HOST": os.environ["PEER_DB_HOST"],
        "CONN_MAX_AGE": 600,
    }
}

AUTH_PASSWORD_VALIDATORS = []

if os.environ.get("PEER_HASH") != "default":
    PASSWORD_HASHERS = ["drf_peer.hashers.GatehouseArgon2PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticated",),
}

if os.environ.get("PEER_ALGORITHM", "HS256") == "EdDSA":
    SIMPLE_JWT = {
        "ALGORITHM": "EdDSA",
        "SIGNING_KEY": os.environ["PEER_PRIVATE_KEY"],
        "VERIFYING_KEY": os.environ["PEER_PUBLIC_KEY"],
    }
