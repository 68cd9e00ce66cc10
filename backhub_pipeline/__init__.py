"""backhub-pipeline: daily, encrypted, restorable GitHub backups run on Dagster."""
