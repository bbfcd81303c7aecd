"""`python -m sandboxes.bridges.openapi CONFIG.json`: serve one version's tools on stdio."""

import sys

from sandboxes.bridges.openapi.server import main

sys.exit(main(sys.argv[1:]))
