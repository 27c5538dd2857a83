"""Coverage and benchmark pipelines: run a module's tests with the project's interpreter,
measure, record to the ledgers, gate."""
