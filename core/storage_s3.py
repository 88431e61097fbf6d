"""S3-compatible object storage for photos (the optional `s3` extra: django-storages).

Switched on by STORAGE_S3_BUCKET and STORAGE_S3_PRIVATE_BUCKET (civicmap/settings.py).
"""

from storages.backends.s3 import S3Storage


class PrivateS3Storage(S3Storage):
    """Photo originals, in a bucket without public read. Like PrivateFileSystemStorage they have
    no URL at all (not even a signed one): staff views stream them (`photo_original`)."""

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        raise NotImplementedError("Private files have no URL; staff views stream them.")
