"""What ibtui keeps on the user's machine: where (``paths``), how (``files``: atomic 0600 writes,
ssh-style permission checks, append-only lines), the UI's state between runs (``state``) and the
OAuth key files the settings name (``credentials``)."""
