import sys

from labelapp.cli import main

sys.exit(main())
