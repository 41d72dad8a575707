import sys

from relieflink.cli import main

sys.exit(main())
