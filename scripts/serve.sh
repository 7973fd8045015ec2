#!/usr/bin/env bash
# Run the background-task worker beside the development server; stop both together.
set -euo pipefail
cd "$(dirname "$0")/.."
host=${1:-127.0.0.1}; port=${2:-8000}
.venv/bin/python manage.py db_worker --interval 0.5 &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
# --insecure serves static files with DEBUG off, so people see the Chinese error pages, not Django's.
.venv/bin/python manage.py runserver --noreload --insecure "$host:$port"
