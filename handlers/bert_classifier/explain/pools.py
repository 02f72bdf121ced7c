"""Which worker pools explain: the `explanations` setting (`off`, `own_pool`, `shared`) and the pool's model name."""

from __future__ import annotations

from ..errors import Forbidden
from ..settings import EXPLAIN_POOL_SUFFIX


def check_explanations_allowed(mode: str, model_name: str) -> None:
    """Raise `Forbidden` (403) naming the setting unless the pool serving `model_name` explains under `mode`."""
    if mode == "shared" or (mode == "own_pool" and model_name.endswith(EXPLAIN_POOL_SUFFIX)):
        return
    if mode == "own_pool":
        pool = (
            f"the model {model_name + EXPLAIN_POOL_SUFFIX!r}" if model_name else f"a model named *{EXPLAIN_POOL_SUFFIX}"
        )
        raise Forbidden(
            f"explanations run on their own worker pool (setting explanations=own_pool): send them to {pool}; "
            "this pool only predicts"
        )
    raise Forbidden(f"explanations are off on this server (setting explanations={mode})")
