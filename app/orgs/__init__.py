"""Organizations: tenants with members, invitations and roles of their own.

- ``organizations``: made by a signed-in user (its first owner), listed, renamed, deleted;
- ``members``: who belongs, with which roles; an organization always keeps an owner;
- ``invitations``: single-use links to join, for a confirmed e-mail address;
- ``roles``: the roles an organization makes for itself, from organization-level permissions.

Who may do what in an organization is ``app.access.org_permissions``.
"""
