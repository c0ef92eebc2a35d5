"""What the tests share: real server processes, sign-in helpers, an authenticator app, the mail
outbox. Test modules import from here, never from one another nor from ``bench/``."""
