"""``python -m galileo.lb <options JSON>``: an extra process of ``galileo lb serve``."""

import sys

from galileo.errors import GalileoError

if __name__ == "__main__":
    try:
        from galileo.lb.native import activate
        from galileo.settings import load_settings

        settings = load_settings()
        activate(settings.lb_native, settings.data_dir)  # before the server imports the proxy
        from galileo.lb.server import child_main

        child_main(sys.argv[1:])
    except GalileoError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
