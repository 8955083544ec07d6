#!/usr/bin/env bash
# Scale the annotators' auto-scaling group on the job queue: target tracking on the messages waiting
# (job requests and shards of split jobs) per in-service annotator. Usage:
#   deploy/autoscaling/apply.sh [ASG_NAME] [QUEUE_NAME]     (defaults: gas-annotators, gas-job-requests)
set -euo pipefail
group="${1:-gas-annotators}"
queue="${2:-gas-job-requests}"
here="$(cd "$(dirname "$0")" && pwd)"
policy="$(sed -e "s/\"gas-annotators\"/\"$group\"/" -e "s/\"gas-job-requests\"/\"$queue\"/" \
  "$here/annotators-target-tracking.json")"
aws autoscaling put-scaling-policy --auto-scaling-group-name "$group" \
  --policy-name gas-annotators-backlog --policy-type TargetTrackingScaling \
  --estimated-instance-warmup 180 --target-tracking-configuration "$policy"
