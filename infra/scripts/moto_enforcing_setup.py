"""Prepares the second emulator, the one that enforces IAM: creates the broker's user (allowed
everything, as Stint's functions are within their own roles) with access keys, then turns
enforcement on. From then on every call must be signed by a known key and is checked against
its identity's policies (actions and explicit denies for every service; resources for IAM, SQS
and STS). Prints the broker's key id and secret on two lines."""
import sys
import urllib.request

import boto3

endpoint = sys.argv[1]
iam = boto3.client(
    "iam",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
iam.create_user(UserName="stint-broker")
iam.put_user_policy(
    UserName="stint-broker",
    PolicyName="broker",
    PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
)
key = iam.create_access_key(UserName="stint-broker")["AccessKey"]
req = urllib.request.Request(
    f"{endpoint}/moto-api/reset-auth",
    data=b"0",
    method="POST",
    # A form content type would hide the body from moto.
    headers={"Content-Type": "text/plain"},
)
urllib.request.urlopen(req, timeout=10).read()
print(key["AccessKeyId"])
print(key["SecretAccessKey"])
