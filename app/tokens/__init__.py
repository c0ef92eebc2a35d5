"""Every token Gatehouse issues or reads, in one place: what each looks like, how it is minted
and how it is read. Views never build token bodies; they ask the services in ``app.auth``,
which ask here.

- access (``access``, ``keys``): a JWT signed with a published asymmetric key (EdDSA or ES256,
  named by ``kid``) with ``iss``, ``aud``, ``sub``, ``id``, ``rls``, ``sid``, ``gen``, ``jti``,
  ``iat``, ``exp``; it lasts ``JWT_ACCESS_LIFESPAN``, never past its session.
- refresh (``opaque``; their sessions in ``app.access.sessions``): 256 random bits of which only
  the digest is kept; one live per session.
- tickets (``tickets``): the second step of a sign-in (``mfa_token``) and an MFA enrolment;
  opaque, single use, kept in PostgreSQL with what the step needs, for minutes.
- e-mailed (``emailed``): registration, password reset, new address; flask-praetorian's JWTs
  (HS256 with ``SECRET_KEY``) carrying the user's token version ``tv``.

How they travel (the ``Authorization`` header, the login-shaped answer, browser mode's cookie)
is ``transport``; the claims are named in ``claims``.

This package module imports nothing: the models read ``claims`` while the app is still being
imported.
"""
