"""Cold storage by alias: ``cold_storages["default"]``. Configured by ``settings.GAS_COLD_STORAGE``."""

from gas_site.backends import BackendHandler
from gas_site.coldstorage.base import (
    EXPEDITED,
    STANDARD,
    ArchiveNotFound,
    ColdObject,
    ColdStorage,
    ColdStorageError,
    RestoreNotReady,
    RestoreState,
    RestoreStatus,
    RestoreTicket,
)

cold_storages: BackendHandler[ColdStorage] = BackendHandler("GAS_COLD_STORAGE")


def cold_storage() -> ColdStorage:
    return cold_storages["default"]


__all__ = [
    "EXPEDITED",
    "STANDARD",
    "ArchiveNotFound",
    "ColdObject",
    "ColdStorage",
    "ColdStorageError",
    "RestoreNotReady",
    "RestoreState",
    "RestoreStatus",
    "RestoreTicket",
    "cold_storage",
    "cold_storages",
]
