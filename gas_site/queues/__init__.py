"""Queues by alias: ``queues["jobs"].send({...})``. Configured by ``settings.GAS_QUEUES``."""

from gas_site.backends import BackendHandler
from gas_site.queues.base import Message, Queue, QueueDepth, QueueError

queues: BackendHandler[Queue] = BackendHandler("GAS_QUEUES")

__all__ = ["Message", "Queue", "QueueDepth", "QueueError", "queues"]
