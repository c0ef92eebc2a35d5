"""Passkeys as their owner sees them, and the WebAuthn options and answers that pass between the
browser and the server, in the W3C's JSON forms (``PublicKeyCredential.toJSON``, and
``parseCreationOptionsFromJSON`` and ``parseRequestOptionsFromJSON``)."""

from marshmallow import Schema, fields, validate

from app.schemas.base import RequestSchema
from app.schemas.common import PaginationArgsSchema, UtcDateTime, page_schema
from app.schemas.fields import NOT_BLANK


def credential_field(**kwargs) -> fields.Dict:
    """The browser's answer to a ceremony, ``PublicKeyCredential.toJSON()``."""
    return fields.Dict(
        keys=fields.String(),
        load_only=True,
        metadata={
            "description": "The browser's PublicKeyCredential as JSON (credential.toJSON()): "
            "id, rawId, type and response, binary fields in base64url."
        },
        **kwargs,
    )


class PasskeySchema(Schema):
    """A passkey of yours (its public key stays on the server, its private key on your
    authenticator)."""

    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    last_used_at = UtcDateTime(dump_only=True, allow_none=True)


PasskeyPageSchema = page_schema(PasskeySchema)


class PasskeyListArgsSchema(PaginationArgsSchema):
    """Pages of passkeys, the oldest first."""


class PasskeyCreateSchema(RequestSchema):
    """The browser's answer to the registration options, and a name to know the passkey by."""

    name = fields.String(validate=[validate.Length(min=1, max=100), NOT_BLANK])
    credential = credential_field(required=True)


class PasskeyLoginSchema(RequestSchema):
    """The browser's answer to the sign-in options."""

    credential = credential_field(required=True)


def _raw(description: str) -> fields.Raw:
    return fields.Raw(metadata={"description": description})


class CreationOptionsSchema(Schema):
    """PublicKeyCredentialCreationOptions (JSON): for navigator.credentials.create, after
    PublicKeyCredential.parseCreationOptionsFromJSON. The challenge works once, for 5 minutes."""

    rp = _raw("The relying party: WEBAUTHN_RP_ID and its name.")
    user = _raw("id (a random user handle, base64url), name and displayName.")
    challenge = fields.String(metadata={"description": "base64url; single use, 5 minutes."})
    pubKeyCredParams = _raw("The signature algorithms accepted (EdDSA, ES256, RS256).")
    timeout = fields.Integer()
    excludeCredentials = _raw("Your passkeys already registered.")
    authenticatorSelection = _raw("A discoverable credential, with user verification.")
    attestation = fields.String()
    hints = _raw("Hints for the browser.")


class RequestOptionsSchema(Schema):
    """PublicKeyCredentialRequestOptions (JSON): for navigator.credentials.get, after
    PublicKeyCredential.parseRequestOptionsFromJSON. No credentials are listed: the
    authenticator offers the passkeys it holds for this site. The challenge works once."""

    challenge = fields.String(metadata={"description": "base64url; single use, 5 minutes."})
    timeout = fields.Integer()
    rpId = fields.String()
    allowCredentials = _raw("Empty: any passkey of this site.")
    userVerification = fields.String()
