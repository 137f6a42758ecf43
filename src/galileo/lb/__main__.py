"""``python -m galileo.lb <options JSON>``: an extra process of ``galileo lb serve``."""

import sys

from galileo.errors import GalileoError

if __name__ == "__main__":
    from galileo.lb.server import child_main

    try:
        child_main(sys.argv[1:])
    except GalileoError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
