"""One file per revision, ``NNNN_slug.py`` with ``revision = "NNNN"``, in order."""
