"""Ferry's services: the orchestration behind each Lambda function.

A service reads the world through the adapters, asks the domain for a decision, and hands that decision to
the executor. It never changes the world itself and never reads the mode or a dry-run flag: that is the
executor's alone. Handlers import from here (and Powertools), nothing else.
"""
