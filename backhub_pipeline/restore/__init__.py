"""Reading committed snapshots back: list and verify them, restore them to a folder or to GitHub.

The domain modules (``snapshot``, ``listing``, ``verify``, ``to_folder``, ``to_github``) take plain
clients; ``jobs`` is the Dagster glue that runs verify and restore from the UI.
"""
