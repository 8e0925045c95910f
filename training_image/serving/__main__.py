"""``python -m training_image.serving``: what the image's ``serve`` executable runs."""

import sys

from training_image.serving.server import main

sys.exit(main())
