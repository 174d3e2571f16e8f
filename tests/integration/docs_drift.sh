#!/usr/bin/env bash
# The contracts in docs/ against the code: message types, routes, error codes and log events.
set -u
cd "$(dirname "$0")/../.."
exec python3 tests/docs/drift.py
