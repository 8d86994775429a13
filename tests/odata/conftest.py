"""Hypothesis profiles for the OData property tests.

``HYPOTHESIS_PROFILE`` picks the example counts: ``dev`` (the default, quick) or ``ci`` (what
``.ci/run`` exports: at least 10,000 strings for the escaping property). The profiles are
registered under ``odata-dev`` / ``odata-ci`` and applied per test, so loading them never
changes the settings of other test packages in the same session.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

PROFILE: Final = "ci" if os.environ.get("HYPOTHESIS_PROFILE", "dev") == "ci" else "dev"

# Examples per property: (a) print/parse round trip (and the same through an encoded URL),
# (b) evaluation after the round trip, of conditions ("evaluation") and of whole queries with
# $orderby/$skip/$top ("queries"), (c) any string as a literal keeps the tree's shape through
# encoding, (d) any text given to a parser gives a tree or the package's own error ("garbage").
EXAMPLES: Final = {
    "dev": {
        "roundtrip": 200,
        "url": 100,
        "evaluation": 200,
        "queries": 100,
        "strings": 200,
        "garbage": 300,
    },
    "ci": {
        "roundtrip": 1_000,
        "url": 500,
        "evaluation": 1_000,
        "queries": 1_000,
        "strings": 10_000,
        "garbage": 3_000,
    },
}

for _name, _counts in EXAMPLES.items():
    settings.register_profile(
        f"odata-{_name}",
        deadline=None,
        max_examples=max(_counts.values()),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


def profile(kind: str) -> settings:
    """Settings for one property test under the selected profile."""
    return settings(settings.get_profile(f"odata-{PROFILE}"), max_examples=EXAMPLES[PROFILE][kind])
