"""Publishing the log branch along with a gated push (the hook's last step), through the
storage layer's push: one line saying what happened, never a failure of the user's push."""
from __future__ import annotations

import gitstore
from gitstore import GitStoreError, full_ref, remote_has_ref

from testlog.store.state import open_log


def publish_along(root: str, remote: str, branch: str, sign_key: str | None) -> tuple[str, str]:
    """(status, line): "pushed", "not-on-remote" (the user publishes the log once, by hand),
    "unknown" (the remote could not be asked) or "failed"."""
    ref = full_ref(branch)
    has = remote_has_ref(root, remote, ref)
    if has is None:
        return "unknown", (f"could not ask {remote} whether it has {ref}: the ledger commit "
                           f"stays local (`git testlog push {remote}` publishes it)")
    if not has:
        return "not-on-remote", (f"the ledger commit stays local: {remote} has no {ref}; run "
                                 f"`git testlog push {remote}` once, and later gated pushes "
                                 "carry the ledger along")
    from testlog.store.events import refuse_rebuilding_epoch  # loads the storage layer
    try:
        with open_log(root, ref, sign_key) as store:
            result = gitstore.push(store, remote, guard=refuse_rebuilding_epoch)
    except GitStoreError as exc:
        return "failed", (f"could not push the ledger commit along ({exc}); run "
                          f"`git testlog push {remote}`")
    return "pushed", f"pushed {ref} {result.tip[:10]} to {remote} along with the gated push"
