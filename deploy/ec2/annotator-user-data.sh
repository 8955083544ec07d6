#!/usr/bin/env bash
# EC2 user data for an annotator instance, in an auto-scaling group sized on the job queue depth.
set -euo pipefail
export GAS_RELEASE_URL="s3://example-gas-releases/gas-latest.tar.gz"
export GAS_ENV_PARAMETER="/gas/env"
export GAS_REFERENCES_URL="s3://example-gas-releases/references/"
export GAS_ARCHIVE_WORKERS="no"   # "yes" on the one small instance that also runs the cold storage workers
aws s3 cp "${GAS_RELEASE_URL%/*}/common.sh" /tmp/gas-common.sh
bash /tmp/gas-common.sh
aws s3 sync "$GAS_REFERENCES_URL" /var/lib/gas/references   # bundles built once with `manage.py reference import`
chown -R gas:gas /var/lib/gas/references
systemctl enable --now gas-worker@run_annotator.service
if [ "$GAS_ARCHIVE_WORKERS" = "yes" ]; then
  systemctl enable --now gas-worker@archive_worker.service gas-worker@restore_worker.service gas-worker@thaw_worker.service
fi
