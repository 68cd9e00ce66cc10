"""The tamper-evident audit log and the `backhub audit` command."""
