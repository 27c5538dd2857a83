"""Base commits checked out into folders of their own under the invocation's scratch space
(never the user's tree): one per commit, shared by every module measured there."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from gitstore import GitStoreError, checkout_tree, source_tree

from testlog.gates.workspace import Workspace


@dataclass
class Checkouts:
    ws: Workspace
    done: dict[str, str | GitStoreError] = field(default_factory=dict)

    def folder(self, commit: str) -> str:
        """The whole tree of `commit` (a module's tests may import anything of the repository);
        raises GitStoreError saying why it cannot be checked out."""
        if commit not in self.done:
            dest = os.path.join(self.ws.scratch, f"base-{commit[:12]}")
            try:
                tree, _ = source_tree(self.ws.common_dir, commit, None)
                checkout_tree(self.ws.common_dir, tree, dest)
                self.done[commit] = dest
            except GitStoreError as exc:
                self.done[commit] = exc
        found = self.done[commit]
        if isinstance(found, GitStoreError):
            raise found
        return found
