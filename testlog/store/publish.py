"""Publishing this clone's chain of the log along with a gated push (the hook's last step),
through the chain push: one line saying what happened, never a failure of the user's push."""
from __future__ import annotations

from gitstore import GitStoreError, full_ref, remote_has_ref

from testlog.config import Setting
from testlog.errors import TestlogError
from testlog.store.chains import push_chain, writer_id
from testlog.store.state import CHAINS_PREFIX, open_log


def publish_along(root: str, common_dir: str, remote: str, branch: str,
                  writer: Setting) -> tuple[str, str]:
    """(status, line): "pushed", "not-on-remote" (the user publishes the chain once, by hand),
    "unknown" (the remote could not be asked) or "failed"."""
    own = writer_id(common_dir, writer)
    ref = CHAINS_PREFIX + own
    has = remote_has_ref(root, remote, ref)
    if has is None:
        return "unknown", (f"could not ask {remote} whether it has {ref}: the ledger commit "
                           f"stays local (`git testlog push {remote}` publishes it)")
    if not has:
        return "not-on-remote", (f"the ledger commit stays local: {remote} has no chain of "
                                 f"writer {own} yet; run `git testlog push {remote}` once, and "
                                 "later gated pushes carry the ledger along")
    try:
        with open_log(root, full_ref(branch), False) as store:
            _status, tip = push_chain(store, remote, own)
    except (GitStoreError, TestlogError) as exc:
        return "failed", (f"could not push the ledger commit along ({exc}); run "
                          f"`git testlog push {remote}`")
    return "pushed", f"pushed {ref} {tip[:10]} to {remote} along with the gated push"
