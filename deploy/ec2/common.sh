#!/usr/bin/env bash
# Shared by the EC2 user-data scripts: install GAS from a release tarball into /opt/gas.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-venv make git awscli
id gas >/dev/null 2>&1 || useradd --system --home /var/lib/gas --shell /usr/sbin/nologin gas
install -d -o gas -g gas /var/lib/gas /var/lib/gas/references
install -d -m 0750 /etc/gas
# GAS_RELEASE_URL points at a tarball of the repository (e.g. in a private S3 bucket);
# the instance role can read it, and /etc/gas/gas.env comes from SSM Parameter Store.
aws s3 cp "${GAS_RELEASE_URL:?}" /tmp/gas.tar.gz
rm -rf /opt/gas && mkdir -p /opt/gas && tar -xzf /tmp/gas.tar.gz -C /opt/gas --strip-components=1
aws ssm get-parameter --with-decryption --name "${GAS_ENV_PARAMETER:-/gas/env}" --query Parameter.Value --output text > /etc/gas/gas.env
chmod 0640 /etc/gas/gas.env && chgrp gas /etc/gas/gas.env
cd /opt/gas && python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt
chown -R gas:gas /opt/gas
cp deploy/systemd/*.service /etc/systemd/system/
systemctl daemon-reload
