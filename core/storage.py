from django.core.files.storage import FileSystemStorage, storages
from django.core.signals import setting_changed
from django.utils.functional import LazyObject, empty


class PrivateFileSystemStorage(FileSystemStorage):
    """Local storage for files that must never get a public URL (photo originals)."""

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Private files have no URL; staff views stream them.")


class PrivateStorage(LazyObject):
    """STORAGES["private"], looked up on first use (like Django's default_storage)."""

    def _setup(self) -> None:
        self._wrapped = storages["private"]


private_storage = PrivateStorage()


def _reset_on_settings_change(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        private_storage._wrapped = empty


setting_changed.connect(_reset_on_settings_change)
