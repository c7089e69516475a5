"""The only modules that talk to AWS or Kubernetes: clients are passed in, errors leave as ferry.domain.errors."""
