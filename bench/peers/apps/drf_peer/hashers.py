"""Django's argon2id hasher with Gatehouse's setting, as Django's docs say to change one."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class GatehouseArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 5
    memory_cost = 7168
    parallelism = 1
