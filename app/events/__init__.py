"""Account events sent to webhooks, as the Standard Webhooks specification describes them.

One place for events: the audit trail is the outbox. Every audit-worthy change already writes
its audit event in the transaction that makes it (``app.audit``), so a change that rolls back
has no event and one that commits always has one. The worker reads the trail in order
(``dispatch``), turns each event whose action has a webhook type (``catalog``) into an attempt
for every endpoint subscribed to that type, and sends them (``delivery``): signed (``signing``),
to the address it checked (``destination``), retried on the specification's schedule.
Endpoints are managed by holders of ``webhooks:manage`` (``endpoints``).
"""
