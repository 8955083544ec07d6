#!/usr/bin/env bash
# EC2 user data for a web instance behind the load balancer (health check: GET /healthz on port 8000).
# Set GAS_RELEASE_URL (tarball of the repository) and GAS_ENV_PARAMETER (SSM parameter with gas.env).
set -euo pipefail
export GAS_RELEASE_URL="s3://example-gas-releases/gas-latest.tar.gz"
export GAS_ENV_PARAMETER="/gas/env"
aws s3 cp "${GAS_RELEASE_URL%/*}/common.sh" /tmp/gas-common.sh
bash /tmp/gas-common.sh
cd /opt/gas
sudo -u gas bash -c 'set -a; . /etc/gas/gas.env; set +a; .venv/bin/python manage.py migrate --noinput && .venv/bin/python manage.py collectstatic --noinput'
systemctl enable --now gas-web.service
