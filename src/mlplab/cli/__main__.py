import sys

from mlplab.cli.main import main

sys.exit(main())
