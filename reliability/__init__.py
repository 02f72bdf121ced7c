"""The reliability suite of issue 11 (`make reliability`, `python -m reliability`): hostile input next to good
neighbours, overload, faults, soak and a privacy canary, against the real TorchServe; writes
docs/reports/reliability.md.

Modules by concern: `catalog*` (the bad inputs), `traffic` (valid requests in every format), `http` (a raw
client), `served` and `entrypoint` (the servers under test), `neighbours`, `overload`, `faults`, `drain`,
`soak`, `canary` (the measurements), `verdicts` (what must hold), `results` and `report` (records and report).
"""
