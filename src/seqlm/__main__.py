import sys

from seqlm.cli import main

if __name__ == "__main__":  # not when a spawned worker process (seqlm bottleneck --jobs) imports it
    sys.exit(main())
