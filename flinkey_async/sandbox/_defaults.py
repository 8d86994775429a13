"""The sandbox's default fleet, one pair of numbers for every way of starting it.

``Sandbox()``, ``flinkey-async sandbox``, ``python -m flinkey_async.sandbox`` and the embedded
sandbox of ``flinkey-async sync`` all serve this fleet unless asked otherwise, so that an id seen
in one of them means the same car in the others. No imports: the command line reads these
before it loads anything else.
"""

from typing import Final

DEFAULT_CARS: Final = 1_000
"""Cars per customer (products, services, groups and users follow from it)."""

DEFAULT_SEED: Final = 7
"""The seed of the generated fleet: the same seed, the same fleet."""

DEFAULT_CUSTOMERS: Final = 2
"""Customers of the API Manager, each with its own fleet."""
