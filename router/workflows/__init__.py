"""Durable workflows (sagas): the ``kind: workflow`` file (``kind``, ``spec``, ``check``), the
orchestrator actor and its service, instance state and the views the admin API and CLI show."""
