"""What every example's command line shares: ``--quick``.

``--quick`` runs an example in seconds instead of minutes (small data and model, few
epochs): the size at which ``tests/course/test_examples.py`` runs each script. Explicit options
still win over it (``--quick --epochs 5``).
"""

import argparse
import sys


def parse_args(parser: argparse.ArgumentParser, **quick) -> argparse.Namespace:
    """``parser``'s arguments with ``--quick`` added, which makes ``quick`` (option name ->
    value) the defaults."""
    parser.add_argument(
        "--quick", action="store_true", help="seconds instead of minutes: small data and model, few epochs"
    )
    if "--quick" in sys.argv[1:]:
        parser.set_defaults(**quick)
    return parser.parse_args()
