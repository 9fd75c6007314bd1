"""The App Service managed identity protocol (api-version 2019-08-01) as azure-identity/MSAL speak it.

Request: ``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<uri>[&client_id=<id>]`` with header
``X-IDENTITY-HEADER: {IDENTITY_HEADER}``. Success: 200 with ``access_token``, ``expires_on`` (epoch
seconds as a string), ``resource``, ``token_type`` and ``client_id``. Errors: App Service's
``{"statusCode", "message", "correlationId"}`` shape, with AAD's ``error``/``error_description`` added
so either parser finds a reason (MSAL reads statusCode/message, azure-core reads error_description).
"""

from __future__ import annotations

import json
import uuid
from enum import Enum
from http import HTTPStatus

TOKEN_PATH = "/msi/token"  # noqa: S105 - a path, not a secret
API_VERSION = "2019-08-01"
IDENTITY_HEADER_NAME = "X-IDENTITY-HEADER"

PARAM_API_VERSION = "api-version"
PARAM_RESOURCE = "resource"
PARAM_CLIENT_ID = "client_id"
# User-assigned selectors this stand-in does not know (App Service accepts them; we answer 400).
UNSUPPORTED_ID_PARAMS = ("object_id", "mi_res_id", "principal_id")

TOKEN_TYPE = "Bearer"  # noqa: S105 - a scheme, not a secret
DEFAULT_SCOPE_SUFFIX = "/.default"

# Control routes (devstack extension, not part of the real protocol).
CONTROL_FAULTS_PATH = "/devstack/faults"
CONTROL_RESET_PATH = "/devstack/reset"
CONTROL_COUNTERS_PATH = "/devstack/counters"
CONTROL_TOKENS_PATH = "/devstack/tokens"
CONTROL_CONFIG_PATH = "/devstack/config"

# The real endpoint's intermittent failure, spelling included.
UNEXPECTED_AAD_ERROR = "An unexpected error occured while fetching the AAD Token."


class ErrorCode(str, Enum):
    """AAD-style error codes put in the ``error`` field."""

    INVALID_REQUEST = "invalid_request"
    INVALID_RESOURCE = "invalid_resource"
    INVALID_IDENTITY = "invalid_identity"
    UNAUTHORIZED = "unauthorized_client"
    SERVER_ERROR = "server_error"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"


def error_body(status: HTTPStatus, code: ErrorCode, message: str) -> bytes:
    """An App Service-shaped error with AAD-style fields."""
    correlation_id = str(uuid.uuid4())
    return json.dumps(
        {
            "statusCode": int(status),
            "message": message,
            "correlationId": correlation_id,
            "error": code.value,
            "error_description": message,
        }
    ).encode()


def normalise_resource(resource: str) -> str:
    """``https://x/.default`` and ``https://x/`` both mean the resource ``https://x``."""
    if resource.endswith(DEFAULT_SCOPE_SUFFIX):
        resource = resource[: -len(DEFAULT_SCOPE_SUFFIX)]
    return resource.rstrip("/")
