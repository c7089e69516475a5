"""Ferry's decisions: pure functions over frozen dataclasses.

Data in, decisions out. Nothing here reads a clock, the environment or a network, logs, or imports an SDK:
the caller passes the time and the facts, and gets back a Signal, a verdict, a plan or a report. That is what
makes every decision testable with a table and a hypothesis property (import-linter contract `pure-domain`).
"""
