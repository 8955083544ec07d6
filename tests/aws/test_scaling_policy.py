"""deploy/autoscaling (issue 32, item 2): the annotators' target-tracking policy is a valid API input
(botocore checks its shape; moto stores it) and tracks the job queue GAS names, per annotator."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "deploy" / "autoscaling" / "annotators-target-tracking.json"


def test_the_policy_tracks_the_job_queue_per_annotator():
    import gas_site.settings as live  # (the module's own values: the default queue names)

    policy = json.loads(POLICY.read_text())
    metrics = {metric["Id"]: metric for metric in policy["CustomizedMetricSpecification"]["Metrics"]}
    queue = metrics["visible"]["MetricStat"]["Metric"]
    assert queue["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": live.GAS_QUEUES["jobs"]["NAME"]}]
    assert metrics["annotators"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"
    returned = [metric for metric in metrics.values() if metric["ReturnData"]]
    assert [m["Expression"] for m in returned] == ["visible / IF(annotators > 0, annotators, 1)"]
    script = (ROOT / "deploy" / "autoscaling" / "apply.sh").read_text()
    assert "--policy-type TargetTrackingScaling" in script and POLICY.name in script


@mock_aws
def test_the_policy_is_accepted_by_the_autoscaling_api():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    template = ec2.create_launch_template(
        LaunchTemplateName="gas-annotator", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "c7i.large"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="gas-annotators", MinSize=1, MaxSize=10, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
    )  # fmt: skip
    autoscaling.put_scaling_policy(
        AutoScalingGroupName="gas-annotators", PolicyName="gas-annotators-backlog",
        PolicyType="TargetTrackingScaling", EstimatedInstanceWarmup=180,
        TargetTrackingConfiguration=json.loads(POLICY.read_text()),
    )  # fmt: skip
    stored = autoscaling.describe_policies(AutoScalingGroupName="gas-annotators")["ScalingPolicies"]
    assert [p["PolicyType"] for p in stored] == ["TargetTrackingScaling"]
    assert stored[0]["TargetTrackingConfiguration"]["TargetValue"] == 1.0
